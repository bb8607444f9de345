"""Input channels that carry wall geometry and the closed-form stress to F.

F sees a frame and its one-hot (or, for a decoded sample, softmax) mask. With
few labels it must learn from scratch that the stress is a hoop stress that
falls off from the lumen. These channels hand it that prior, computed from
the mask probabilities alone, so that they stay differentiable in a decoded
sample's latent point:

* ``"depth"``: the normalised depth into the wall, ``(r − r_i) / (r_o − r_i)``
  clipped to [0, 1], where ``r`` is the distance from the lumen's centroid and
  ``r_i``, ``r_o`` are the radii of circles with the lumen's area and the
  vessel's (lumen + wall) area.
* ``"lame"``: the Lamé hoop stress of that equivalent cylinder under the
  labelling tool's blood pressure (:func:`latentmine.fea.reference.lame_stresses`,
  ``p r_i²/(r_o² − r_i²) (1 + r_o²/r²)``) in F's output units.

Both are zero outside the wall. Issue #10 measures whether they help
(``benchmarks/surrogate_quality.py --features``).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..fea.reference import lame_stresses
from ..labels import NUM_LABELS, TISSUES, Label
from ..units import DEFAULT_PRESSURE_KPA
from .target import STRESS_SCALE_KPA, StressUNet

#: The prior channels F can take, in the order they are stacked.
PRIOR_NAMES = ("depth", "lame")


def check_priors(priors) -> tuple:
    """``priors`` as a tuple of names from :data:`PRIOR_NAMES`; ``ValueError`` names a bad one."""
    priors = tuple(priors)
    for name in priors:
        if name not in PRIOR_NAMES:
            raise ValueError(f"priors: unknown prior {name!r}, expected names from {PRIOR_NAMES}")
    if len(set(priors)) != len(priors):
        raise ValueError(f"priors: each name at most once, got {priors}")
    return priors


def wall_priors(mask_probs: torch.Tensor, priors, pressure_kpa: float = DEFAULT_PRESSURE_KPA) -> torch.Tensor:
    """The ``priors`` channels ``(B, len(priors), H, W)`` of mask probabilities ``(B, L, H, W)``."""
    priors = check_priors(priors)
    lumen = mask_probs[:, Label.LUMEN]
    wall = mask_probs[:, list(TISSUES)].sum(1)
    rows = torch.arange(lumen.shape[-2], dtype=lumen.dtype, device=lumen.device)[:, None]
    cols = torch.arange(lumen.shape[-1], dtype=lumen.dtype, device=lumen.device)[None, :]
    lumen_area = lumen.sum((1, 2)).clamp_min(1.0)
    centre_row = (lumen * rows).sum((1, 2)) / lumen_area
    centre_col = (lumen * cols).sum((1, 2)) / lumen_area
    inner = torch.sqrt(lumen_area / math.pi)[:, None, None]
    outer = torch.sqrt((lumen_area + wall.sum((1, 2))) / math.pi)[:, None, None].clamp_min(inner + 0.5)
    radius = torch.sqrt((rows - centre_row[:, None, None]) ** 2 + (cols - centre_col[:, None, None]) ** 2
                        ).clamp_min(0.5)
    channels = {
        "depth": lambda: ((radius - inner) / (outer - inner)).clamp(0.0, 1.0),
        "lame": lambda: lame_stresses(radius, inner, outer, pressure_kpa / STRESS_SCALE_KPA, 0.0)[1],
    }
    return torch.stack([channels[name]() * wall for name in priors], dim=1)


class PriorUNet(nn.Module):
    """A :class:`~latentmine.models.StressUNet` whose input gains :func:`wall_priors` channels.

    It takes the same input as ``StressUNet(input_mode)`` (the mask's
    probabilities last) and computes the priors in ``forward``, so training,
    D4 augmentation and the latent gradient pass through them unchanged.
    """

    def __init__(self, input_mode: str = "both", priors=PRIOR_NAMES, **unet):
        super().__init__()
        if input_mode not in ("mask", "both"):
            raise ValueError(f"PriorUNet: input_mode must be 'mask' or 'both' (the priors need the mask), "
                             f"got {input_mode!r}")
        self.priors = check_priors(priors)
        if not self.priors:
            raise ValueError("PriorUNet: priors must name at least one prior")
        self.input_mode, self.mask_classes = input_mode, None
        self.unet = StressUNet(input_mode, mask_classes=NUM_LABELS + len(self.priors), **unet)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, H, W)``: the priors are appended to ``x`` as channels."""
        return self.unet(torch.cat([x, wall_priors(x[:, -NUM_LABELS:], self.priors)], dim=1))
