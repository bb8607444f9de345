"""Frame geometry for the medical-image importers: square grids and polar frames.

The finite-element labelling tool needs square pixels of one known size, so
every importer (:mod:`~latentmine.data.dicom`, :mod:`~latentmine.data.nifti`)
brings frames onto a :class:`Grid`:

* **as they are**, when the native pixels are already square (row and column
  spacing within :data:`ISOTROPY_RTOL`); anisotropic pixels are refused;
* **resampled to a square grid** of ``size`` x ``size`` pixels that covers the
  whole native field of view (the longer physical side); the shorter side is
  padded with black (OUTSIDE in masks), centred, so nothing is cropped and the
  pixels come out square whatever the native spacing. Images are resampled
  with Pillow's anti-aliased bilinear filter, masks with nearest neighbour;
* **scan-converted from polar frames** (:func:`polar_to_cartesian`), each row
  one A-line and each column one depth sample.

A grid maps native pixel indices to dataset pixel indices, per axis, as
``out = native * scale + offset`` (pixel centres at integers), which is what
contour points and the NIfTI exporter need.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

#: Row and column spacings closer than this (relative) count as square pixels.
ISOTROPY_RTOL = 1e-3


@dataclass(frozen=True)
class Grid:
    """Where the native pixels of a frame land in the dataset's frame.

    Attributes
    ----------
    native_shape, native_spacing_mm : (rows, columns)
        The source frames and their pixel spacing in mm.
    shape : (rows, columns)
        The dataset's frames.
    pixel_size_mm : float
        The dataset's (square) pixel size.
    scale, offset : (row, column)
        ``dataset index = native index * scale + offset`` along each axis;
        ``None`` for polar frames (not an affine map).
    padding : (top, bottom, left, right)
        Native pixels of black added before resampling.
    polar : bool
        True when the frames were scan-converted from polar form.
    """

    native_shape: tuple
    native_spacing_mm: tuple
    shape: tuple
    pixel_size_mm: float
    scale: tuple | None
    offset: tuple | None
    padding: tuple = (0, 0, 0, 0)
    polar: bool = False

    @property
    def resampled(self) -> bool:
        return self.polar or self.shape != self.native_shape or any(self.padding)

    def to_json(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_json(cls, record: dict) -> "Grid":
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in record.items()})


def native_grid(shape, spacing_mm, *, source) -> Grid:
    """The identity grid; a ValueError naming ``source`` if the pixels are not square."""
    rows, cols = (float(s) for s in spacing_mm)
    if abs(rows - cols) > ISOTROPY_RTOL * max(rows, cols):
        raise ValueError(f"{source}: pixels are not square (row spacing {rows:g} mm, column spacing {cols:g} mm); "
                         f"the labelling tool needs square pixels: resample to a square grid with size=N "
                         f"(--size N)")
    return Grid(tuple(shape), (rows, cols), tuple(shape), (rows + cols) / 2, (1.0, 1.0), (0.0, 0.0))


def square_grid(shape, spacing_mm, size: int) -> Grid:
    """A ``size`` x ``size`` grid of square pixels covering the native field.

    The pixel size is the longer physical side over ``size``; the native
    frame is padded (centred) to that physical square before resampling.
    """
    size = _positive_size(size)
    (height, width), (dy, dx) = shape, (float(s) for s in spacing_mm)
    side_mm = max(height * dy, width * dx)
    pixel = side_mm / size
    padding, scale, offset = [], [], []
    for count, spacing in ((height, dy), (width, dx)):
        span = side_mm / spacing                   # native pixels across the square, not an integer in general
        before = math.ceil((span - count) / 2 - 1e-9)
        padding += [before, before]
        start = (count + 2 * before - span) / 2    # box edge in padded pixel-edge coordinates
        factor = spacing / pixel                   # dataset pixels per native pixel
        scale.append(factor)
        offset.append((before + 0.5 - start) * factor - 0.5)
    top, bottom, left, right = padding
    return Grid(tuple(shape), (dy, dx), (size, size), pixel, tuple(scale), tuple(offset), (top, bottom, left, right))


def resample(frame: np.ndarray, grid: Grid, *, nearest: bool = False) -> np.ndarray:
    """One native frame on ``grid``: float32 bilinear (anti-aliased) or, for
    masks, uint8 nearest neighbour."""
    if not grid.resampled:
        return frame
    from PIL import Image

    top, bottom, left, right = grid.padding
    if any(grid.padding):
        frame = np.pad(frame, ((top, bottom), (left, right)))
    rows, cols = grid.shape
    span_r, span_c = rows / grid.scale[0], cols / grid.scale[1]
    start_r, start_c = (frame.shape[0] - span_r) / 2, (frame.shape[1] - span_c) / 2
    box = (max(start_c, 0.0), max(start_r, 0.0), min(start_c + span_c, frame.shape[1]), min(start_r + span_r, frame.shape[0]))
    if nearest:
        picture = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8), mode="L")
        return np.asarray(picture.resize((cols, rows), Image.Resampling.NEAREST, box=box))
    picture = Image.fromarray(np.ascontiguousarray(frame, dtype=np.float32), mode="F")
    out = np.asarray(picture.resize((cols, rows), Image.Resampling.BILINEAR, box=box))
    return np.clip(out, 0.0, 1.0)


def polar_grid(shape, radial_spacing_mm: float, size: int | None) -> Grid:
    """The Cartesian grid of polar frames of ``shape`` = (A-lines, depth samples).

    The field is the disc of radius ``depth samples x radial spacing``; its
    diameter spans ``size`` pixels (default twice the depth samples).
    """
    n_angles, n_radii = shape
    size = _positive_size(2 * n_radii if size is None else size)
    pixel = 2 * n_radii * float(radial_spacing_mm) / size
    return Grid(tuple(shape), (float("nan"), float(radial_spacing_mm)), (size, size), pixel, None, None, polar=True)


def polar_to_cartesian(frame: np.ndarray, grid: Grid, *, nearest: bool = False) -> np.ndarray:
    """Scan-convert one polar frame onto ``grid`` (from :func:`polar_grid`).

    Row ``i`` of the polar frame is the A-line at angle ``2 pi i / rows``,
    measured from the 3 o'clock direction and turning clockwise on screen
    (image rows grow downwards); column ``j`` is the depth sample centred at
    ``(j + 0.5)`` x the radial spacing from the catheter, which sits at the
    centre of the Cartesian frame. Pixels beyond the last sample are 0
    (black; OUTSIDE in masks). Images are interpolated bilinearly, masks by
    nearest neighbour.
    """
    from scipy import ndimage

    angle_index, radius_index = _polar_coordinates(grid)
    wrapped = np.concatenate([frame, frame[:1]], axis=0)  # the angle is periodic
    out = ndimage.map_coordinates(wrapped.astype(np.float32 if not nearest else frame.dtype, copy=False),
                                  [angle_index, radius_index], order=0 if nearest else 1, mode="constant", cval=0)
    return out if nearest else np.clip(out, 0.0, 1.0)


def _polar_coordinates(grid: Grid):
    n_angles, n_radii = grid.native_shape
    size = grid.shape[0]
    centre = (size - 1) / 2
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    y, x = (rows - centre) * grid.pixel_size_mm, (cols - centre) * grid.pixel_size_mm
    theta = np.mod(np.arctan2(y, x), 2 * np.pi)
    radius_index = np.maximum(np.hypot(x, y) / grid.native_spacing_mm[1] - 0.5, 0.0)
    radius_index[radius_index > n_radii - 0.5] = n_radii + 1.0  # beyond the last sample: the constant 0
    return theta * n_angles / (2 * np.pi), radius_index


def _positive_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an integer number of pixels >= 8, got {size!r}")
    return int(size)
