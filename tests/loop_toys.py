"""Tiny rings, a toy labeller and a small trained VAE shared by the loop, sampling and model tests."""
from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from latentmine import models
from latentmine.fea.examples import ring_mask
from latentmine.labels import Label
from latentmine.loop import Samples

SIZE = 32


def rings(n: int, seed: int = 0, size: int = SIZE):
    """Noisy images of concentric rings with random lumen and wall radii."""
    rng = np.random.default_rng(seed)
    masks = np.stack([ring_mask(size, rng.uniform(0.12, 0.22) * size, rng.uniform(0.33, 0.44) * size)
                      for _ in range(n)])
    images = (masks >= Label.FIBROUS) * 0.7 + (masks == Label.LUMEN) * 0.1 + rng.normal(0, 0.03, masks.shape)
    return images.clip(0, 1).astype(np.float32), masks


def pool_and_test(n_pool=40, n_test=8, seed=0):
    images, masks = rings(n_pool + n_test, seed)
    pool = Samples(images[:n_pool], masks[:n_pool], [f"p{i:03d}" for i in range(n_pool)])
    test = Samples(images[n_pool:], masks[n_pool:], [f"t{i:03d}" for i in range(n_test)])
    return pool, test


class ToyLabeller:
    """Stress decaying with the distance from the lumen (kPa); counts what it labels.

    ``fail_at``: raise on that call (1-based), simulating a kill inside the labelling tool.
    """

    version = "toy-1"

    def __init__(self, fail_at: int | None = None):
        self.calls, self.labelled, self.fail_at = 0, [], fail_at

    def __call__(self, masks):
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise KeyboardInterrupt("simulated kill inside the labeller")
        masks = np.asarray(masks)
        self.labelled += [m.tobytes() for m in masks]
        out = [np.where(m >= Label.FIBROUS, 200.0 / (1.0 + ndimage.distance_transform_edt(m != Label.LUMEN)), 0.0)
               for m in masks]
        return np.array(out, np.float32)


_VAE = {}


def trained_vae(seed: int = 0):
    """A small VAE on 32x32 rings (trained once per test session, about 3 s on one core)."""
    if seed not in _VAE:
        torch.set_num_threads(1)
        pool, _ = pool_and_test()
        _VAE[seed] = models.train_vae(pool.images, pool.masks, latent_dim=8, epochs=30, batch_size=16,
                                      seed=seed, progress=False)
    return _VAE[seed]
