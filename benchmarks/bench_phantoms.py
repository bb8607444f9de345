"""Phantom generation throughput (anatomy, masks and B-mode images).

    PYTHONPATH=python .venv/bin/python -m pytest benchmarks/bench_phantoms.py \
        --benchmark-json benchmarks/results/phantoms.json

Each case records ``phantoms_per_s`` (from the median round) and the load
average, because the machine is shared. The peer is the same generator run
one phantom at a time (``BLOCK = 1``, the loop a non-vectorised generator
would run), measured in the same session: ``speedup_vs_one_at_a_time``.
"""
import os
import time

import numpy as np
import pytest

from latentmine.phantoms import cohort as cohort_module
from latentmine.phantoms import generate

_per_phantom = {}
# (size, phantoms per round): the 1,200 x 128^2 case is the target (<= ~10 s).
CASES = [(64, 1200), (128, 1200), (256, 300)]


def _record(benchmark, size, n, **extra):
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(size=size, n=n, phantoms_per_s=n / median, seconds_per_round=median,
                                loadavg=os.getloadavg(), cpu_count=os.cpu_count(), **extra)


@pytest.mark.benchmark(group="phantoms-one-at-a-time")
def test_one_at_a_time_peer(benchmark, monkeypatch):
    monkeypatch.setattr(cohort_module, "BLOCK", 1)
    n = 64
    cohort = benchmark.pedantic(generate, args=(n,), kwargs={"size": 128, "seed": 0}, rounds=3, iterations=1)
    assert cohort.images.shape == (n, 128, 128)
    _per_phantom["one_at_a_time_128"] = benchmark.stats.stats.median / n
    _record(benchmark, 128, n)


@pytest.mark.benchmark(group="phantoms-vectorised")
@pytest.mark.parametrize("size, n", CASES)
def test_generate(benchmark, size, n):
    cpu = {}

    def run():
        start = time.process_time()
        cohort = generate(n, size=size, seed=0)
        cpu.setdefault("seconds", []).append(time.process_time() - start)
        return cohort

    cohort = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
    assert cohort.images.shape == (n, size, size) and np.isfinite(cohort.images).all()
    extra = {"cpu_seconds_median": float(np.median(cpu["seconds"]))}
    peer = _per_phantom.get(f"one_at_a_time_{size}")
    if peer is not None:
        extra["speedup_vs_one_at_a_time"] = peer / (benchmark.stats.stats.median / n)
    _record(benchmark, size, n, **extra)
