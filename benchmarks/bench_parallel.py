"""Labelling throughput: Dask LocalClusters of 1, 2 and 4 workers against one process, same run.

    .venv/bin/python -m pytest benchmarks/bench_parallel.py --benchmark-json benchmarks/results/parallel.json

(with a development build, ``PYTHONPATH=python`` in front measures the working tree).

Every test labels the same 32 phantom masks of 256x256 with the finite-element
labeller (``LATENTMINE_BENCH_MASKS`` / ``LATENTMINE_BENCH_ROUNDS`` change the
count and the timed rounds). ``single-process`` calls the labeller directly (its native code may
use every core); the Dask tests go through :func:`latentmine.parallel.label_many`
on a fresh ``LocalCluster`` (one thread per worker process, each capped to its
share of the cores, started and warmed up before timing; default chunks, about
four per worker).  Each Dask test
records ``speedup_vs_single_process`` (single-process median / its median);
``pool-2`` is the default executor (a two-process :class:`LocalProcessPool`).
The ``cohort-128`` case labels ``LATENTMINE_BENCH_COHORT`` (1,200) phantoms
of 128x128 on 2 Dask workers, one timed round, and records whether it met its
30 s target (``meets_target``).

The machine is shared, so each test also records the load averages and
``cores_obtained``: the CPU seconds our processes got (this process, or the
sum over the worker processes) divided by the wall time of the timed rounds.
A speed-up can never exceed the ratio of the cores obtained; with Linux's
session autogroups, a session gets its share of the cores however many
processes it starts.
"""
import os
import time

import numpy as np
import pytest

from cpu_accounting import process_cpu_seconds
from latentmine import phantoms
from latentmine.backend import core
from latentmine.fea import Labeller
from latentmine.parallel import LocalProcessPool, label_many, threads_per_task, usable_cpus
from latentmine.parallel.dask_executor import local_cluster

SIZE = 256
N_MASKS = int(os.environ.get("LATENTMINE_BENCH_MASKS", "32"))
ROUNDS = int(os.environ.get("LATENTMINE_BENCH_ROUNDS", "3"))
#: The cohort case: frames of 128x128 labelled on 2 Dask workers, one timed round, against a 30 s target.
COHORT_FRAMES = int(os.environ.get("LATENTMINE_BENCH_COHORT", "1200"))
COHORT_SIZE, COHORT_TARGET_S = 128, 30.0
_medians, _reference = {}, {}


@pytest.fixture(scope="module")
def cohort():
    return phantoms.generate(N_MASKS, size=SIZE, seed=0)


@pytest.fixture(scope="module")
def labeller(cohort):
    return Labeller(pixel_size_mm=cohort.pixel_size_mm)


def _record(benchmark, name, *, cores_obtained, **info):
    _medians[name] = benchmark.stats.stats.median
    benchmark.extra_info.update(
        masks=N_MASKS, size=SIZE, usable_cpus=usable_cpus(), loadavg_after=os.getloadavg(),
        seconds_per_mask=_medians[name] / N_MASKS, cores_obtained=cores_obtained,
        cpu_seconds_per_mask=cores_obtained * benchmark.stats.stats.mean / N_MASKS, **info)
    if name != "single-process" and "single-process" in _medians:
        benchmark.extra_info["speedup_vs_single_process"] = _medians["single-process"] / _medians[name]


def _cores_obtained(cpu_seconds, benchmark):
    return cpu_seconds / (benchmark.stats.stats.mean * benchmark.stats.stats.rounds)


@pytest.mark.benchmark(group=f"labelling-{SIZE}")
def test_single_process(benchmark, cohort, labeller):
    labeller(cohort.masks[:1])  # warm up outside the CPU accounting
    load, cpu = os.getloadavg(), time.process_time()
    stress = benchmark.pedantic(labeller, args=(cohort.masks,), rounds=ROUNDS)
    _reference["stress"] = stress
    _record(benchmark, "single-process", loadavg_before=load, openmp_threads=core().openmp_max_threads(),
            cores_obtained=_cores_obtained(time.process_time() - cpu, benchmark))


def _bench_executor(benchmark, cohort, labeller, executor, name, **info):
    """Time ``label_many`` on ``executor`` and account the CPU its worker processes got."""
    def run():
        return label_many(cohort.masks, labeller, executor=executor, progress=False)

    pids = {int(worker.rsplit("/", 1)[1]) for worker in run().workers}  # warm-up: workers started
    load, cpu = os.getloadavg(), process_cpu_seconds(pids)
    batch = benchmark.pedantic(run, rounds=ROUNDS)
    used = process_cpu_seconds(pids) - cpu
    assert batch.status.tolist() == ["ok"] * N_MASKS, batch.reasons
    reference = _reference.get("stress", batch.stress)
    difference = float(np.abs(batch.stress - reference).max())  # the solver's tolerance, not zero
    assert difference <= 1e-3 * float(np.abs(reference).max()), difference
    _record(benchmark, name, loadavg_before=load, max_abs_difference_kpa=difference,
            distinct_worker_processes=len(set(batch.workers)), cores_obtained=_cores_obtained(used, benchmark),
            **info)


@pytest.mark.benchmark(group=f"labelling-{SIZE}")
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_dask_local_cluster(benchmark, cohort, labeller, workers):
    with local_cluster(workers) as executor:
        _bench_executor(benchmark, cohort, labeller, executor, f"dask-{workers}", workers=workers,
                        threads_per_worker=threads_per_task(workers))


@pytest.mark.benchmark(group=f"labelling-{SIZE}")
def test_local_process_pool(benchmark, cohort, labeller):
    with LocalProcessPool(2) as pool:
        _bench_executor(benchmark, cohort, labeller, pool, "pool-2", workers=2,
                        threads_per_worker=threads_per_task(2))


@pytest.mark.benchmark(group=f"cohort-{COHORT_SIZE}")
def test_cohort_on_two_dask_workers(benchmark):
    """``COHORT_FRAMES`` phantoms at 128x128, as ``latentmine phantoms --label`` makes them, on 2 Dask workers."""
    frames = phantoms.generate(COHORT_FRAMES, size=COHORT_SIZE, seed=0)
    labeller = Labeller(pixel_size_mm=frames.pixel_size_mm)

    def run():
        return label_many(frames.masks, labeller, executor=executor, progress=False)

    with local_cluster(2) as executor:
        warm = label_many(frames.masks[:8], labeller, executor=executor, progress=False)
        pids = {int(worker.rsplit("/", 1)[1]) for worker in warm.workers}
        load, cpu = os.getloadavg(), process_cpu_seconds(pids)
        batch = benchmark.pedantic(run, rounds=1)
        used = process_cpu_seconds(pids) - cpu
    assert batch.status.tolist() == ["ok"] * COHORT_FRAMES, batch.reasons
    seconds = benchmark.stats.stats.median
    benchmark.extra_info.update(
        frames=COHORT_FRAMES, size=COHORT_SIZE, workers=2, usable_cpus=usable_cpus(), loadavg_before=load,
        loadavg_after=os.getloadavg(), seconds=seconds, target_seconds=COHORT_TARGET_S,
        meets_target=bool(seconds <= COHORT_TARGET_S), seconds_per_mask=seconds / COHORT_FRAMES,
        cores_obtained=used / seconds, cpu_seconds_per_mask=used / COHORT_FRAMES,
        distinct_worker_processes=len(set(batch.workers)))
