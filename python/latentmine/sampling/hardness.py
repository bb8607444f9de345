"""How hard a latent point is for F: the quantity the latent step ascends and the seeds are ranked by.

``options.hardness`` chooses the score of a latent point ``z`` (each
differentiable in ``z``, one value per row; a row depends on its own ``z``
only, up to which dropout masks it draws under ``"mc-dropout"``):

* ``"loss"``: F's loss on ``G(z)`` against the *seed's* label ``y`` (Mo et al.,
  arXiv 2004.02757). Once ``z`` moves, ``y`` is no longer the label of
  ``G(z)``, so far from the seed the loss measures the distance to the seed's
  label as much as F's error;
* ``"ensemble"``: label-free, the variance across the round's deep ensemble
  (:func:`latentmine.sampling.ensemble.round_ensemble`) of the predictions on
  ``G(z)``, averaged over pixels (query by committee, Seung et al., COLT 1992;
  Lakshminarayanan et al., NeurIPS 2017);
* ``"mc-dropout"``: label-free, the variance over ``options.mc_samples``
  passes of F with its dropout on (Gal and Ghahramani, ICML 2016), averaged
  over pixels. Only the dropout layers are switched to training mode, so that
  normalisation layers keep their inference behaviour.

``options.seed_selection`` chooses the labelled seeds a round steps from:
``"uniform"`` (the method as published) or ``"hardness"``, the seeds of the
highest score at ``z = mu_E(x)`` first.
"""
from __future__ import annotations

import numpy as np
import torch

from ..models.target import compose_input
from ..models.vae import encode_arrays
from .base import Context
from .ensemble import round_ensemble

HARDNESS = ("loss", "ensemble", "mc-dropout")
SEED_SELECTIONS = ("uniform", "hardness")


def decoded_input(ctx: Context, z: torch.Tensor) -> torch.Tensor:
    """F's input built from the decoded pair ``G(z)`` (soft mask probabilities), differentiable in ``z``."""
    image, logits = ctx.generator.decode(z)
    probs = None if ctx.options.input_mode == "image" else torch.softmax(logits, dim=1)
    return compose_input(ctx.options.input_mode, image, probs)


def seed_loss(ctx: Context, z: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per-seed loss ``L(F(G(z)), y)``, shape ``(B,)``, differentiable in ``z``.

    ``labels`` are normalised (divided by ``ctx.label_scale``); ``masks`` are
    the masks the labels belong to (used by region-weighted losses).
    """
    return ctx.loss(ctx.target(decoded_input(ctx, z)), labels, masks)


def _pixel_variance(passes: torch.Tensor) -> torch.Tensor:
    """``(T, B, ...)`` predictions -> ``(B,)`` pixel mean of the variance over ``T`` (population variance)."""
    return passes.var(dim=0, unbiased=False).flatten(1).mean(dim=1)


def dropout_variance(ctx: Context, z: torch.Tensor, seed: int) -> torch.Tensor:
    """MC-dropout variance of F on ``G(z)``; the dropout masks come from ``seed`` (the same for every call)."""
    inputs = decoded_input(ctx, z)
    dropouts = [m for m in ctx.target.modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)]
    if not dropouts:
        raise ValueError("hardness='mc-dropout' needs an F with dropout layers (LoopConfig.dropout > 0)")
    ctx.target.eval()
    try:
        for layer in dropouts:
            layer.train()
        with torch.random.fork_rng(devices=[] if z.device.type == "cpu" else [z.device]):
            torch.manual_seed(seed)
            passes = torch.stack([ctx.target(inputs) for _ in range(ctx.options.mc_samples)])
    finally:
        ctx.target.eval()
    return _pixel_variance(passes)


def hardness(ctx: Context, z: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The ``options.hardness`` score of every row of ``z``, ``(B,)``, differentiable in ``z``.

    ``labels`` and ``masks`` are used by ``"loss"`` only; ``seed`` fixes the
    dropout masks of ``"mc-dropout"``.
    """
    kind = ctx.options.hardness
    ctx.target.eval()
    if kind == "loss":
        return seed_loss(ctx, z, labels, masks)
    if kind == "ensemble":
        return _pixel_variance(round_ensemble(ctx).forward(decoded_input(ctx, z)))
    if kind == "mc-dropout":
        return dropout_variance(ctx, z, seed)
    raise ValueError(f"hardness must be one of {HARDNESS}, got {kind!r}")


def seed_labels(ctx: Context, index: np.ndarray, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised labels and masks of training samples ``index`` on ``device``."""
    labels = torch.from_numpy(np.asarray(ctx.train_labels[index], np.float32)).to(device) / ctx.label_scale
    masks = torch.from_numpy(np.asarray(ctx.train_masks[index], np.int64)).to(device)
    return labels, masks


def training_hardness(ctx: Context, seed: int, batch_size: int = 64) -> np.ndarray:
    """The hardness of every labelled sample at ``z = mu_E(x)``, ``(n,)``."""
    scores = []
    for start in range(0, len(ctx.train_ids), batch_size):
        index = np.arange(start, min(start + batch_size, len(ctx.train_ids)))
        z = encode_arrays(ctx.generator, ctx.train_images[index], ctx.train_masks[index])
        with torch.no_grad():
            scores.append(hardness(ctx, z, *seed_labels(ctx, index, z.device), seed=seed).cpu().numpy())
    return np.concatenate(scores)


def choose_seeds(ctx: Context, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` training-set rows to step from, by ``options.seed_selection``.

    ``"hardness"`` ranks the labelled samples by :func:`training_hardness`
    (ties to the lower row) and cycles through the ranking when ``count``
    exceeds the training set.
    """
    n, mode = len(ctx.train_ids), ctx.options.seed_selection
    if mode == "uniform":
        return rng.choice(n, size=count, replace=count > n)
    if mode == "hardness":
        order = np.argsort(-training_hardness(ctx, int(rng.integers(2 ** 62))), kind="stable")
        return order[np.arange(count) % n]
    raise ValueError(f"seed_selection must be one of {SEED_SELECTIONS}, got {mode!r}")
