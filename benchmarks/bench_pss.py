"""Cost of the PSS recovery against the label it is recovered from, in the same run.

    PYTHONPATH=python .venv/bin/python -m pytest benchmarks/bench_pss.py \
        --benchmark-json benchmarks/results/pss.json

On the example plaque (:func:`latentmine.fea.examples.plaque_mask`, 256², 28k
wall pixels):

* ``label`` = ``latentmine.fea.solve`` of the mask with its defaults (solve,
  stress recovery and PSS);
* ``pss`` = :func:`latentmine.fea.plaque_structural_stress` of the label's own
  maximum principal map.

Group ``pss-256-wall`` times them by the wall clock, group ``pss-256-cpu`` by
the process's CPU time (``time.process_time``): on the shared machine the wall
clock of a 10 ms call is mostly waiting for a core. Same warm-up and rounds for
all; compare medians from one run. Target: the PSS costs at most 5% of the
label. ``extra_info`` holds ``os.getloadavg()`` and the rule the PSS took.
"""
import os
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from latentmine.fea import plaque_structural_stress, solve
from latentmine.fea.examples import plaque_mask

PIXEL_MM = 0.031
ROUNDS = 9


@pytest.fixture(scope="module")
def plaque():
    mask = plaque_mask(256)
    return mask, solve(mask, pixel_size_mm=PIXEL_MM)


def _label(benchmark, plaque):
    mask, _ = plaque
    with threadpool_limits(limits=1, user_api="blas"):
        result = benchmark.pedantic(solve, args=(mask,), kwargs={"pixel_size_mm": PIXEL_MM}, rounds=ROUNDS,
                                    warmup_rounds=1)
    benchmark.extra_info.update(loadavg=os.getloadavg(), rule=str(result.pss_rule[0]))


def _pss(benchmark, plaque):
    mask, result = plaque
    principal = np.nan_to_num(result.max_principal[0], nan=0.0)
    with threadpool_limits(limits=1, user_api="blas"):
        value = benchmark.pedantic(plaque_structural_stress, args=(principal, mask, PIXEL_MM), rounds=ROUNDS,
                                   warmup_rounds=1)
    assert value == pytest.approx(result.pss[0])
    benchmark.extra_info.update(loadavg=os.getloadavg(), rule=str(result.pss_rule[0]))


@pytest.mark.benchmark(group="pss-256-wall")
def test_label_wall(benchmark, plaque):
    _label(benchmark, plaque)


@pytest.mark.benchmark(group="pss-256-wall")
def test_pss_wall(benchmark, plaque):
    _pss(benchmark, plaque)


@pytest.mark.benchmark(group="pss-256-cpu", timer=time.process_time)
def test_label_cpu(benchmark, plaque):
    _label(benchmark, plaque)


@pytest.mark.benchmark(group="pss-256-cpu", timer=time.process_time)
def test_pss_cpu(benchmark, plaque):
    _pss(benchmark, plaque)
