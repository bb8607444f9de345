"""Masks to try the finite-element labelling tool on: rings and a realistic plaque.

Geometry is given as fractions of the image size so that one shape can be
drawn at 64, 256 or 512 pixels. Image coordinates: ``x`` is the column index,
``y`` the row index (pointing down), in pixels, measured at pixel centres.
"""
from __future__ import annotations

import numpy as np

from ..labels import Label


def _polar(size: int, centre) -> tuple[np.ndarray, np.ndarray]:
    """Radius and angle of every pixel centre about ``centre`` = (x, y)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    dx, dy = x - centre[0], y - centre[1]
    return np.hypot(dx, dy), np.arctan2(dy, dx)


def ring_mask(size: int, inner: float, outer: float, *, middle: float | None = None,
              outer_label: Label = Label.FIBROUS, lumen_offset: float = 0.0) -> np.ndarray:
    """A centred lumen of radius ``inner`` inside a wall of outer radius ``outer`` (pixels).

    With ``middle``, pixels with ``middle <= r < outer`` get ``outer_label``: a
    two-layer (composite) cylinder. ``lumen_offset`` moves the lumen by that
    many pixels along x: an eccentric ring, thinnest at angle 0.
    """
    r, _ = _polar(size, (size / 2, size / 2))
    r_lumen, _ = _polar(size, (size / 2 + lumen_offset, size / 2))
    mask = np.full((size, size), Label.OUTSIDE, np.uint8)
    mask[r < outer] = Label.FIBROUS
    if middle is not None:
        mask[(r >= middle) & (r < outer)] = outer_label
    mask[r_lumen < inner] = Label.LUMEN
    return mask


def _sector(theta: np.ndarray, centre: float, half_width: float) -> np.ndarray:
    return np.abs(np.angle(np.exp(1j * (theta - centre)))) <= half_width


def plaque_mask(size: int = 256) -> np.ndarray:
    """An eccentric plaque: lumen, fibrous wall, a lipid pool under a thin cap, a calcium arc.

    At 256 pixels (31 um each, about 7.9 mm across) the wall has about 28k
    pixels; the fibrous cap over the lipid pool is ``max(2, 0.012 size)``
    pixels thick (about 90 um at 256, a thin cap).
    """
    outer_r, lumen_r, offset = 0.41 * size, 0.17 * size, 0.08 * size
    cap = max(2.0, round(0.012 * size))
    r_vessel, _ = _polar(size, (size / 2, size / 2))
    r, theta = _polar(size, (size / 2 + offset, size / 2))
    mask = np.full((size, size), Label.OUTSIDE, np.uint8)
    mask[r_vessel < outer_r] = Label.FIBROUS
    lipid = (r >= lumen_r + cap) & (r < lumen_r + cap + 0.12 * size) & _sector(theta, np.pi, np.radians(45))
    calcium = (r >= lumen_r + 0.16 * size) & (r < lumen_r + 0.2 * size) & _sector(theta, -np.pi / 2, np.radians(35))
    mask[lipid & (r_vessel < outer_r)] = Label.LIPID
    mask[calcium & (r_vessel < outer_r)] = Label.CALCIUM
    mask[r < lumen_r] = Label.LUMEN
    return mask


def polar_stresses(sxx, syy, sxy, centre=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Radius (pixels), s_rr and s_tt of Cartesian pixel stresses about ``centre`` = (x, y).

    s_rr = sxx cos^2 t + syy sin^2 t + 2 sxy sin t cos t and
    s_tt = sxx sin^2 t + syy cos^2 t - 2 sxy sin t cos t; the default centre is
    the image centre, where :func:`ring_mask` draws.
    """
    size = sxx.shape[-1]
    radius, theta = _polar(size, centre or (size / 2, size / 2))
    c, s = np.cos(theta), np.sin(theta)
    s_rr = sxx * c * c + syy * s * s + 2 * sxy * s * c
    s_tt = sxx * s * s + syy * c * c - 2 * sxy * s * c
    return radius, s_rr, s_tt
