"""Losses of the target network, and the peri-luminal band that the loss can up-weight.

The band is a loss-weighting region only: the material within ``band_px``
pixels (chessboard distance) of the lumen, where the plaque structural stress
lives (Teng et al., Circ Cardiovasc Imaging 2014). The PSS itself has one
definition, :func:`latentmine.fea.plaque_structural_stress`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as nnf

from ..labels import TISSUES, Label

#: Width in pixels of the peri-luminal loss-weighting band.
LOSS_BAND_PX = 3


def loss_weighting_band(masks: torch.Tensor, band_px: int = LOSS_BAND_PX) -> torch.Tensor:
    """Boolean ``(B, H, W)``: material pixels within ``band_px`` (chessboard distance) of the lumen."""
    lumen = (masks == Label.LUMEN).float()[:, None]
    near = nnf.max_pool2d(lumen, 2 * band_px + 1, stride=1, padding=band_px)[:, 0] > 0
    material = torch.zeros_like(near)
    for tissue in TISSUES:
        material |= masks == tissue
    return near & material


class WeightedMSE:
    """Per-sample MSE, optionally up-weighting the peri-luminal peak-stress region.

    Pixel weights are ``1 + peak_weight`` inside :func:`loss_weighting_band` and
    1 elsewhere, normalised to mean 1 per sample so the scale of the loss does
    not change with ``peak_weight``. ``peak_weight=0`` is the plain MSE.
    """

    def __init__(self, peak_weight: float = 0.0, band_px: int = LOSS_BAND_PX):
        if peak_weight < 0:
            raise ValueError(f"peak_weight must be >= 0, got {peak_weight}")
        self.peak_weight, self.band_px = float(peak_weight), int(band_px)

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        squared = (pred - target) ** 2
        if self.peak_weight == 0:
            return squared.flatten(1).mean(1)
        weight = 1.0 + self.peak_weight * loss_weighting_band(masks, self.band_px).to(pred.dtype)
        weight = weight / weight.flatten(1).mean(1)[:, None, None]
        return (weight * squared).flatten(1).mean(1)
