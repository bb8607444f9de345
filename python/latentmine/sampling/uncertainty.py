"""Uncertainty sampling: label the pool samples on which MC-dropout predictions disagree most.

Gal and Ghahramani, "Dropout as a Bayesian Approximation", ICML 2016: with
dropout kept on at inference, the variance over ``T`` stochastic passes
estimates the model's uncertainty. The score of a sample is the pixel-mean of
that variance; the ``k`` highest-scoring available pool samples are proposed.
With ``options.uncertainty_estimator="ensemble"`` the predictions are those
of the round's deep ensemble instead (:func:`latentmine.sampling.ensemble.round_ensemble`).
"""
from __future__ import annotations

import numpy as np
import torch

from ..models.training import predict
from .base import Context, Proposals, register_strategy
from .ensemble import round_ensemble
from .simple import real_samples


@register_strategy("uncertainty")
class MCDropoutUncertainty:
    """Top-``k`` MC-dropout (or ensemble) variance over (a random subset of ``options.candidates``) pool samples."""

    name = "uncertainty"

    def propose(self, ctx: Context, k: int, rng: np.random.Generator) -> Proposals:
        candidates = np.flatnonzero(ctx.available)
        limit = ctx.options.candidates
        if limit is not None and len(candidates) > limit:
            candidates = np.sort(rng.choice(candidates, size=limit, replace=False))
        if ctx.options.uncertainty_estimator == "ensemble":
            passes = round_ensemble(ctx).predict(ctx.pool_images[candidates], ctx.pool_masks[candidates],
                                                 label_scale=ctx.label_scale)
        else:
            torch.manual_seed(int(rng.integers(2 ** 62)))  # dropout draws from the global generator
            passes = np.stack([predict(ctx.target, ctx.pool_images[candidates], ctx.pool_masks[candidates],
                                       label_scale=ctx.label_scale, dropout=True)
                               for _ in range(ctx.options.mc_samples)])
        score = passes.var(axis=0).reshape(len(candidates), -1).mean(axis=1)
        chosen = candidates[np.argsort(-score, kind="stable")[:k]]
        return real_samples(ctx, chosen)
