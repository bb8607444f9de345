"""LCMD: largest-cluster maximum-distance selection on sketched last-layer gradient features.

Holzmüller, Zaverkin, Kästner and Steinwart, "A Framework and Benchmark for
Deep Batch Active Learning for Regression", JMLR 24, 2023, Sec. 5 (reference
code ``bmdal_reg``, ``LargestClusterMaxDistSelectionMethod``), in "TP" mode:

1. the training samples are the first centres; every pool sample belongs to
   the cluster of its nearest centre (ties to the earlier centre);
2. a cluster's size is the sum of its members' squared distances to its centre;
3. the next sample is, within the largest cluster, the pool sample farthest
   from the centre; it becomes a new centre and takes over every pool sample
   strictly closer to it than to its old centre; repeat from 2.

With no training sample the first pick is the pool sample with the largest
feature norm, as in ``bmdal_reg``. The features are F's last-layer gradients
sketched to ``options.sketch_dim`` dimensions with a Gaussian random projection
(:func:`latentmine.models.features.last_layer_gradient_features`; the sketch is
drawn from ``options.seed``, so it is the same in every round).
"""
from __future__ import annotations

import numpy as np

from ..models.features import gaussian_sketch, last_layer_gradient_features
from .base import Context, Proposals, register_strategy
from .pool import candidates, centres_of, round_features, squared_distances, squared_norms
from .simple import real_samples


def largest_cluster_max_distance(features: np.ndarray, centres: np.ndarray, k: int) -> list[int]:
    """LCMD: ``k`` rows of ``features`` (N, d), given the centres (m, d) of the samples already labelled."""
    n = len(features)
    if k > n:
        raise ValueError(f"k={k} exceeds the {n} candidates")
    chosen: list[int] = []
    norms = squared_norms(features)
    if len(centres):
        distances = squared_distances(features, centres, norms)
        cluster = distances.argmin(axis=1)
        nearest = distances[np.arange(n), cluster]
    else:
        first = int(np.argmax(norms))
        chosen.append(first)
        cluster = np.zeros(n, np.int64)
        nearest = squared_distances(features, features[first:first + 1], norms)[:, 0]
        nearest[first] = 0.0
        centres = features[first:first + 1]
    n_centres = len(centres)
    while len(chosen) < k:
        sizes = np.bincount(cluster, weights=nearest, minlength=n_centres)
        score = np.where(sizes[cluster] == sizes.max(), nearest, -np.inf)
        score[chosen] = -np.inf
        pick = int(np.argmax(score))
        chosen.append(pick)
        to_pick = squared_distances(features, features[pick:pick + 1], norms)[:, 0]
        to_pick[pick] = 0.0  # exactly, whatever the rounding of the expansion
        closer = to_pick < nearest
        cluster[closer], nearest[closer] = n_centres, to_pick[closer]
        n_centres += 1
    return chosen


@register_strategy("lcmd")
class LargestClusterMaxDistance:
    """LCMD (Holzmüller et al., JMLR 2023) on F's sketched last-layer gradient features."""

    name = "lcmd"

    def propose(self, ctx: Context, k: int, rng: np.random.Generator) -> Proposals:
        rows = candidates(ctx, k)
        sketch_dim, seed = int(ctx.options.sketch_dim), int(ctx.options.seed)
        sketches = ctx.cache.setdefault("lcmd-sketch", {})

        def compute(images, masks):
            def project(dimension):
                if dimension not in sketches:
                    sketches[dimension] = gaussian_sketch(dimension, sketch_dim, seed)
                return sketches[dimension]
            return last_layer_gradient_features(ctx.target, images, masks, sketch_dim=sketch_dim, sketch=project)

        pool, train = round_features(ctx, "lcmd", compute)
        picks = largest_cluster_max_distance(pool[rows], centres_of(ctx, pool, train), k)
        return real_samples(ctx, rows[picks])
