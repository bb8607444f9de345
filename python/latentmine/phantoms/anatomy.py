"""Vessel-wall anatomy of the phantoms: outlines, cores and calcium, then masks.

Every outline is a radius tabulated on :data:`N_ANGLES` angles around the
vessel centre, so a whole block of phantoms is drawn with array operations
and rasterised by one table look-up per pixel.

The construction makes each mask a valid labelling-tool input by design:

- the lumen is star-shaped around the vessel centre, which stays at least
  ``border_margin_px`` pixels (plus the EEM radius) away from the frame edge;
- the wall between lumen and EEM is at least ``min_wall_px`` pixels thick;
- lipid and calcium only occupy the band that starts ``min_ring_px`` pixels
  outside the lumen and ends ``min_ring_px`` pixels (or the media) inside the
  EEM, so a continuous fibrous ring surrounds the lumen and carries the load.

See :mod:`latentmine.phantoms.params` for the literature behind the ranges.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..labels import Label
from .params import PhantomParams

#: Angles per outline table (0.5 deg: finer than a pixel at the EEM).
N_ANGLES = 720
_THETA = 2 * np.pi * np.arange(N_ANGLES) / N_ANGLES
_HARMONICS = np.arange(2, 5)
#: Calcium never fills more than this share of the plaque's depth: a sheet
#: spanning the whole wall would carry the entire hoop load on its own.
CALCIUM_ROOM_SHARE = 0.6


@dataclass
class Anatomy:
    """A block of phantoms. Radii in mm, ``(count, N_ANGLES)`` tables."""

    pixel_size_mm: float
    offset_px: np.ndarray        # (count, 2) vessel centre minus frame centre, (row, col)
    r_lumen: np.ndarray
    r_eem: np.ndarray
    core: np.ndarray             # (count, 2, N_ANGLES) inner, outer radius; empty where inner >= outer
    calcium: np.ndarray          # (count, 2, 2, N_ANGLES) [superficial, deep] x [inner, outer]
    spots: np.ndarray            # (count, max_spots, 3) centre x, y and radius; radius 0 = none
    summary: list                # per phantom, JSON-able drawn parameters


def draw(rng: np.random.Generator, count: int, params: PhantomParams, size: int) -> Anatomy:
    """Draw ``count`` phantoms' anatomy for a ``size`` x ``size`` frame."""
    p, pix = params, params.pixel_size_mm(size)
    ring, back = p.min_ring_px * pix, max(p.media_mm, p.min_ring_px * pix)
    max_offset = min(p.max_vessel_offset_mm, p.fov_mm / 4)
    r_eem_cap = p.fov_mm / 2 - max_offset - (p.border_margin_px + 1) * pix

    diameter = rng.uniform(*p.eem_diameter_mm, count)
    r_eem = 0.5 * diameter[:, None] * _ellipse(rng, count, p.axis_ratio) * _harmonic(rng, count, p.fourier_amplitude)
    r_eem = np.minimum(r_eem, r_eem_cap)
    eem_area = np.pi * np.mean(r_eem ** 2, axis=1)

    burden = _clip_burden(rng.uniform(*p.plaque_burden, count), eem_area, p.lumen_diameter_mm)
    min_wall = max(p.min_wall_mm, p.min_wall_px * pix)
    eccentricity = rng.uniform(*p.eccentricity, count)
    plaque_angle = rng.uniform(0, 2 * np.pi, count)
    thickness_shape = ((1 - eccentricity)[:, None]
                       + eccentricity[:, None] * ((1 + np.cos(_THETA - plaque_angle[:, None])) / 2) ** 2)
    thickness_shape *= _harmonic(rng, count, 2 * p.fourier_amplitude)
    r_lumen = _lumen_for_area(r_eem - min_wall, thickness_shape, (1 - burden) * eem_area)
    r_lumen = np.minimum(np.maximum(r_lumen, p.catheter_radius_mm + 2 * pix), r_eem - min_wall)

    offset_px = _vessel_offset(rng, r_lumen.min(axis=1) - p.catheter_radius_mm - pix, max_offset, pix)
    core, cap_mm, core_arc = _lipid_core(rng, p, r_lumen, r_eem, plaque_angle, ring, back, pix)
    calcium, calcium_arcs = _calcium_arcs(rng, p, r_lumen, r_eem, plaque_angle, ring, back)
    spots = _calcium_spots(rng, p, r_lumen, r_eem, ring, back)

    summary = [{
        "eem_diameter_mm": float(2 * np.sqrt(eem_area[i] / np.pi)),
        "target_plaque_burden": float(burden[i]),
        "eccentricity": float(eccentricity[i]),
        "lipid_core": bool(core_arc[i] > 0),
        "cap_thickness_um": float(cap_mm[i] * 1000) if core_arc[i] > 0 else None,
        "core_arc_deg": float(np.degrees(core_arc[i])),
        "superficial_calcium_arc_deg": float(np.degrees(calcium_arcs[i, 0])),
        "deep_calcium_arc_deg": float(np.degrees(calcium_arcs[i, 1])),
        "calcium_spots": int(np.count_nonzero(spots[i, :, 2])),
        "vessel_offset_px": [int(v) for v in offset_px[i]],
    } for i in range(count)]
    return Anatomy(pix, offset_px, r_lumen, r_eem, core, calcium, spots, summary)


def _ellipse(rng, count, axis_ratio):
    """Radius of an ellipse of area pi (unit area-equivalent radius), random orientation."""
    ratio = rng.uniform(*axis_ratio, count)[:, None]
    angle = _THETA - rng.uniform(0, np.pi, count)[:, None]
    return 1.0 / np.sqrt(ratio * np.cos(angle) ** 2 + np.sin(angle) ** 2 / ratio)


def _harmonic(rng, count, amplitude):
    """``1 + sum_k a_k cos(k theta + phi_k)`` over harmonics 2-4, a_k ~ N(0, A/k)."""
    a = rng.normal(0.0, amplitude / _HARMONICS, (count, len(_HARMONICS)))
    phase = rng.uniform(0, 2 * np.pi, (count, len(_HARMONICS)))
    waves = np.cos(_HARMONICS[None, :, None] * _THETA + phase[..., None])
    return np.clip(1.0 + np.einsum("nk,nkt->nt", a, waves), 0.8, 1.2)


def _clip_burden(burden, eem_area, lumen_diameter_mm):
    """Burden limited so the area-equivalent lumen diameter stays within bounds."""
    eem_d2 = 4 * eem_area / np.pi
    low = 1 - lumen_diameter_mm[1] ** 2 / eem_d2
    high = 1 - lumen_diameter_mm[0] ** 2 / eem_d2
    return np.clip(burden, np.maximum(low, 0.0), np.maximum(high, 0.0))


def _lumen_for_area(outer, shape, area):
    """Lumen ``outer - w * shape`` whose area is ``area``: the smaller root of
    ``pi <shape^2> w^2 - 2 pi <outer shape> w + pi <outer^2> - area = 0``."""
    a = np.pi * np.mean(shape ** 2, axis=1)
    b = 2 * np.pi * np.mean(outer * shape, axis=1)
    c = np.pi * np.mean(outer ** 2, axis=1) - area
    root = (b - np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))) / (2 * a)
    return outer - np.maximum(root, 0.0)[:, None] * shape


def _vessel_offset(rng, room_mm, max_offset, pix):
    """Integer pixel offsets that keep the catheter inside the lumen."""
    reach = rng.uniform(0, 1, len(room_mm)) * np.clip(room_mm, 0.0, max_offset)
    angle = rng.uniform(0, 2 * np.pi, len(room_mm))
    # Truncation towards zero only shortens the offset, so the bound holds.
    return np.trunc(np.stack([np.sin(angle), np.cos(angle)], axis=1) * (reach / pix)[:, None]).astype(np.int64)


def _arc_profile(centre, arc):
    """``s`` in [-1, 1] across an arc of width ``arc`` centred on ``centre``; NaN-free."""
    delta = np.angle(np.exp(1j * (_THETA - centre[:, None])))
    return delta / (np.maximum(arc, 1e-9)[:, None] / 2)


def _angle_index(angle):
    return np.round(np.mod(angle, 2 * np.pi) / (2 * np.pi) * N_ANGLES).astype(np.int64) % N_ANGLES


def _lipid_core(rng, p, r_lumen, r_eem, plaque_angle, ring, back, pix):
    """A crescent core under a cap of log-uniform thickness, in the thick plaque."""
    count = len(r_lumen)
    present = rng.uniform(0, 1, count) < p.lipid_probability
    low, high = np.log(p.cap_thickness_um)
    cap = np.maximum(np.exp(rng.uniform(low, high, count)) / 1000.0, ring)
    centre = plaque_angle + rng.normal(0, np.radians(20), count)
    arc = np.radians(rng.uniform(*p.core_arc_deg, count))
    fraction = rng.uniform(*p.core_fraction, count)
    room = r_eem - back - (r_lumen + cap[:, None])
    thickness = fraction * np.take_along_axis(room, _angle_index(centre)[:, None], axis=1)[:, 0]
    present &= thickness >= max(2 * pix, p.min_core_mm)
    s = _arc_profile(centre, arc)
    bump = np.sqrt(np.clip(1 - s * s, 0, 1))
    inner = r_lumen + cap[:, None] + 0.25 * thickness[:, None] * (1 - bump)
    outer = np.minimum(r_lumen + cap[:, None] + thickness[:, None] * bump, r_eem - back)
    keep = present[:, None] & (np.abs(s) < 1)
    core = np.stack([np.where(keep, inner, np.inf), np.where(keep, outer, -np.inf)], axis=1)
    return core, cap, np.where(present, arc, 0.0)


def _calcium_arcs(rng, p, r_lumen, r_eem, plaque_angle, ring, back):
    """A superficial arc behind the luminal ring and a deep arc against the
    media, both in the plaque (scattered about its thickest part), drawn only
    where the plaque is deep enough, and at most :data:`CALCIUM_ROOM_SHARE`
    of its depth."""
    count = len(r_lumen)
    present = rng.uniform(0, 1, (count, 2)) < [p.superficial_calcium_probability, p.deep_calcium_probability]
    arc = np.radians(rng.uniform(*p.calcium_arc_deg, (count, 2)))
    thickness = rng.uniform(*p.calcium_thickness_mm, (count, 2))
    centre = plaque_angle[:, None] + rng.normal(0, np.radians(p.calcium_angle_spread_deg), (count, 2))
    first, last = r_lumen + ring, r_eem - back
    room = CALCIUM_ROOM_SHARE * np.maximum(last - first, 0)
    # Arcs calcify plaque: only where the plaque at the arc centre holds them
    # (calcium grows with plaque burden; Mintz 1995).
    present &= np.take_along_axis(room, _angle_index(centre), axis=1) >= thickness
    bands = []
    for kind in range(2):
        s = _arc_profile(centre[:, kind], arc[:, kind])
        depth = np.minimum(thickness[:, kind, None] * np.clip(1 - s * s, 0, 1) ** 0.25, room)  # blunt ends
        inner, outer = (first, np.minimum(first + depth, last)) if kind == 0 else \
            (np.maximum(last - depth, first), last)
        keep = present[:, kind, None] & (np.abs(s) < 1)
        bands.append(np.stack([np.where(keep, inner, np.inf), np.where(keep, outer, -np.inf)], axis=1))
    return np.stack(bands, axis=1), np.where(present, arc, 0.0)


def _calcium_spots(rng, p, r_lumen, r_eem, ring, back):
    """Small calcified nodules anywhere in the plaque band (spotty calcium)."""
    count, most = len(r_lumen), p.max_spots
    number = np.where(rng.uniform(0, 1, count) < p.spot_probability, rng.integers(1, most + 1, count), 0)
    radius = rng.uniform(*p.spot_diameter_mm, (count, most)) / 2
    angle = rng.uniform(0, 2 * np.pi, (count, most))
    where = rng.uniform(0, 1, (count, most))
    index = _angle_index(angle)
    first = np.take_along_axis(r_lumen, index, axis=1) + ring + radius
    room = np.take_along_axis(r_eem, index, axis=1) - back - radius - first
    centre_r = first + where * np.maximum(room, 0)
    radius = np.where((np.arange(most) < number[:, None]) & (room > 0), radius, 0.0)
    return np.stack([centre_r * np.cos(angle), centre_r * np.sin(angle), radius], axis=-1)


@functools.lru_cache(maxsize=8)
def _polar_map(size: int, margin: int, pix: float):
    """Radius (mm) and angle index about the frame centre on a grid padded by
    ``margin`` pixels, so a vessel offset is a slice of it."""
    coords = (np.arange(size + 2 * margin) - margin - (size - 1) / 2) * pix
    y, x = np.meshgrid(coords, coords, indexing="ij")
    radius = np.hypot(x, y).astype(np.float32)
    index = (np.round(np.arctan2(y, x) / (2 * np.pi) * N_ANGLES).astype(np.int64) % N_ANGLES).astype(np.int16)
    return radius, index, x.astype(np.float32), y.astype(np.float32)


def rasterise(anatomy: Anatomy, size: int, params: PhantomParams):
    """Label masks ``(count, size, size)`` uint8 and each pixel's signed
    distance outside the EEM along the radius (mm, negative inside)."""
    pix = anatomy.pixel_size_mm
    margin = int(np.abs(anatomy.offset_px).max(initial=0)) + 1
    maps = [np.lib.stride_tricks.sliding_window_view(m, (size, size)) for m in _polar_map(size, margin, pix)]
    rows, cols = margin - anatomy.offset_px[:, 0], margin - anatomy.offset_px[:, 1]
    radius, index, x, y = (m[rows, cols] for m in maps)
    count = len(radius)
    flat = index.reshape(count, -1)

    def table(values):
        return np.take_along_axis(values, flat, axis=1).reshape(radius.shape)

    r_lumen, r_eem = table(anatomy.r_lumen), table(anatomy.r_eem)
    ring, back = params.min_ring_px * pix, max(params.media_mm, params.min_ring_px * pix)
    band = (radius >= r_lumen + ring) & (radius < r_eem - back)
    masks = np.full(radius.shape, Label.FIBROUS, dtype=np.uint8)
    masks[radius < r_lumen] = Label.LUMEN
    masks[radius > r_eem] = Label.OUTSIDE
    lipid = band & (radius >= table(anatomy.core[:, 0])) & (radius < table(anatomy.core[:, 1]))
    masks[lipid] = Label.LIPID
    calcium = np.zeros_like(band)
    for kind in range(anatomy.calcium.shape[1]):
        calcium |= (radius >= table(anatomy.calcium[:, kind, 0])) & (radius < table(anatomy.calcium[:, kind, 1]))
    for cx, cy, r in anatomy.spots.transpose(1, 2, 0):
        calcium |= (x - cx[:, None, None]) ** 2 + (y - cy[:, None, None]) ** 2 < (r * r)[:, None, None]
    masks[band & calcium] = Label.CALCIUM
    # Outlines are tabulated per angle, so two pixels at different angles can
    # sit closer than the radial ring; clear inclusions within Chebyshev
    # distance ``min_ring_px`` of the lumen so every path from the lumen
    # crosses at least that many fibrous pixels.
    width = 2 * params.min_ring_px + 1
    near_lumen = ndimage.maximum_filter(masks == Label.LUMEN, size=(1, width, width))
    masks[near_lumen & (masks > Label.FIBROUS)] = Label.FIBROUS
    return masks, radius - r_eem
