"""Deep-ensemble disagreement: label the pool samples on which M independently trained F's disagree.

Lakshminarayanan et al., "Simple and Scalable Predictive Uncertainty
Estimation using Deep Ensembles", NeurIPS 2017. Each round trains
``options.ensemble_members`` copies of F's architecture from fresh weights on
the labelled set, ``options.ensemble_steps`` Adam steps each, all members in
one batched model (:mod:`latentmine.models.ensemble`). The score of a pool
sample (``options.ensemble_score``):

* ``"material"`` (default): the variance across members of the predicted
  stress, per pixel, averaged over the sample's material pixels
  (:data:`latentmine.labels.TISSUES`);
* ``"pss"``: the variance across members of the predicted plaque structural
  stress (:func:`latentmine.fea.pss.plaque_structural_stress_batch`).

The ensemble of a round is trained once and kept in ``ctx.cache``, so that
gate replacements, ``uncertainty`` with ``uncertainty_estimator="ensemble"``
and other callers of :func:`round_ensemble` reuse it. Its seed comes from
``(options.seed, round)``: a resumed round trains the same members.
"""
from __future__ import annotations

import numpy as np

from ..fea.pss import plaque_structural_stress_batch
from ..labels import TISSUES
from ..models.ensemble import TargetEnsemble, train_ensemble
from ..units import DEFAULT_PIXEL_SIZE_MM
from .base import Context, Proposals, register_strategy
from .pool import candidates
from .simple import real_samples

ENSEMBLE_SCORES = ("material", "pss")


def round_ensemble(ctx: Context) -> TargetEnsemble:
    """The ensemble of this round, trained on ``ctx``'s labelled set (once per round)."""
    if ctx.target is None:
        raise ValueError("features are missing: there is no target network F to copy for the ensemble")
    if not len(ctx.train_ids):
        raise ValueError("the ensemble needs labelled samples to train on; the training set is empty")
    key = ("ensemble", ctx.round, len(ctx.train_ids))
    if key not in ctx.cache:
        for stale in [k for k in ctx.cache if isinstance(k, tuple) and k[:1] == ("ensemble",)]:
            del ctx.cache[stale]
        opts = ctx.options
        seed = int(np.random.SeedSequence([int(opts.seed), int(ctx.round), 7]).generate_state(1)[0])
        ctx.cache[key] = train_ensemble(ctx.target, ctx.train_images, ctx.train_masks, ctx.train_labels,
                                        members=opts.ensemble_members, steps=opts.ensemble_steps,
                                        batch_size=opts.batch_size, lr=opts.lr, seed=seed, loss=ctx.loss,
                                        label_scale=ctx.label_scale)
    return ctx.cache[key]


def disagreement(predictions: np.ndarray, masks: np.ndarray, score: str = "material") -> np.ndarray:
    """Score ``(N,)`` of member predictions ``(M, N, H, W)`` on masks ``(N, H, W)`` (see the module doc)."""
    if score == "material":
        material = np.isin(masks, np.asarray(TISSUES, masks.dtype))
        variance = predictions.var(axis=0)
        return (variance * material).reshape(len(masks), -1).sum(1) / np.maximum(material.reshape(len(masks), -1)
                                                                                 .sum(1), 1)
    if score == "pss":
        # PSS is defined in pixel steps from the lumen; the pixel size is only checked, so the default serves
        peaks = [plaque_structural_stress_batch(member, masks, DEFAULT_PIXEL_SIZE_MM) for member in predictions]
        return np.var(peaks, axis=0)
    raise ValueError(f"ensemble_score must be one of {ENSEMBLE_SCORES}, got {score!r}")


def scored_subset(ctx: Context, k: int, rng: np.random.Generator) -> np.ndarray:
    """The available pool samples to score: all, or a random ``options.candidates`` of them."""
    rows = candidates(ctx, k)
    limit = ctx.options.candidates
    if limit is not None and len(rows) > max(limit, k):
        rows = np.sort(rng.choice(rows, size=max(limit, k), replace=False))
    return rows


@register_strategy("ensemble")
class EnsembleDisagreement:
    """Top-``k`` deep-ensemble disagreement over (a random ``options.candidates`` of) the pool."""

    name = "ensemble"

    def propose(self, ctx: Context, k: int, rng: np.random.Generator) -> Proposals:
        rows = scored_subset(ctx, k, rng)
        predictions = round_ensemble(ctx).predict(ctx.pool_images[rows], ctx.pool_masks[rows],
                                                  label_scale=ctx.label_scale)
        score = disagreement(predictions, ctx.pool_masks[rows], ctx.options.ensemble_score)
        return real_samples(ctx, rows[np.argsort(-score, kind="stable")[:k]])
