"""Losses of the target network and the peri-luminal region they can stress.

Plaque structural stress (PSS) is the maximum principal stress in the region
next to the lumen (Teng et al., Circ Cardiovasc Imaging 2014). On a pixel grid
the first ring of wall pixels is biased by the staircase lumen edge, so the
region used here is the material within ``band_px`` pixels of the lumen.
"""
from __future__ import annotations

import torch
import torch.nn.functional as nnf

from ..labels import TISSUES, Label

#: Width in pixels of the peri-luminal band (PSS and the peak weighting).
PERI_LUMINAL_BAND_PX = 3


def peri_luminal_band(masks: torch.Tensor, band_px: int = PERI_LUMINAL_BAND_PX) -> torch.Tensor:
    """Boolean ``(B, H, W)``: material pixels within ``band_px`` (chessboard distance) of the lumen."""
    lumen = (masks == Label.LUMEN).float()[:, None]
    near = nnf.max_pool2d(lumen, 2 * band_px + 1, stride=1, padding=band_px)[:, 0] > 0
    material = torch.zeros_like(near)
    for tissue in TISSUES:
        material |= masks == tissue
    return near & material


def plaque_structural_stress(stress: torch.Tensor, masks: torch.Tensor,
                             band_px: int = PERI_LUMINAL_BAND_PX) -> torch.Tensor:
    """Largest stress in the peri-luminal band of each sample, ``(B,)``; 0 without a band."""
    band = peri_luminal_band(masks, band_px)
    return torch.where(band, stress, torch.zeros_like(stress)).flatten(1).amax(1)


class WeightedMSE:
    """Per-sample MSE, optionally up-weighting the peri-luminal peak-stress region.

    Pixel weights are ``1 + peak_weight`` inside :func:`peri_luminal_band` and
    1 elsewhere, normalised to mean 1 per sample so the scale of the loss does
    not change with ``peak_weight``. ``peak_weight=0`` is the plain MSE.
    """

    def __init__(self, peak_weight: float = 0.0, band_px: int = PERI_LUMINAL_BAND_PX):
        if peak_weight < 0:
            raise ValueError(f"peak_weight must be >= 0, got {peak_weight}")
        self.peak_weight, self.band_px = float(peak_weight), int(band_px)

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        squared = (pred - target) ** 2
        if self.peak_weight == 0:
            return squared.flatten(1).mean(1)
        weight = 1.0 + self.peak_weight * peri_luminal_band(masks, self.band_px).to(pred.dtype)
        weight = weight / weight.flatten(1).mean(1)[:, None, None]
        return (weight * squared).flatten(1).mean(1)
