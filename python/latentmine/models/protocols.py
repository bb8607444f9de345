"""The two interfaces the suggestive-labelling loop is written against.

Any generative model with an encoder and a decoder over (image, mask) pairs
can replace the default :class:`~latentmine.models.vae.VAE`, and any target
network with a loss can replace the stress U-Net, as long as they follow these
protocols (structural typing: no base class to inherit).
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Generator(Protocol):
    """An encoder E and generator G over (image, mask) pairs.

    ``encode(images, masks)`` takes images ``(B, H, W)`` float in [0, 1] and
    masks ``(B, H, W)`` of label codes, and returns the latent posterior
    ``(mu, logvar)``, each ``(B, latent_dim)``. ``decode(z)`` returns an image
    ``(B, H, W)`` in [0, 1] and mask logits ``(B, NUM_LABELS, H, W)``: every
    latent point is a pair, the target network's input and the mask the
    labelling tool labels. Both are differentiable in ``z``.
    """

    latent_dim: int
    image_size: int

    def encode(self, images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


@runtime_checkable
class TargetLoss(Protocol):
    """Per-sample loss of the target network F.

    ``loss(pred, target, masks)`` takes predictions and targets ``(B, H, W)``
    (normalised units) and the masks ``(B, H, W)`` the targets were labelled
    on, and returns the loss of each sample, shape ``(B,)``. Per-sample values
    let the latent gradient of each seed be computed in one batch.
    """

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, masks: torch.Tensor) -> torch.Tensor: ...
