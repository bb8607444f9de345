"""B-mode IVUS look of a phantom: echoes formed along catheter rays, then scan-converted.

The catheter sits at the frame centre, as in a real IVUS frame. Each frame is
built in polar coordinates about it (radius x angle), where ultrasound
physics is one-dimensional along every ray:

1. every sample gets the echogenicity of its tissue (Mintz et al., JACC
   2001;37:1478: echolucent lipid, echogenic fibrous tissue, bright calcium,
   dark media between bright adventitia and plaque);
2. the echo is attenuated on its way out and back: soft tissue loses
   ``attenuation_db_per_cm_mhz * f`` per unit length each way, blood about a
   third of that (Szabo, *Diagnostic Ultrasound Imaging*, 2004); calcium
   and the guidewire stop almost all of the beam, so they cast shadows;
3. fully developed speckle multiplies the echo: a circular complex Gaussian
   field, correlated over the axial resolution and the beam width, whose
   envelope is Rayleigh distributed (Wagner et al., IEEE Trans Sonics
   Ultrason 1983;30:156-163; Burckhardt, IEEE Trans Sonics Ultrason
   1978;25:1-6);
4. the envelope is log-compressed over ``dynamic_range_db`` and
   scan-converted to the Cartesian frame by bilinear interpolation.

The catheter itself is dark, ringed by its bright ring-down artefact.
"""
from __future__ import annotations

import functools

import numpy as np
from scipy.ndimage import uniform_filter1d

from ..labels import Label
from .params import PhantomParams

#: Blood attenuates about a third as much as soft tissue (Szabo 2004).
_BLOOD_ATTENUATION_RATIO = 0.3
#: Radial extent of the bright adventitia outside the EEM, mm.
_ADVENTITIA_MM = 0.4
#: Radial extent of the catheter's ring-down ring, mm.
_RING_DOWN_MM = 0.1
#: Electronic noise floor, relative to a calcium echo (below the displayed
#: dynamic range, so shadows are black).
_NOISE_FLOOR = np.float32(1e-3)
_NEPER_PER_DB = np.log(10) / 20


@functools.lru_cache(maxsize=8)
def polar_grid(size: int, fov_mm: float):
    """The polar sampling about the frame centre and its two resamplings.

    Returns the sample radii (mm), the angles, the flat Cartesian pixel
    nearest each polar sample, and for each pixel its four bilinear polar
    neighbours (flat polar indices) and weights, zeroed outside the field of
    view.
    """
    pix = fov_mm / size
    dr = pix / 2
    n_r, n_t = int(np.ceil(fov_mm / 2 / dr)), max(256, 2 * size)
    radii = (np.arange(n_r) + 0.5) * dr
    angles = 2 * np.pi * np.arange(n_t) / n_t
    centre = (size - 1) / 2
    col = np.clip(np.round(radii[:, None] * np.cos(angles) / pix + centre), 0, size - 1).astype(np.int64)
    row = np.clip(np.round(radii[:, None] * np.sin(angles) / pix + centre), 0, size - 1).astype(np.int64)
    nearest = row * size + col

    coords = (np.arange(size) - centre) * pix
    y, x = np.meshgrid(coords, coords, indexing="ij")
    fr = np.clip(np.hypot(x, y) / dr - 0.5, 0, n_r - 1)
    ft = np.mod(np.arctan2(y, x), 2 * np.pi) / (2 * np.pi) * n_t
    r0 = np.minimum(np.floor(fr).astype(np.int64), n_r - 2)
    t0 = np.floor(ft).astype(np.int64) % n_t
    wr, wt = fr - r0, ft - np.floor(ft)
    inside = (np.hypot(x, y) <= fov_mm / 2).astype(np.float64)
    corners = [(r0, t0), (r0, (t0 + 1) % n_t), (r0 + 1, t0), (r0 + 1, (t0 + 1) % n_t)]
    weights = [(1 - wr) * (1 - wt), (1 - wr) * wt, wr * (1 - wt), wr * wt]
    index = np.stack([(r * n_t + t).ravel() for r, t in corners])
    weight = np.stack([(w * inside).ravel() for w in weights]).astype(np.float32)
    return radii, angles, nearest, index, weight


def region_maps(masks, depth_mm, params: PhantomParams):
    """Echogenicity and amplitude attenuation (Np/mm, one way) per pixel.

    ``depth_mm`` is each pixel's radial distance outside the EEM (negative
    inside), which places the dark media and the bright adventitia.
    """
    echo = params.echogenicity
    lookup = np.zeros(len(Label), np.float32)
    for label in (Label.LUMEN, Label.FIBROUS, Label.LIPID, Label.CALCIUM):
        lookup[label] = echo[label.name]
    echogenicity = lookup[masks]
    echogenicity[(masks == Label.FIBROUS) & (depth_mm > -params.media_mm)] = echo["MEDIA"]
    outside = masks == Label.OUTSIDE
    echogenicity[outside] = np.where(depth_mm[outside] < _ADVENTITIA_MM, echo["ADVENTITIA"], echo["PERIADVENTITIA"])

    tissue = params.attenuation_db_per_cm_mhz * params.frequency_mhz / 10 * _NEPER_PER_DB
    attenuation = np.full(masks.shape, tissue, np.float32)
    attenuation[masks == Label.LUMEN] = tissue * _BLOOD_ATTENUATION_RATIO
    attenuation[masks == Label.CALCIUM] += params.calcium_attenuation_per_mm
    return echogenicity, attenuation


def rayleigh_speckle(rng, shape, axial_samples: int, lateral_samples: int):
    """Envelope of fully developed speckle, of unit mean power.

    A circular complex Gaussian field is averaged over a box of
    ``axial_samples`` x ``lateral_samples`` (axes -2 and -1, the latter
    periodic) to give the grain its size; its modulus is Rayleigh distributed.
    """
    parts = rng.standard_normal((2,) + tuple(shape), dtype=np.float32)
    if axial_samples > 1:
        parts = uniform_filter1d(parts, axial_samples, axis=-2, mode="nearest")
    if lateral_samples > 1:
        parts = uniform_filter1d(parts, lateral_samples, axis=-1, mode="wrap")
    # A box average of k independent unit variances has variance 1/k.
    scale = np.sqrt(axial_samples * lateral_samples / 2.0, dtype=np.float32)
    return np.hypot(parts[0], parts[1]) * scale


def render(masks, depth_mm, rng: np.random.Generator, params: PhantomParams):
    """Grey-scale B-mode images ``(count, size, size)`` float32 in [0, 1].

    Also returns the guidewire angle of each frame (radians, ``None`` entries
    when there is no guidewire), for whoever checks its shadow.
    """
    count, size = masks.shape[0], masks.shape[-1]
    radii, angles, nearest, index, weight = polar_grid(size, params.fov_mm)
    dr = radii[1] - radii[0]
    echogenicity, attenuation = region_maps(masks, depth_mm, params)
    echo = echogenicity.reshape(count, -1)[:, nearest]
    alpha = attenuation.reshape(count, -1)[:, nearest]

    wire_angle = _add_guidewire(rng, echo, alpha, radii, angles, params)
    catheter = radii < params.catheter_radius_mm
    alpha[:, catheter] = 0.0
    echo[:, catheter] = 0.0
    echo[:, catheter & (radii > params.catheter_radius_mm - _RING_DOWN_MM)] = 0.8

    # Round trip: out to a sample and back, through everything in front of it.
    path = np.cumsum(alpha, axis=1) * np.float32(dr) - np.float32(0.5 * dr) * alpha
    amplitude = echo * np.exp(np.float32(-2.0) * path)
    axial = max(1, round(params.axial_resolution_mm / dr))
    lateral = max(1, round(np.radians(params.lateral_resolution_deg) / (angles[1] - angles[0])))
    envelope = amplitude * rayleigh_speckle(rng, echo.shape, axial, lateral)
    decibels = 20.0 * np.log10(envelope + _NOISE_FLOOR)
    polar = np.clip(1.0 + decibels / params.dynamic_range_db, 0.0, 1.0).astype(np.float32)

    flat = polar.reshape(count, -1)
    image = sum(w * flat[:, i] for i, w in zip(index, weight))
    return np.clip(image, 0.0, 1.0).reshape(count, size, size).astype(np.float32), wire_angle


def _add_guidewire(rng, echo, alpha, radii, angles, params):
    """A bright wire beside the catheter that blocks the beam behind it."""
    count = echo.shape[0]
    if not params.guidewire:
        return [None] * count
    wire_r = params.guidewire_diameter_mm / 2
    angle = rng.uniform(0, 2 * np.pi, count)
    centre = params.catheter_radius_mm + wire_r + rng.uniform(0.1, 0.8, count)
    half_width = np.arcsin(np.minimum(wire_r / centre, 1.0))
    off = np.abs(np.angle(np.exp(1j * (angles[None, :] - angle[:, None]))))
    in_beam = off < half_width[:, None]                                     # (count, n_t)
    front = centre - wire_r
    surface = (radii[None, :] >= front[:, None]) & (radii[None, :] < front[:, None] + 0.08)
    behind = radii[None, :] >= front[:, None]
    echo[surface[:, :, None] & in_beam[:, None, :]] = 1.0
    alpha[behind[:, :, None] & in_beam[:, None, :]] += 30.0
    return [float(a) for a in angle]
