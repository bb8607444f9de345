"""Speed of the peer strategies: selection on precomputed features, feature extraction, ensemble training.

    PYTHONPATH=python .venv/bin/python -m pytest benchmarks/bench_strategies.py \
        --benchmark-json benchmarks/results/strategies.json

* ``select``: one proposal of k = 25 from a pool of 10,000 frames with 400
  labelled samples, the features already computed, as the strategies see
  them (float32): F's pooled bottleneck (512 numbers, ``coreset``), sketched
  last-layer gradients (512, ``lcmd``), the VAE's ``mu_E`` (32,
  ``typiclust``), and ``random`` as the floor. The features are a Gaussian
  mixture of 20 components (selection cost depends on the sizes, not on the
  frames behind them). Goal: <= 1 s each on the 2-core CPU.
* ``features``: extracting each feature map from 250 frames at 64² (F a
  width-8, 3-level StressUNet with image and mask input, as in the default
  study; VAE latent 32, width 8), and the M = 5 ensemble's predictions; the
  cost is linear in the frames (batches of 64), so 4x is the cost per 1,000.
* ``ensemble-train``: 5 Adam steps (batch 16, 64²) of an M = 5 ensemble,
  batched (one vmapped model) against the members one after another.

2 torch threads. The machine is shared: ``loadavg`` is recorded per test, and
for the selections the median CPU seconds of the process (``cpu_seconds_median``).
"""
import os
import time

import numpy as np
import pytest
import torch

from latentmine.fea.examples import plaque_mask
from latentmine.models import VAE, StressUNet
from latentmine.models import FitRecipe
from latentmine.models.ensemble import TargetEnsemble, fit_ensemble
from latentmine.models.features import bottleneck_features, last_layer_gradient_features
from latentmine.models.vae import encode_arrays
from latentmine.sampling import k_centre, largest_cluster_max_distance, typical_picks

THREADS, K, POOL, LABELLED, SIZE, FRAMES = 2, 25, 10_000, 400, 64, 250


def mixture(n, dimension, seed, components=20):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (components, dimension))
    return (centres[rng.integers(components, size=n)] + rng.normal(0, 0.5, (n, dimension))).astype(np.float32)


SELECTIONS = {
    "random": (32, lambda pool, labelled: np.random.default_rng(0).choice(len(pool), K, replace=False)),
    "coreset": (512, lambda pool, labelled: k_centre(pool, labelled, K, np.random.default_rng(0))),
    "lcmd": (512, lambda pool, labelled: largest_cluster_max_distance(pool, labelled, K)),
    "typiclust": (32, lambda pool, labelled: typical_picks(pool, labelled, K, np.random.default_rng(0))),
}


@pytest.mark.parametrize("strategy", list(SELECTIONS))
@pytest.mark.benchmark(group="select-k25-pool10000")
def test_select(benchmark, strategy):
    torch.set_num_threads(THREADS)
    dimension, select = SELECTIONS[strategy]
    features = mixture(POOL + LABELLED, dimension, seed=0)
    cpu = []

    def timed(pool, labelled):  # CPU seconds too: on a loaded machine they bound the idle wall time
        start = time.process_time()
        out = select(pool, labelled)
        cpu.append(time.process_time() - start)
        return out

    picks = benchmark.pedantic(timed, args=(features[:POOL], features[POOL:]), rounds=5, iterations=1,
                               warmup_rounds=1)
    assert len(set(np.asarray(picks).tolist())) == K
    benchmark.extra_info.update(k=K, pool=POOL, labelled=LABELLED, dimension=dimension, torch_threads=THREADS,
                                loadavg=os.getloadavg(), cpu_seconds_median=float(np.median(cpu[1:])))


def frames():
    """``FRAMES`` frames at 64²: the built-in plaque with noise (extraction cost does not depend on content)."""
    rng = np.random.default_rng(0)
    masks = np.repeat(plaque_mask(SIZE)[None], FRAMES, axis=0)
    images = (0.2 + 0.15 * masks + rng.normal(0, 0.05, masks.shape)).clip(0, 1).astype(np.float32)
    return images, masks


def _models():
    torch.manual_seed(0)
    return StressUNet("both", width=8, levels=3).eval(), VAE(SIZE, latent_dim=32, width=8).eval()


EXTRACTIONS = {
    "bottleneck": lambda f, vae, ensemble, x, m: bottleneck_features(f, x, m),
    "last-layer-gradient-sketch512": lambda f, vae, ensemble, x, m: last_layer_gradient_features(f, x, m),
    "vae-mu": lambda f, vae, ensemble, x, m: encode_arrays(vae, x, m),
    "ensemble5-predict": lambda f, vae, ensemble, x, m: ensemble.predict(x, m),
}


@pytest.mark.parametrize("features", list(EXTRACTIONS))
@pytest.mark.benchmark(group="features-250-frames-64")
def test_features(benchmark, features):
    torch.set_num_threads(THREADS)
    f, vae = _models()
    ensemble = TargetEnsemble(f, 5, seed=0)
    images, masks = frames()
    benchmark.pedantic(EXTRACTIONS[features], args=(f, vae, ensemble, images, masks), rounds=3, iterations=1,
                       warmup_rounds=1)
    benchmark.extra_info.update(frames=FRAMES, size=SIZE, torch_threads=THREADS, loadavg=os.getloadavg())


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "sequential"])
@pytest.mark.benchmark(group="ensemble5-train-5-steps")
def test_ensemble_training(benchmark, batched):
    torch.set_num_threads(THREADS)
    f, _ = _models()
    images, masks = frames()
    labels = np.random.default_rng(1).uniform(0, 200, masks.shape).astype(np.float32)
    ensemble = TargetEnsemble(f, 5, seed=0)
    benchmark.pedantic(fit_ensemble, args=(ensemble, images[:100], masks[:100], labels[:100]),
                       kwargs=dict(recipe=FitRecipe(max_steps=5, batch_size=16, lr=1e-3), seed=0, batched=batched),
                       rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(members=5, steps=5, batch_size=16, size=SIZE, torch_threads=THREADS,
                                loadavg=os.getloadavg())
