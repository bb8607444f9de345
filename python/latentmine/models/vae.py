"""A convolutional VAE over (image, mask) pairs: the default generator.

The encoder E sees the image and the one-hot mask stacked as channels and
returns the Gaussian posterior ``(mu, logvar)``; the decoder G maps a latent
point back to an image and mask logits, so that each latent point is a pair
(the target network's input and the mask the labelling tool labels), as in
Mo et al., "Efficient Deep Representation Learning by Adaptive Latent Space
Sampling", arXiv 2004.02757. The loss is the beta-VAE evidence lower bound
(Higgins et al., ICLR 2017): image MSE + mask cross-entropy + beta * KL.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import nn

from ..labels import NUM_LABELS

_BOTTOM = 4  # spatial size of the deepest feature map


def _widths(image_size: int, width: int) -> list[int]:
    if image_size < 2 * _BOTTOM or image_size & (image_size - 1):
        raise ValueError(f"VAE image size must be a power of two >= {2 * _BOTTOM}, got {image_size}")
    levels = int(math.log2(image_size // _BOTTOM))
    return [width * 2 ** min(i, 3) for i in range(levels)]


class VAE(nn.Module):
    """Encoder/decoder pair implementing :class:`~latentmine.models.Generator`.

    Parameters
    ----------
    image_size : int
        Side of the square images (a power of two, >= 8).
    latent_dim : int
        Size of the latent space.
    beta : float
        Weight of the KL term (beta-VAE); 1 is the plain VAE.
    width : int
        Channels of the first convolution; doubled per level up to 8x.
    mask_classes : int
        Codes of the masks paired with the images (default: the IVUS labels); 0
        for images without masks, whose decoder then returns ``(B, 0, H, W)`` logits.
    """

    def __init__(self, image_size: int = 64, latent_dim: int = 32, beta: float = 1.0, width: int = 16,
                 mask_classes: int = NUM_LABELS):
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        if mask_classes < 0:
            raise ValueError(f"mask_classes must be >= 0, got {mask_classes}")
        widths = _widths(image_size, width)
        self.image_size, self.latent_dim, self.beta, self.width = image_size, latent_dim, float(beta), width
        self.mask_classes = int(mask_classes)
        layers, channels = [], 1 + self.mask_classes
        for w in widths:
            layers += [nn.Conv2d(channels, w, 4, stride=2, padding=1), nn.SiLU()]
            channels = w
        self.encoder = nn.Sequential(*layers, nn.Flatten())
        flat = channels * _BOTTOM * _BOTTOM
        self.to_posterior = nn.Linear(flat, 2 * latent_dim)
        self.from_latent = nn.Sequential(nn.Linear(latent_dim, flat), nn.SiLU())
        layers = []
        for w in reversed(widths):
            layers += [nn.ConvTranspose2d(channels, w, 4, stride=2, padding=1), nn.SiLU()]
            channels = w
        self.decoder = nn.Sequential(*layers, nn.Conv2d(channels, 1 + self.mask_classes, 3, padding=1))
        self._bottom_channels = widths[-1]

    def config(self) -> dict:
        """Constructor arguments, stored in checkpoints."""
        return {"image_size": self.image_size, "latent_dim": self.latent_dim, "beta": self.beta, "width": self.width,
                "mask_classes": self.mask_classes}

    def encode(self, images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        channels = [images[:, None]]
        if self.mask_classes:
            channels.append(nnf.one_hot(masks.long(), self.mask_classes).permute(0, 3, 1, 2).to(images.dtype))
        features = self.encoder(torch.cat(channels, dim=1))
        mu, logvar = self.to_posterior(features).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.from_latent(z).view(len(z), self._bottom_channels, _BOTTOM, _BOTTOM)
        out = self.decoder(hidden)
        return torch.sigmoid(out[:, 0]), out[:, 1:]

    def forward(self, images, masks, generator: torch.Generator | None = None):
        mu, logvar = self.encode(images, masks)
        # drawn on the CPU and moved: the same seed gives the same noise on any device
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
        image, logits = self.decode(mu + eps * torch.exp(0.5 * logvar))
        return image, logits, mu, logvar

    def loss(self, images, masks, generator: torch.Generator | None = None) -> dict:
        """The beta-VAE loss terms, each averaged over the batch (sums over pixels and latents)."""
        image, logits, mu, logvar = self(images, masks, generator)
        recon_image = ((image - images) ** 2).flatten(1).sum(1).mean()
        recon_mask = (nnf.cross_entropy(logits, masks.long(), reduction="none").flatten(1).sum(1).mean()
                      if self.mask_classes else torch.zeros((), device=images.device))
        kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)).mean()
        return {"loss": recon_image + recon_mask + self.beta * kl,
                "image": recon_image, "mask": recon_mask, "kl": kl}


def device_of(module) -> torch.device:
    """Where a module's parameters live (the CPU for a module without parameters or a non-module)."""
    parameters = getattr(module, "parameters", None)
    first = next(iter(parameters()), None) if parameters is not None else None
    return first.device if first is not None else torch.device("cpu")


def encode_arrays(generator, images, masks) -> torch.Tensor:
    """``mu_E`` of numpy images ``(B, H, W)`` and masks, on the generator's device."""
    device = device_of(generator)
    with torch.no_grad():
        mu, _ = generator.encode(torch.as_tensor(np.asarray(images, np.float32)).to(device),
                                 torch.as_tensor(np.asarray(masks, np.int64)).to(device))
    return mu


def decode_pairs(generator, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode latent points to images ``(B, H, W)`` and hard masks ``(B, H, W)`` uint8, on the CPU.

    A generator without masks (no logit channels) gives all-zero masks.
    """
    with torch.no_grad():
        image, logits = generator.decode(z.to(device_of(generator)))
    image = image.clamp(0, 1).cpu()
    if logits is None or logits.shape[1] == 0:
        return image, torch.zeros(image.shape, dtype=torch.uint8)
    return image, logits.argmax(1).to(torch.uint8).cpu()
