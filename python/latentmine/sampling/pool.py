"""What the strategies that choose among real pool samples share: candidates, coverage, features.

A pool strategy proposes ``k`` distinct pool samples that are still
available, or raises ``ValueError`` when fewer than ``k`` are left (it never
quietly proposes fewer). The samples a batch must stay away from are the
labelled training set *and* the pool samples already proposed (or rejected by
the gate) earlier in the same round, which are no longer available but not
labelled yet: :func:`covered_rows`.

Feature matrices are computed once per round (F changes only between
rounds) and kept in ``ctx.cache``; a resumed run recomputes them from the
same weights, so its proposals do not change.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .base import Context


def candidates(ctx: Context, k: int) -> np.ndarray:
    """Indices of the available pool samples; ``ValueError`` if fewer than ``k`` are left."""
    if int(k) < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    left = np.flatnonzero(ctx.available)
    if k > len(left):
        raise ValueError(f"k={k} exceeds the {len(left)} pool samples left to label")
    return left


def covered_rows(ctx: Context) -> np.ndarray:
    """Pool samples that are unavailable but not in the training set (proposed earlier this round)."""
    labelled = set(ctx.train_ids)
    return np.array([i for i in np.flatnonzero(~ctx.available) if ctx.pool_ids[i] not in labelled], np.int64)


def checked(features, what: str, rows: int) -> np.ndarray:
    """``features`` as a finite float32 ``(rows, d)`` matrix, or ``ValueError`` naming ``what`` is wrong."""
    if features is None:
        raise ValueError(f"features are missing: no {what}")
    features = np.asarray(features, np.float32)
    if features.ndim != 2 or len(features) != rows:
        raise ValueError(f"{what} must be a ({rows}, d) matrix, got shape {features.shape}")
    bad = np.flatnonzero(~np.isfinite(features).all(axis=1))
    if bad.size:
        raise ValueError(f"{what}: row {bad[0]} is not finite ({bad.size} such rows)")
    return features


def round_features(ctx: Context, name: str, compute: Callable) -> tuple[np.ndarray, np.ndarray]:
    """``(pool features (N, d), training-set features (n, d))`` from ``compute(images, masks)``, cached per round."""
    key = (name, ctx.round, len(ctx.train_ids))
    if key not in ctx.cache:
        for stale in [k for k in ctx.cache if isinstance(k, tuple) and k[:1] == (name,)]:
            del ctx.cache[stale]  # one round's features at a time
        pool = checked(compute(ctx.pool_images, ctx.pool_masks), f"{name} features of the pool", len(ctx.pool_ids))
        train = (checked(compute(ctx.train_images, ctx.train_masks), f"{name} features of the training set",
                         len(ctx.train_ids)) if len(ctx.train_ids) else np.zeros((0, pool.shape[1]), np.float32))
        ctx.cache[key] = (pool, train)
    return ctx.cache[key]


def squared_norms(a: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, a)


def squared_distances(a: np.ndarray, b: np.ndarray, a_norms: np.ndarray | None = None) -> np.ndarray:
    """``||a_i - b_j||^2``, ``(len(a), len(b))``, clipped at 0 (the expansion can round below it).

    ``a_norms`` (:func:`squared_norms` of ``a``) saves recomputing them when
    ``a`` is the same matrix call after call (the greedy selections).
    """
    out = a @ b.T
    out *= -2.0
    out += (squared_norms(a) if a_norms is None else a_norms)[:, None]
    out += squared_norms(b)[None, :]
    return np.maximum(out, 0.0, out=out)


def centres_of(ctx: Context, pool: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Feature rows of everything already covered: the training set, then :func:`covered_rows`."""
    return np.concatenate([train, pool[covered_rows(ctx)]])
