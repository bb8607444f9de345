"""Baselines: random real samples from the pool, and random latent points."""
from __future__ import annotations

import numpy as np
import torch

from ..models.vae import decode_pairs
from .base import Context, Proposals, register_strategy, torch_generator
from .realism import realistic_images


def latent_dim(generator) -> int:
    return int(generator.latent_dim)


@register_strategy("random")
class RandomPool:
    """Label ``k`` pool samples drawn uniformly without replacement (passive learning)."""

    name = "random"

    def propose(self, ctx: Context, k: int, rng: np.random.Generator) -> Proposals:
        candidates = np.flatnonzero(ctx.available)
        chosen = rng.choice(candidates, size=min(k, len(candidates)), replace=False)
        return real_samples(ctx, chosen)


@register_strategy("latent-random")
class LatentRandom:
    """Decode ``k`` prior samples ``z ~ N(0, I)`` (the method's first round); images by ``options.render``."""

    name = "latent-random"

    def propose(self, ctx: Context, k: int, rng: np.random.Generator) -> Proposals:
        z = torch.randn(k, latent_dim(ctx.generator), generator=torch_generator(rng))  # on the CPU: device-independent
        images, masks = (part.numpy() for part in decode_pairs(ctx.generator, z))
        return Proposals.make(realistic_images(ctx, images, masks, rng), masks, latent_dim=latent_dim(ctx.generator),
                              z_new=z.numpy())


def real_samples(ctx: Context, index, **provenance) -> Proposals:
    """Proposals of real pool samples ``index`` (their own image and mask)."""
    index = np.asarray(index, np.int64)
    return Proposals.make(ctx.pool_images[index], ctx.pool_masks[index], latent_dim=latent_dim(ctx.generator),
                          pool_index=index, **provenance)
