"""Time of one suggestive-labelling round, stage by stage, at 64^2 and 128^2 with k = 32.

    PYTHONPATH=python .venv/bin/python -m pytest benchmarks/bench_round.py \
        --benchmark-json benchmarks/results/round.json

A round of the ``gradient`` strategy: encode k labelled seeds (E), the latent
gradient of F's loss (backward through F and G), the normalised step
(``latentmine.ops.latent_step``), decode (G), the validity gate, the FE
labelling tool (on k real phantom masks, so every solve is a real plaque), and
one epoch's worth of F steps on the 2k labelled samples (4 steps of batch 16
with D4 augmentation; width 16, 3 levels).
``extra_info`` holds the median seconds of each stage; the benchmark value is
the whole round. The generator is an untrained VAE: its cost does not depend
on its weights. The machine is shared: ``loadavg`` is recorded.
"""
import os
from time import perf_counter

import numpy as np
import pytest
import torch

from latentmine.fea import Labeller
from latentmine.loop import LoopConfig, gate
from latentmine.models import VAE, FitRecipe, StressUNet, WeightedMSE, fit_target
from latentmine.ops import latent_step
from latentmine.phantoms import generate
from latentmine.sampling import Context, latent_gradient

K, THREADS = 32, 2


def _setup(size):
    torch.manual_seed(0)
    cohort = generate(2 * K, size=size, seed=0)
    labeller = Labeller(cohort.pixel_size_mm)
    labels = np.asarray(labeller(cohort.masks[:K]), np.float32)
    config = LoopConfig(width=16, levels=3)
    ctx = Context(VAE(size, latent_dim=32).eval().requires_grad_(False), StressUNet("image", 16, 3), WeightedMSE(),
                  config.label_scale, cohort.images, cohort.masks, cohort.ids, np.ones(2 * K, bool),
                  cohort.images[:K], cohort.masks[:K], labels, cohort.ids[:K], config)
    return ctx, cohort, labeller, labels


def _round(ctx, cohort, labeller, labels, times):
    def stage(name, fn):
        start = perf_counter()
        out = fn()
        times.setdefault(name, []).append(perf_counter() - start)
        return out

    images = torch.from_numpy(ctx.train_images)
    masks = torch.from_numpy(ctx.train_masks.astype(np.int64))
    with torch.no_grad():
        z = stage("encode", lambda: ctx.generator.encode(images, masks)[0])
    grad = stage("gradient", lambda: latent_gradient(ctx, z, torch.from_numpy(labels) / ctx.label_scale, masks))
    z1 = stage("step", lambda: latent_step(z, grad, 0.5))
    with torch.no_grad():
        decoded = stage("decode", lambda: ctx.generator.decode(z1)[1].argmax(1).to(torch.uint8).numpy())
    stage("gate", lambda: gate(decoded))
    fresh = stage("label", lambda: labeller(cohort.masks[K:]))
    stage("train", lambda: fit_target(ctx.target, cohort.images, cohort.masks, np.concatenate([labels, fresh]),
                                      recipe=FitRecipe(max_steps=4, batch_size=16, lr=1e-3), seed=0))


@pytest.mark.parametrize("size", [64, 128])
@pytest.mark.benchmark(group="round-k32")
def test_round(benchmark, size):
    torch.set_num_threads(THREADS)
    ctx, cohort, labeller, labels = _setup(size)
    times = {}
    benchmark.pedantic(_round, args=(ctx, cohort, labeller, labels, times), rounds=3, iterations=1,
                       warmup_rounds=1)
    medians = {name: float(np.median(values[1:])) for name, values in times.items()}  # warm-up dropped
    benchmark.extra_info.update(size=size, k=K, torch_threads=THREADS, loadavg=os.getloadavg(),
                                stage_seconds=medians,
                                stage_share={k: v / sum(medians.values()) for k, v in medians.items()})
