"""A generator paired with a renderer that images its decoded masks.

Latent steps still pass through the wrapped generator (``encode`` and
``decode`` are its own); ``render(masks, rng=...)`` gives decoded samples a
realistic image, e.g. :class:`latentmine.phantoms.BModeRenderer` for the
in-silico cohort (see :mod:`latentmine.sampling.realism`).
"""
from __future__ import annotations

from torch import nn


class RenderedGenerator(nn.Module):
    """``generator`` (a :class:`~latentmine.models.Generator`) with ``renderer(masks, rng=None) -> images``.

    Parameters
    ----------
    generator : torch.nn.Module
        Has ``encode``, ``decode`` and ``latent_dim`` (e.g. a :class:`~latentmine.models.VAE`).
    renderer : callable
        ``renderer(masks (N, H, W), rng=None) -> float32 images (N, H, W)`` in [0, 1].
    """

    def __init__(self, generator: nn.Module, renderer):
        super().__init__()
        if not callable(renderer):
            raise ValueError(f"renderer must be callable, got {type(renderer).__name__}")
        self.generator = generator
        self.renderer = renderer

    @property
    def latent_dim(self) -> int:
        return int(self.generator.latent_dim)

    @property
    def image_size(self):
        return getattr(self.generator, "image_size", None)

    @property
    def mask_classes(self):
        return getattr(self.generator, "mask_classes", None)

    def encode(self, images, masks):
        return self.generator.encode(images, masks)

    def decode(self, z):
        return self.generator.decode(z)

    def render(self, masks, rng=None):
        return self.renderer(masks, rng=rng)
