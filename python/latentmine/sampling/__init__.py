"""Sampling strategies: which samples to label next.

Each strategy is a small class with ``propose(ctx, k, rng) -> Proposals``
(see :class:`Strategy`), registered by name:

========================  =====================================================
``random``                random real pool samples (passive baseline)
``latent-random``         decoded prior samples ``G(z)``, ``z ~ N(0, I)``
``gradient``              the method, "interpolation" sampler: ``G(z + eta g/||g||)``
``gradient-nn``           the method, "nearest neighbour" sampler: nearest real sample
``uncertainty``           highest MC-dropout variance over the real pool
``ensemble``              largest disagreement of M independently trained F's
``coreset``               greedy k-centre cover (Sener and Savarese, ICLR 2018)
``lcmd``                  largest-cluster maximum distance (Holzmüller et al., JMLR 2023)
``typiclust``             most typical sample of each unlabelled cluster (Hacohen et al., ICML 2022)
========================  =====================================================

Add your own with :func:`register_strategy`.
"""
from .base import (SYNTHETIC, Context, Proposals, Strategy, available_strategies, get_strategy,
                   register_strategy)
from .gradient import GradientInterpolation, GradientNearestNeighbour, ascend, latent_gradient
from .hardness import choose_seeds, hardness, seed_loss
from .realism import rayleigh_speckle, realistic_images
from .coreset import CoreSet, k_centre
from .ensemble import EnsembleDisagreement, disagreement, round_ensemble
from .lcmd import LargestClusterMaxDistance, largest_cluster_max_distance
from .simple import LatentRandom, RandomPool
from .typiclust import TypiClust, typical_picks
from .uncertainty import MCDropoutUncertainty

__all__ = [
    "SYNTHETIC", "Context", "Proposals", "Strategy", "available_strategies", "get_strategy", "register_strategy",
    "RandomPool", "LatentRandom", "GradientInterpolation", "GradientNearestNeighbour", "MCDropoutUncertainty",
    "EnsembleDisagreement", "CoreSet", "LargestClusterMaxDistance", "TypiClust",
    "k_centre", "largest_cluster_max_distance", "typical_picks", "disagreement", "round_ensemble",
    "ascend", "latent_gradient", "seed_loss", "hardness", "choose_seeds", "rayleigh_speckle", "realistic_images",
]
