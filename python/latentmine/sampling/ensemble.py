"""Deep-ensemble disagreement: label the pool samples on which M independently trained F's disagree.

Lakshminarayanan et al., "Simple and Scalable Predictive Uncertainty
Estimation using Deep Ensembles", NeurIPS 2017. Each round trains
``options.ensemble_members`` copies of F's architecture from fresh weights on
the labelled set, ``options.ensemble_steps`` steps each of F's recipe (the
loop's schedule, weight decay and D4 augmentation), all members in one batched
model (:mod:`latentmine.models.ensemble`). The score of a pool sample
(``options.ensemble_score``):

* ``"mean"``: the variance across members, per output element, averaged over
  the sample (any task);
* a score of the task (``ctx.task.uncertainty_scores``); the IVUS stress task
  has ``"material"`` (default: the variance of the predicted stress averaged
  over the material pixels) and ``"pss"`` (the variance of the predicted plaque
  structural stress), see :mod:`latentmine.tasks.stress_metrics`.

The ensemble of a round is trained once and kept in ``ctx.cache``, so that
gate replacements, ``uncertainty`` with ``uncertainty_estimator="ensemble"``
and other callers of :func:`round_ensemble` reuse it. Its seed comes from
``(options.seed, round)``: a resumed round trains the same members.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..models.ensemble import TargetEnsemble, train_ensemble
from .base import Context, Proposals, register_strategy
from .pool import candidates
from .simple import real_samples

ENSEMBLE_SCORES = ("material", "pss", "mean")


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
        # F's recipe (schedule, weight decay, D4), for ensemble_steps steps and on the real and
        # generated samples alike
        recipe = replace(opts.recipe(len(ctx.train_ids)), max_steps=opts.ensemble_steps)
        ctx.cache[key] = train_ensemble(ctx.target, ctx.train_images, ctx.train_masks, ctx.train_labels,
                                        members=opts.ensemble_members, recipe=recipe, seed=seed, loss=ctx.loss,
                                        label_scale=ctx.label_scale)
    return ctx.cache[key]


def disagreement(predictions: np.ndarray, masks: np.ndarray, score: str, task) -> np.ndarray:
    """Score ``(N,)`` of member predictions ``(M, N, ...)`` on masks ``(N, H, W)`` (see the module doc)."""
    if score == "mean":
        return predictions.var(axis=0).reshape(len(masks), -1).mean(1)
    scores = getattr(task, "uncertainty_scores", None) or {}
    if score not in scores:
        raise ValueError(f"ensemble_score {score!r} is not a score of task {getattr(task, 'name', task)!r}; "
                         f"choose from {', '.join(['mean', *scores])}")
    return np.asarray(scores[score](predictions, masks))


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
        score = disagreement(predictions, ctx.pool_masks[rows], ctx.options.ensemble_score, ctx.task)
        return real_samples(ctx, rows[np.argsort(-score, kind="stable")[:k]])
