"""Sampling strategies: which samples to label next.

Each strategy is a small class with ``propose(ctx, k, rng) -> Proposals``
(see :class:`Strategy`), registered by name:

========================  =====================================================
``random``                random real pool samples (passive baseline)
``latent-random``         decoded prior samples ``G(z)``, ``z ~ N(0, I)``
``gradient``              the method, "interpolation" sampler: ``G(z + eta g/||g||)``
``gradient-nn``           the method, "nearest neighbour" sampler: nearest real sample
``uncertainty``           highest MC-dropout variance over the real pool
========================  =====================================================

Add your own with :func:`register_strategy`.
"""
from .base import (SYNTHETIC, Context, Proposals, Strategy, available_strategies, get_strategy,
                   register_strategy)
from .gradient import GradientInterpolation, GradientNearestNeighbour, ascend, latent_gradient, seed_loss
from .simple import LatentRandom, RandomPool
from .uncertainty import MCDropoutUncertainty

__all__ = [
    "SYNTHETIC", "Context", "Proposals", "Strategy", "available_strategies", "get_strategy", "register_strategy",
    "RandomPool", "LatentRandom", "GradientInterpolation", "GradientNearestNeighbour", "MCDropoutUncertainty",
    "ascend", "latent_gradient", "seed_loss",
]
