"""TypiClust: the most typical sample of each large cluster that holds no label yet.

Hacohen, Dekel and Weinshall, "Active Learning on a Budget: Opposite
Strategies Suit High and Low Budgets", ICML 2022 (reference code
``avihu111/TypiClust``, ``deep-al/pycls/al/typiclust.py``), for low budgets:

1. k-means of the labelled and the available pool samples into
   ``min(len(labelled) + k, MAX_CLUSTERS)`` clusters, in the generator's latent
   space (``mu_E``; the paper uses a self-supervised embedding);
2. clusters of more than ``MIN_CLUSTER_SIZE`` samples, ordered by the number
   of labelled samples they hold (fewest first), then by size (largest
   first); the batch takes one sample from each in turn;
3. from a cluster, the most typical unlabelled sample:
   ``typicality(x) = 1 / mean_{x' in kNN(x)} ||x - x'||`` over its
   ``min(K, n // 2)`` nearest neighbours in the cluster (the paper's
   definition; the reference code averages squared distances).

k-means is Lloyd's algorithm from a k-means++ start (Arthur and
Vassilvitskii, SODA 2007), drawn from the proposal's random generator.
"""
from __future__ import annotations

import numpy as np

from .base import Context, Proposals, register_strategy
from .coreset import latent_features
from .pool import candidates, centres_of, round_features, squared_distances, squared_norms
from .simple import real_samples

MIN_CLUSTER_SIZE = 5   #: clusters this small or smaller are skipped (reference code)
MAX_CLUSTERS = 500     #: at most this many clusters (reference code)
NEIGHBOURS = 20        #: K of the typicality (reference code; LoopConfig.typiclust_neighbours)


def kmeans(points: np.ndarray, n_clusters: int, rng: np.random.Generator, iterations: int = 50) -> np.ndarray:
    """Cluster of every point ``(N,)``: Lloyd's iterations from a k-means++ start, until no point moves."""
    n = len(points)
    if not 1 <= n_clusters <= n:
        raise ValueError(f"cannot make {n_clusters} clusters of {n} points")
    norms = squared_norms(points)
    centres = [int(rng.integers(n))]
    nearest = squared_distances(points, points[centres[0]:centres[0] + 1], norms)[:, 0]
    for _ in range(n_clusters - 1):
        total = float(nearest.sum())
        pick = int(np.searchsorted(np.cumsum(nearest), rng.random() * total)) if total > 0 else int(rng.integers(n))
        centres.append(min(pick, n - 1))
        np.minimum(nearest, squared_distances(points, points[centres[-1]:centres[-1] + 1], norms)[:, 0], out=nearest)
    means = points[centres].copy()
    labels = np.full(n, -1)
    for _ in range(iterations):
        new = squared_distances(points, means, norms).argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        counts = np.bincount(labels, minlength=n_clusters)
        sums = np.stack([np.bincount(labels, weights=column, minlength=n_clusters) for column in points.T], axis=1)
        filled = counts > 0  # an emptied cluster keeps its old mean
        means[filled] = sums[filled] / counts[filled, None]
    return labels


def typicality(points: np.ndarray, neighbours: int) -> np.ndarray:
    """``1 / (mean distance to the nearest ``neighbours`` other points + 1e-5)`` for each point."""
    if len(points) < 2 or neighbours < 1:
        return np.ones(len(points))
    distances = np.sqrt(squared_distances(points, points))
    np.fill_diagonal(distances, np.inf)
    nearest = np.partition(distances, neighbours - 1, axis=1)[:, :neighbours]
    return 1.0 / (nearest.mean(axis=1) + 1e-5)


def typical_picks(features: np.ndarray, labelled: np.ndarray, k: int, rng: np.random.Generator,
                  neighbours: int = NEIGHBOURS) -> list[int]:
    """TypiClust: ``k`` rows of ``features`` (N, d) given the ``labelled`` feature rows (m, d)."""
    n = len(features)
    if k > n:
        raise ValueError(f"k={k} exceeds the {n} candidates")
    if k == 0:
        return []
    points = np.concatenate([labelled, features])
    clusters = kmeans(points, min(len(labelled) + k, MAX_CLUSTERS, len(points)), rng)
    ids, sizes = np.unique(clusters, return_counts=True)
    held = np.bincount(clusters[:len(labelled)], minlength=ids.max() + 1)[ids]
    order = np.lexsort((-sizes, held))  # fewest labelled first, then the largest
    big = order[sizes[order] > MIN_CLUSTER_SIZE]
    queue = list(ids[big if len(big) else order])
    members = clusters[len(labelled):].copy()
    chosen: list[int] = []
    while len(chosen) < k:
        for cluster in queue:
            rows = np.flatnonzero(members == cluster)
            if not len(rows) or len(chosen) == k:
                continue
            score = typicality(features[rows], min(neighbours, len(rows) // 2))
            pick = int(rows[np.argmax(score)])
            chosen.append(pick)
            members[pick] = -1
        queue = [c for c in queue if (members == c).any()] or list(np.unique(members[members >= 0]))
    return chosen


@register_strategy("typiclust")
class TypiClust:
    """TypiClust (Hacohen et al., ICML 2022) in the generator's latent space ``mu_E``."""

    name = "typiclust"

    def propose(self, ctx: Context, k: int, rng: np.random.Generator) -> Proposals:
        rows = candidates(ctx, k)
        pool, train = round_features(ctx, "typiclust", latent_features(ctx))
        picks = typical_picks(pool[rows], centres_of(ctx, pool, train), k, rng, ctx.options.typiclust_neighbours)
        return real_samples(ctx, rows[picks])
