"""Phantom generation throughput (anatomy, masks and B-mode images).

    PYTHONPATH=python .venv/bin/python -m pytest benchmarks/bench_phantoms.py \
        --benchmark-json benchmarks/results/phantoms.json

Each case records ``phantoms_per_s`` (from the median wall-clock round), the
median CPU seconds of a round and the load average: the machine is shared,
so wall time swings with everybody else's work while CPU time does not. The
peer is the same generator run one phantom at a time (``BLOCK = 1``, the loop
a non-vectorised generator would run), measured in the same session;
``cpu_speedup_vs_one_at_a_time`` compares CPU time per phantom.
"""
import os
import time

import numpy as np
import pytest

from latentmine.phantoms import cohort as cohort_module
from latentmine.phantoms import generate

_cpu_per_phantom = {}
# (size, phantoms per round): the 1,200 x 128^2 case is the target (<= ~10 s).
CASES = [(64, 1200), (128, 1200), (256, 300)]


def _bench(benchmark, size, n, rounds=3):
    cpu = []

    def run():
        start = time.process_time()
        cohort = generate(n, size=size, seed=0)
        cpu.append(time.process_time() - start)
        return cohort

    cohort = benchmark.pedantic(run, rounds=rounds, iterations=1)
    assert cohort.images.shape == (n, size, size) and np.isfinite(cohort.images).all()
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(size=size, n=n, phantoms_per_s=n / median, seconds_per_round=median,
                                cpu_seconds_median=float(np.median(cpu)), loadavg=os.getloadavg(),
                                cpu_count=os.cpu_count())
    return float(np.median(cpu)) / n


@pytest.mark.benchmark(group="phantoms-one-at-a-time")
def test_one_at_a_time_peer(benchmark, monkeypatch):
    monkeypatch.setattr(cohort_module, "BLOCK", 1)
    _cpu_per_phantom[128] = _bench(benchmark, 128, 128)


@pytest.mark.benchmark(group="phantoms-vectorised")
@pytest.mark.parametrize("size, n", CASES)
def test_generate(benchmark, size, n):
    cpu = _bench(benchmark, size, n)
    if size in _cpu_per_phantom:
        benchmark.extra_info["cpu_speedup_vs_one_at_a_time"] = _cpu_per_phantom[size] / cpu
