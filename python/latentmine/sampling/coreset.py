"""Core-set selection: greedy k-centre over the pool, the labelled set as the first centres.

Sener and Savarese, "Active Learning for Convolutional Neural Networks: A
Core-Set Approach", ICLR 2018, Algorithm 1: repeatedly add the pool sample
farthest from its nearest centre, ``argmax_i min_j ||f(x_i) - f(c_j)||``,
which is a 2-approximation of the k-centre problem (the minimax cover).

Features ``f`` (``options.coreset_features``): ``"target"`` (default), F's
bottleneck (:func:`latentmine.models.features.bottleneck_features`), or
``"latent"``, the generator's posterior mean ``mu_E``.
"""
from __future__ import annotations

import numpy as np

from ..models.features import bottleneck_features
from ..models.vae import encode_arrays
from .base import Context, Proposals, register_strategy
from .pool import candidates, centres_of, round_features, squared_distances, squared_norms
from .simple import real_samples

COVERAGE_FEATURES = ("target", "latent")


def k_centre(features: np.ndarray, centres: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """Greedy k-centre: ``k`` rows of ``features`` (N, d), each the farthest from every centre so far.

    ``centres`` (m, d) are covered already; with none, the first pick is
    uniformly random (as in the paper). Ties go to the lowest row.
    """
    n = len(features)
    if k > n:
        raise ValueError(f"k={k} exceeds the {n} candidates")
    norms = squared_norms(features)
    nearest = (squared_distances(features, centres, norms).min(axis=1) if len(centres)
               else np.full(n, np.inf))
    chosen: list[int] = []
    for _ in range(k):
        if not len(centres) and not chosen:
            pick = int(rng.integers(n))
        else:
            pick = int(np.argmax(nearest))
        chosen.append(pick)
        np.minimum(nearest, squared_distances(features, features[pick:pick + 1], norms)[:, 0], out=nearest)
        nearest[chosen] = -np.inf  # never again, even among exact duplicates
    return chosen


def latent_features(ctx: Context):
    """``compute(images, masks) -> mu_E`` for :func:`~latentmine.sampling.pool.round_features`."""
    if ctx.generator is None or not hasattr(ctx.generator, "encode"):
        raise ValueError("features are missing: the generator has no encoder for latent features")

    def compute(images, masks, batch_size: int = 256):
        parts = [encode_arrays(ctx.generator, images[i:i + batch_size], masks[i:i + batch_size]).cpu().numpy()
                 for i in range(0, len(images), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, int(ctx.generator.latent_dim)))

    return compute


def coverage_features(ctx: Context, kind: str):
    if kind == "target":
        return lambda images, masks: bottleneck_features(ctx.target, images, masks)
    if kind == "latent":
        return latent_features(ctx)
    raise ValueError(f"coreset_features must be one of {COVERAGE_FEATURES}, got {kind!r}")


@register_strategy("coreset")
class CoreSet:
    """Greedy k-centre (Sener and Savarese, ICLR 2018) on F's bottleneck or on ``mu_E``."""

    name = "coreset"

    def propose(self, ctx: Context, k: int, rng: np.random.Generator) -> Proposals:
        rows = candidates(ctx, k)
        kind = ctx.options.coreset_features
        pool, train = round_features(ctx, f"coreset-{kind}", coverage_features(ctx, kind))
        picks = k_centre(pool[rows], centres_of(ctx, pool, train), k, rng)
        return real_samples(ctx, rows[picks])
