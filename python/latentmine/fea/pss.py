"""Plaque structural stress (PSS): the one definition, for labels and predictions alike.

PSS is the largest maximum principal stress in the wall next to the lumen
(Teng et al., Circ Cardiovasc Imaging 7, 2014; Costopoulos et al., JACC
Cardiovasc Imaging 10, 2017). It is computed here from the in-plane maximum
principal stress *pixel map* -- the map that :class:`~latentmine.fea.Labeller`
returns and that the network F predicts -- plus the mask and the pixel size, so
that the labelling tool, the loop and the study score a label and a prediction
with the same function.

Pixel centre stresses overshoot at the staircase lumen edge, so the map is
first nodally averaged over the material pixels (each node takes the mean of
the material pixels around it, each pixel the mean of its four nodes: a
separable [1 2 1]/4 kernel restricted to material), and PSS is the largest
value over the pixels 2 and 3 steps (4-connected) from the lumen,
``BAND_STEPS``. A wall with no pixel that deep falls back to every material
pixel within 3 steps (rule ``"thin-wall"``); :func:`pss_and_rule` says which
rule a sample took.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ..labels import TISSUES, Label

#: Peri-luminal band searched for PSS: pixels this many 4-connected steps from the lumen.
BAND_STEPS = (2, 3)
#: The rules a sample's PSS can take (see the module docstring).
RULES = ("band", "thin-wall")
# Node averaging then pixel averaging is a separable [1 2 1] / 4 kernel.
_SMOOTHING = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0])


def _check(principal, mask, pixel_size_mm, where=""):
    principal = np.asarray(principal, np.float64)
    mask = np.asarray(mask)
    if principal.ndim != 2 or principal.shape != mask.shape:
        raise ValueError(f"principal{where} must be an (H, W) map of the mask's shape, got {principal.shape} "
                         f"and mask {mask.shape}")
    size = float(pixel_size_mm)
    if not (math.isfinite(size) and size > 0):
        raise ValueError(f"pixel_size_mm must be a positive finite number, got {pixel_size_mm}")
    material = np.isin(mask, [int(t) for t in TISSUES])
    if not (mask == Label.LUMEN).any() or not material.any():
        raise ValueError(f"mask{where} needs a lumen and material for a plaque structural stress")
    if not np.isfinite(principal[material]).all():
        raise ValueError(f"principal{where} has non-finite values on the material")
    return principal, mask, material


def nodal_average(field: np.ndarray, material: np.ndarray) -> np.ndarray:
    """Pixel field averaged over the material pixels around each node and back; NaN off material."""
    total = ndimage.convolve(np.where(material, field, 0.0), _SMOOTHING, mode="constant")
    count = ndimage.convolve(material.astype(np.float64), _SMOOTHING, mode="constant")
    return np.where(material, total / np.maximum(count, 1e-300), np.nan)


def pss_and_rule(principal, mask, pixel_size_mm: float, *, _where: str = "") -> tuple[float, str]:
    """PSS of one sample (kPa) and the rule of :data:`RULES` it was taken by.

    Parameters
    ----------
    principal : array (H, W)
        In-plane maximum principal stress, kPa; values off the material
        (0 or NaN) are ignored.
    mask : array (H, W) of int
        :class:`~latentmine.labels.Label` codes, with a lumen and material.
    pixel_size_mm : float
        Side of a pixel.

    Raises
    ------
    ValueError
        For shapes that differ, a bad pixel size, a mask without lumen or
        material, or non-finite stress on the material.
    """
    principal, mask, material = _check(principal, mask, pixel_size_mm, _where)
    smooth = nodal_average(principal, material)
    steps = ndimage.distance_transform_cdt(mask != Label.LUMEN, metric="taxicab")
    near = (steps >= BAND_STEPS[0]) & (steps <= BAND_STEPS[1]) & material
    rule = "band"
    if not near.any():
        near, rule = (steps <= BAND_STEPS[1]) & material, "thin-wall"
    return float(np.max(smooth[near])), rule


def plaque_structural_stress(principal, mask, pixel_size_mm: float) -> float:
    """PSS of one sample, kPa: see :func:`pss_and_rule` and the module docstring."""
    return pss_and_rule(principal, mask, pixel_size_mm)[0]


def pss_and_rule_batch(principal, masks, pixel_size_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pss_and_rule` of each of N samples: PSS ``(N,)`` float64 and the rules ``(N,)`` (str objects)."""
    principal, masks = np.asarray(principal), np.asarray(masks)
    if principal.ndim != 3 or principal.shape != masks.shape:
        raise ValueError(f"principal must be (N, H, W) of the masks' shape, got {principal.shape} "
                         f"and masks {masks.shape}")
    values, rules = np.empty(len(masks)), np.empty(len(masks), object)
    for i, (field, mask) in enumerate(zip(principal, masks)):
        values[i], rules[i] = pss_and_rule(field, mask, pixel_size_mm, _where=f" of sample {i}")
    return values, rules


def plaque_structural_stress_batch(principal, masks, pixel_size_mm: float) -> np.ndarray:
    """PSS of each of N samples, ``(N,)`` kPa, from ``(N, H, W)`` maps and masks."""
    return pss_and_rule_batch(principal, masks, pixel_size_mm)[0]
