"""Labelling and study cells on a real Dask LocalCluster (2 worker processes on loopback)."""
import argparse
import os
import time

import numpy as np
import pytest
from distributed import get_worker

from latentmine import phantoms
from latentmine.backend import core
from latentmine.fea import Labeller
from latentmine.parallel import (add_executor_arguments, executor_from_args, label_many, threads_per_task,
                                 usable_cpus)
from latentmine.parallel.dask_executor import DaskExecutor, _end_worker_process, connect
from latentmine.parallel.labelling import label_chunk
from latentmine.parallel.threads import cap_for_host
from latentmine.storage import atomic_write_json
from latentmine.study import SerialExecutor, preset, run_study
from latentmine.study.runner import cell_path, cohort_marker
from parallel_toys import ToyLabeller, toy_masks, toy_stress


@pytest.fixture(scope="module")
def started_cluster():
    parser = add_executor_arguments(argparse.ArgumentParser())
    with executor_from_args(parser.parse_args(["--scheduler", "local", "--workers", "2"])) as executor:
        assert isinstance(executor, DaskExecutor)
        yield executor
    assert executor.client.status == "closed"


@pytest.fixture
def cluster(started_cluster):
    """The cluster with both workers up (a test may have had one restarted)."""
    started_cluster.client.wait_for_workers(2, timeout=60)
    return started_cluster


def test_labels_equal_the_serial_labels_and_use_every_worker(cluster):
    masks = toy_masks(30)
    batch = label_many(masks, ToyLabeller(delay=0.02), executor=cluster, chunk_size=3, progress=False)
    np.testing.assert_array_equal(batch.stress, toy_stress(masks))
    assert batch.status.tolist() == ["ok"] * 30 and batch.attempts.tolist() == [1] * 30
    assert len({worker.split("/")[1] for worker in batch.workers}) == 2
    assert {worker.split("/")[0] for worker in batch.workers} == {"127.0.0.1"}


def test_a_worker_killed_mid_batch_loses_nothing(cluster, tmp_path):
    masks = toy_masks(24)
    labeller = ToyLabeller("exit-once", victims={3, 17}, marker_dir=tmp_path, delay=0.01)
    batch = label_many(masks, labeller, executor=cluster, chunk_size=4, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exit-once-17", "exit-once-3"]  # both died
    np.testing.assert_array_equal(batch.stress, toy_stress(masks))
    assert batch.status.tolist() == ["ok"] * 24 and batch.reasons == [""] * 24
    assert batch.attempts[3] >= 2 and batch.attempts[17] >= 2


def test_a_sample_that_always_raises_is_isolated_and_recorded(cluster):
    masks = toy_masks(16)
    batch = label_many(masks, ToyLabeller("raise", victims={9}), executor=cluster, chunk_size=8,
                       retries=1, progress=False)
    assert batch.failed.tolist() == [9]
    assert batch.reasons[9] == "ValueError: sample 9 is poison"
    # 8 -> 4 -> 2 -> 1 by halving, then once alone plus one retry
    assert batch.attempts[9] == 5 and batch.attempts[0] == 1
    keep = np.arange(16) != 9
    np.testing.assert_array_equal(batch.stress[keep], toy_stress(masks)[keep])
    assert np.isnan(batch.stress[9]).all()


def test_a_hung_chunk_times_out_and_its_worker_is_restarted(cluster, tmp_path):
    masks = toy_masks(8)
    labeller = ToyLabeller("hang-once", victims={5}, marker_dir=tmp_path, hang=120)
    start = time.monotonic()
    batch = label_many(masks, labeller, executor=cluster, chunk_size=4, timeout=3, progress=False)
    assert time.monotonic() - start < 60  # not the 120 s the hung call would take
    np.testing.assert_array_equal(batch.stress, toy_stress(masks))
    assert batch.status.tolist() == ["ok"] * 8
    assert (tmp_path / "hang-once-5").exists() and batch.attempts[5] >= 2  # it hung, then was re-run


def probe_threads(slots):
    cap_for_host(slots)
    return core().openmp_max_threads()


def test_worker_threads_are_capped_by_the_tasks_on_their_host(cluster):
    slots = cluster.slots_by_host()
    assert slots == {"127.0.0.1": 2}
    assert cluster.submit(probe_threads, slots).result() == threads_per_task(2)
    assert cluster.submit(probe_threads, {"127.0.0.1": 1}).result() == usable_cpus()


def allocator_and_tick():
    import dask
    from latentmine.parallel import allocator
    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), allocator._applied, dask.config.get("distributed.admin.tick.interval")


def test_labelling_workers_reuse_freed_memory_and_tick_slowly(cluster):
    """The nanny starts workers with a 64 KiB trim threshold; a labelling chunk undoes it (docs/scale-out.md).

    The cluster's settings survive a worker that its nanny restarts.
    """
    restarted = list(cluster.client.scheduler_info(n_workers=-1)["workers"])[0]
    cluster.client.run(_end_worker_process, workers=[restarted], wait=False)
    deadline = time.monotonic() + 60
    while restarted in cluster.client.scheduler_info(n_workers=-1)["workers"] and time.monotonic() < deadline:
        time.sleep(0.2)
    cluster.client.wait_for_workers(2, timeout=60)
    workers = list(cluster.client.scheduler_info(n_workers=-1)["workers"])
    assert restarted not in workers
    chunks = [cluster.client.submit(label_chunk, ToyLabeller(), toy_masks(2), cluster.slots_by_host(), 1, os.getpid(),
                                    workers=[address], pure=False) for address in workers]
    cluster.client.gather(chunks)
    states = cluster.client.run(allocator_and_tick, workers=workers)
    assert sorted(states.values()) == [("65536", True, "500ms")] * 2


def where_prepare(config, cohort, out):
    atomic_write_json(cohort_marker(out, cohort), {"config_digest": config.digest()})


def where_cell(config, strategy, repeat, out):
    """A cell that records which worker ran it."""
    time.sleep(0.3)
    try:
        address = get_worker().address
    except ValueError:
        address = "serial"
    atomic_write_json(cell_path(out, strategy, repeat), {
        "config_digest": config.digest(), "strategy": strategy, "repeat": repeat,
        "value": 10 * repeat + len(strategy), "worker": address, "pid": os.getpid()})


def test_study_cells_are_spread_over_the_workers(cluster, tmp_path):
    config = preset("smoke").with_overrides({"repeats": "3"})
    cells = run_study(config, tmp_path / "dask", cell_fn=where_cell, prepare_fn=where_prepare,
                      executor=cluster, progress=False)
    serial = run_study(config, tmp_path / "serial", cell_fn=where_cell, prepare_fn=where_prepare,
                       executor=SerialExecutor(), progress=False)
    assert len(cells) == len(config.cells()) == 6
    assert len({cell["worker"] for cell in cells}) == 2
    assert len({cell["pid"] for cell in cells}) == 2 and os.getpid() not in {c["pid"] for c in cells}
    assert [c["value"] for c in cells] == [c["value"] for c in serial]


def test_the_finite_element_labeller_gives_the_serial_labels_on_the_cluster(cluster):
    cohort = phantoms.generate(4, size=64, seed=5)
    # The direct solver is bitwise reproducible; the AMG path is not even within one process
    # (pyamg draws its spectral-radius estimate from NumPy's global random state).
    labeller = Labeller(pixel_size_mm=cohort.pixel_size_mm, method="direct")
    serial = labeller(cohort.masks)
    batch = label_many(cohort.masks, labeller, executor=cluster, chunk_size=1, progress=False)
    assert batch.status.tolist() == ["ok"] * 4
    np.testing.assert_array_equal(batch.stress, serial)
    np.testing.assert_array_equal(batch.seconds > 0, True)  # the solver's own timings came back
    assert serial.max() > 10.0  # kPa: real stresses, not an empty field


def test_an_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ValueError, match="could not reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        with connect("tcp://127.0.0.1:9", timeout=1):
            pass
