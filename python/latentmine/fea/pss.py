"""Plaque structural stress (PSS): the one definition, for labels and predictions alike.

PSS is the largest maximum principal stress at the wall next to the lumen
(Teng et al., Circ Cardiovasc Imaging 7, 2014; Costopoulos et al., JACC
Cardiovasc Imaging 10, 2017). It is computed here from the in-plane maximum
principal stress *pixel map* -- the map that :class:`~latentmine.fea.Labeller`
returns and that the network F predicts -- plus the mask and the pixel size, so
that the labelling tool, the loop and the study score a label and a prediction
with the same function.

The wall value is recovered by a wall-normal fit that converges under mesh
refinement (docs/fea.md, "PSS", has the derivation and the measurements):

* The staircase lumen edge makes the first pixel layers wrong: every re-entrant
  pixel corner is a stress singularity, and refinement does not remove it. So
  only pixels ``FIT_DEPTH_PX`` = 3 to 7 pixels deep enter the fit; that window
  shrinks with the pixels, so the extrapolation distance goes to zero.
* The depth coordinate is the Euclidean distance to a sub-pixel lumen
  boundary: the 0.5 level of the lumen indicator smoothed by a Gaussian of
  ``BOUNDARY_SMOOTHING_PX``, which lies within 0.05 px of a rasterised
  circle, where the distance to the lumen pixel centres is 0.3 px off.
* At every wall pixel (material 8-adjacent to the lumen), the pixels of its
  own tissue in the depth window of a square box of half-width
  ``FIT_HALF_WIDTH_MM`` (at least ``FIT_HALF_WIDTH_MIN_PX``) are fitted by
  least squares with ``s = c0 + c1 d``, and ``c0`` is the wall value. The box
  is fixed in millimetres because the staircase error is coherent along the
  wall over a length that grows in pixels as they shrink (the runs of a
  rasterised circle are about ``sqrt(2 R h)`` long); it averages that error out.
  This is a superconvergent-patch-style recovery (Zienkiewicz and Zhu, Int J
  Numer Meth Eng 33, 1992) from element centres away from the edge,
  extrapolated along the wall normal.
* PSS is the largest wall value: rule ``"wall-fit"``.

A wall pixel whose own tissue is thinner than the window (a cap over a lipid
pool, a thin wall) cannot be fitted. There the map is nodally averaged over the
material (each node the mean of its material pixels, each pixel the mean of its
four nodes) and its largest value over the pixels 2 to 3 steps (4-connected)
from the lumen near those wall pixels is taken (``FALLBACK_BAND_STEPS``; all
pixels within 3 steps if none is that deep): rule ``"thin-wall"``. The rule of
a sample is that of the value that gave its PSS (:func:`pss_and_rule`).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..labels import TISSUES, Label

#: Depth window of the wall-normal fit, pixels from the sub-pixel lumen boundary.
FIT_DEPTH_PX = (3.0, 7.0)
#: Half-width of the square box along the wall whose pixels enter one wall pixel's fit.
FIT_HALF_WIDTH_MM = 0.4
#: Lower bound on that half-width in pixels, for coarse frames.
FIT_HALF_WIDTH_MIN_PX = 4
#: Gaussian (pixels) that smooths the lumen indicator before its 0.5 level is taken as the boundary.
BOUNDARY_SMOOTHING_PX = 2.0
#: Fewest pixels in one wall pixel's fit.
MIN_FIT_PIXELS = 6
#: Band of the thin-wall rule: pixels this many 4-connected steps from the lumen.
FALLBACK_BAND_STEPS = (2, 3)
#: The rules a sample's PSS can take (see the module docstring).
RULES = ("wall-fit", "thin-wall")
# Material flags of uint8 codes, faster than np.isin on the masks the tool passes.
_TISSUE_LOOKUP = np.isin(np.arange(256), [int(t) for t in TISSUES])
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
    material = _TISSUE_LOOKUP[mask] if mask.dtype == np.uint8 else np.isin(mask, [int(t) for t in TISSUES])
    if not (mask == Label.LUMEN).any() or not material.any():
        raise ValueError(f"mask{where} needs a lumen and material for a plaque structural stress")
    if not np.isfinite(principal[material]).all():
        raise ValueError(f"principal{where} has non-finite values on the material")
    return principal, mask, material, size


def fit_half_width_px(pixel_size_mm: float) -> int:
    """Half-width in pixels of the box along the wall: ``FIT_HALF_WIDTH_MM``, at least ``FIT_HALF_WIDTH_MIN_PX``."""
    return max(FIT_HALF_WIDTH_MIN_PX, int(round(FIT_HALF_WIDTH_MM / pixel_size_mm)))


def nodal_average(field: np.ndarray, material: np.ndarray) -> np.ndarray:
    """Pixel field averaged over the material pixels around each node and back; NaN off material."""
    total = ndimage.convolve(np.where(material, field, 0.0), _SMOOTHING, mode="constant")
    count = ndimage.convolve(material.astype(np.float64), _SMOOTHING, mode="constant")
    return np.where(material, total / np.maximum(count, 1e-300), np.nan)


def lumen_depth(lumen: np.ndarray, near: np.ndarray, sigma_px: float = BOUNDARY_SMOOTHING_PX) -> np.ndarray:
    """Distance in pixels from the pixel centres ``near`` to the sub-pixel lumen boundary; ``inf`` elsewhere.

    The boundary is the 0.5 level of the lumen indicator smoothed by a
    Gaussian of ``sigma_px``, sampled where it crosses the grid lines between
    4-adjacent pixel centres (linear interpolation).
    """
    # The smoothed indicator crosses 0.5 only within the Gaussian's reach (4 sigma) of the lumen.
    (top, bottom), (left, right) = _lumen_box(lumen, int(math.ceil(4 * sigma_px)) + 1)
    level = ndimage.gaussian_filter(lumen[top:bottom, left:right].astype(np.float64), sigma_px, mode="constant") - 0.5
    points = []
    for axis in (0, 1):
        first, second = (level[:-1], level[1:]) if axis == 0 else (level[:, :-1], level[:, 1:])
        rows, cols = np.nonzero(first * second < 0)
        step = first[rows, cols] / (first[rows, cols] - second[rows, cols])
        rows, cols = rows + top, cols + left
        points.append(np.stack([rows + step, cols + 0.0] if axis == 0 else [rows + 0.0, cols + step], axis=1))
    depth = np.full(lumen.shape, np.inf)
    rows, cols = np.nonzero(near)
    depth[rows, cols] = cKDTree(np.concatenate(points)).query(np.stack([rows, cols], axis=1).astype(float))[0]
    return depth


def _box_sums(images: np.ndarray, rows: np.ndarray, cols: np.ndarray, half: int) -> np.ndarray:
    """Sums of each of K images over the (2 half + 1)² box around each (row, col): ``(K, len(rows))``."""
    k, height, width = images.shape
    table = np.zeros((k, height + 1, width + 1))
    table[:, 1:, 1:] = images.cumsum(1).cumsum(2)
    top, bottom = np.clip(rows - half, 0, height), np.clip(rows + half + 1, 0, height)
    left, right = np.clip(cols - half, 0, width), np.clip(cols + half + 1, 0, width)
    return table[:, bottom, right] - table[:, top, right] - table[:, bottom, left] + table[:, top, left]


def _wall_fit(principal, in_window, depth, rows, cols, half):
    """Wall value ``c0`` of the fit ``s = c0 + c1 d`` over the window pixels of each box; NaN if unfittable."""
    d = np.where(in_window, depth, 0.0)
    s = np.where(in_window, principal, 0.0)
    n, sd, sdd, ss, ssd = _box_sums(np.stack([in_window.astype(np.float64), d, d * d, s, s * d]), rows, cols, half)
    spread = n * sdd - sd * sd
    ok = (n >= MIN_FIT_PIXELS) & (spread > 1e-9 * np.maximum(n * n, 1.0))
    slope = np.where(ok, (n * ssd - sd * ss) / np.where(ok, spread, 1.0), np.nan)
    return np.where(ok, (ss - slope * sd) / np.maximum(n, 1.0), np.nan)


def _lumen_box(lumen: np.ndarray, margin: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((top, bottom), (left, right))`` of the lumen's bounding box grown by ``margin``, inside the frame."""
    rows, cols = np.flatnonzero(lumen.any(axis=1)), np.flatnonzero(lumen.any(axis=0))
    return ((max(rows[0] - margin, 0), min(rows[-1] + margin + 1, lumen.shape[0])),
            (max(cols[0] - margin, 0), min(cols[-1] + margin + 1, lumen.shape[1])))


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
        Side of a pixel; it sets the width of the fit along the wall.

    Raises
    ------
    ValueError
        For shapes that differ, a bad pixel size, a mask without lumen or
        material, or non-finite stress on the material.
    """
    principal, mask, material, pixel_size_mm = _check(principal, mask, pixel_size_mm, _where)
    half = fit_half_width_px(pixel_size_mm)
    # Boxes around the wall pixels (1.5 px from the lumen) and the thin-wall band (3 + 3 px) fit in this margin.
    margin = max(half + 2, 2 * FALLBACK_BAND_STEPS[1] + 2)
    window = tuple(slice(*ends) for ends in _lumen_box(mask == Label.LUMEN, margin))
    principal, mask, material = principal[window], mask[window], material[window]
    lumen = mask == Label.LUMEN
    to_lumen = ndimage.distance_transform_edt(~lumen)
    # The sub-pixel depth is within a pixel of the distance to the lumen pixel centres: query only those.
    depth = lumen_depth(lumen, material & (to_lumen >= FIT_DEPTH_PX[0] - 1) & (to_lumen <= FIT_DEPTH_PX[1] + 1.5))
    wall = material & (to_lumen < 1.5)
    rows, cols = np.nonzero(wall)
    values, thin = np.full(len(rows), np.nan), np.zeros(len(rows), bool)
    for tissue in np.unique(mask[rows, cols]):
        mine = mask[rows, cols] == tissue
        layer = ndimage.distance_transform_edt((mask == tissue) | lumen)[rows[mine], cols[mine]]
        thin[mine] = layer < FIT_DEPTH_PX[1] + 0.5
        in_window = (mask == tissue) & (depth >= FIT_DEPTH_PX[0]) & (depth <= FIT_DEPTH_PX[1])
        values[mine] = _wall_fit(principal, in_window, depth, rows[mine], cols[mine], half)
    thin |= ~np.isfinite(values)
    fallback = _thin_wall_value(principal, mask, material, rows[thin], cols[thin]) if thin.any() else None
    if not (~thin).any():
        return fallback, "thin-wall"
    best = float(np.max(values[~thin]))
    if fallback is not None and fallback > best + 1e-9 * abs(best):  # a tie (a uniform map) stays with the fit
        return fallback, "thin-wall"
    return best, "wall-fit"


def _thin_wall_value(principal, mask, material, rows, cols) -> float:
    """The thin-wall rule: largest nodal average in the band ``FALLBACK_BAND_STEPS`` near the given wall pixels."""
    low, high = FALLBACK_BAND_STEPS
    # Only the neighbourhood of those wall pixels matters (the nodal average reaches one pixel further).
    top, left = max(rows.min() - 2 * high - 2, 0), max(cols.min() - 2 * high - 2, 0)
    window = slice(top, rows.max() + 2 * high + 3), slice(left, cols.max() + 2 * high + 3)
    principal, mask, material, rows, cols = principal[window], mask[window], material[window], rows - top, cols - left
    near = np.zeros(mask.shape, bool)
    near[rows, cols] = True
    near = ndimage.maximum_filter(near, size=2 * high + 1, mode="constant") & material
    steps = ndimage.distance_transform_cdt(mask != Label.LUMEN, metric="taxicab")
    band = near & (steps >= low) & (steps <= high)
    if not band.any():
        band = near & (steps <= high)
    return float(np.max(nodal_average(principal, material)[band]))


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
