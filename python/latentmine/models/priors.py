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

Both are zero outside the wall. :class:`~latentmine.models.StressUNet` takes
them with ``priors=``, the loop and the study with ``LoopConfig.priors``
(for example ``"lame"`` or ``"depth+lame"``); docs/study.md has what they
are worth on validation (``benchmarks/surrogate_quality.py --features``).
"""
from __future__ import annotations

import math

import torch

from ..fea.reference import lame_stresses
from ..labels import TISSUES, Label
from ..units import DEFAULT_PRESSURE_KPA

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


def parse_priors(text: str) -> tuple:
    """``"none"`` (or ``""``) -> ``()``; ``"depth+lame"`` -> ``("depth", "lame")``, checked."""
    if not isinstance(text, str):
        raise ValueError(f"priors: expected 'none' or names joined by '+', got {text!r}")
    return () if text in ("", "none") else check_priors(text.split("+"))


def wall_priors(mask_probs: torch.Tensor, priors, *, scale_kpa: float,
                pressure_kpa: float = DEFAULT_PRESSURE_KPA) -> torch.Tensor:
    """The ``priors`` channels ``(B, len(priors), H, W)`` of IVUS mask probabilities ``(B, L, H, W)``.

    Stresses are divided by ``scale_kpa`` (F's output unit).
    """
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
        "lame": lambda: lame_stresses(radius, inner, outer, pressure_kpa / scale_kpa, 0.0)[1],
    }
    return torch.stack([channels[name]() * wall for name in priors], dim=1)
