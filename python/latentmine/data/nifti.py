"""Image and label volumes from NIfTI files (through nibabel).

Segmentation studies ship a pullback as a NIfTI-1 or NIfTI-2 volume with one
frame per slice. :func:`import_nifti` reads an image volume and its label
volume (or contours) and returns an in-memory
:class:`~latentmine.data.Dataset`.

Conventions, shared with :mod:`~latentmine.data.export_medical` so that a
round trip is exact:

* frame ``k`` is ``data[:, :, k]``: the first voxel axis is the frame's row
  axis and the second its column axis, as nibabel and MONAI's readers index
  arrays; the third voxel axis runs along the pullback;
* the pixel spacing is the length of the first two columns of the affine
  (``nibabel.affines.voxel_sizes``), in the spatial unit of the header's
  ``xyzt_units`` (``unknown`` is taken as mm, the NIfTI default of most
  tools). The two in-plane axes must be perpendicular;
* **anisotropic in-plane spacing is refused** unless ``size=N`` resamples
  the frames onto an N x N grid of square pixels (:mod:`~latentmine.data.grid`);
* integer images are divided by 255 (8-bit) or 65535 (wider); floating-point
  images already in [0, 1] are kept, others are scaled linearly from the
  volume's minimum and maximum (the range is recorded in the manifest);
* label volumes must hold whole numbers (stored as integers or floats); the
  label volume must have the image's shape and affine.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import frames as fr
from . import grid as gd

_UNIT_IN_MM = {"mm": 1.0, "meter": 1000.0, "micron": 1e-3, "unknown": 1.0}


@dataclass
class NiftiVolume:
    """``data`` (rows, columns, frames) and its voxel-to-world ``affine`` (mm)."""

    path: Path
    data: np.ndarray
    affine: np.ndarray
    spacing_mm: tuple   # (row, column, frame)


def read_nifti(path) -> NiftiVolume:
    """A NIfTI file as a 3-D volume with its affine in mm.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        For an unreadable file, more than three dimensions (other than
        trailing ones of length 1), or in-plane axes that are not perpendicular.
    """
    nibabel = _nibabel()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such NIfTI file")
    try:
        image = nibabel.load(path)
        data = np.asanyarray(image.dataobj)
    except (nibabel.filebasedimages.ImageFileError, OSError, ValueError, EOFError) as error:
        raise ValueError(f"{path}: not a readable NIfTI file ({error})") from None
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim != 3:
        raise ValueError(f"{path}: expected a 2-D or 3-D volume (frames on the third axis), got shape {data.shape}")
    unit = image.header.get_xyzt_units()[0]
    affine = np.array(image.affine, np.float64)
    affine[:3] *= _UNIT_IN_MM.get(unit, 1.0)
    columns = affine[:3, :3]
    sizes = np.linalg.norm(columns, axis=0)
    if not np.all(sizes > 0):
        raise ValueError(f"{path}: the affine has a zero-length axis {sizes.tolist()}")
    cosine = abs(columns[:, 0] @ columns[:, 1]) / (sizes[0] * sizes[1])
    if cosine > 1e-4:
        raise ValueError(f"{path}: the in-plane voxel axes are not perpendicular (cos = {cosine:.4f}); "
                         f"resample the volume without shear first")
    return NiftiVolume(path, data, affine, tuple(float(s) for s in sizes))


def import_nifti(image, labels=None, *, contours=None, frames=None, remap=None, size=None, invalid="error"):
    """A dataset (in memory) from a NIfTI image volume and its label volume.

    Parameters
    ----------
    image, labels : path
        The image volume and the label volume (same shape and affine).
    contours : path, optional
        Contours (:mod:`~latentmine.data.contours`) instead of ``labels``.
    frames : slice or sequence of int, optional
        Slices to import.
    remap : dict, optional
        Your label codes -> :class:`~latentmine.labels.Label` codes.
    size : int, optional
        Resample to a ``size`` x ``size`` grid of square pixels (required for
        anisotropic pixels).
    invalid : {"error", "skip", "keep"}
        Policy for frames that fail the labelling tool's checks.

    Raises
    ------
    ValueError
        Naming the file (and frame): shapes or affines that differ,
        anisotropic pixels without ``size``, unknown codes without ``remap``,
        non-integer labels, or frames that fail the checks.
    """
    fr.check_policy(invalid)
    if (labels is None) == (contours is None):
        raise ValueError(f"{image}: give exactly one of labels= (--masks) and contours= (--contours)")
    volume = read_nifti(image)
    shape, spacing = volume.data.shape[:2], volume.spacing_mm[:2]
    numbers = fr.select_frames(volume.data.shape[2], frames, source=image)
    grid = gd.square_grid(shape, spacing, size) if size else gd.native_grid(shape, spacing, source=image)
    known = None
    if contours is not None:
        from .contours import contour_masks

        numbers, masks, known = contour_masks(contours, grid, numbers, frame_count=volume.data.shape[2])
    else:
        label_volume = read_nifti(labels)
        if label_volume.data.shape != volume.data.shape:
            raise ValueError(f"{labels}: label volume of shape {label_volume.data.shape} does not match the image "
                             f"{image} ({volume.data.shape})")
        if not np.allclose(label_volume.affine, volume.affine, atol=1e-4, rtol=1e-5):
            raise ValueError(f"{labels}: its affine differs from the image's ({image}); the label volume must lie on "
                             f"the same voxels")
        codes = fr.remap_masks(np.moveaxis(label_volume.data[:, :, numbers], 2, 0), remap, source=labels,
                               frame_numbers=numbers)
        masks = np.stack([gd.resample(mask, grid, nearest=True) for mask in codes]) if grid.resampled else codes
    grey, intensity = _grey(volume.data[:, :, numbers], image)
    images = np.stack([gd.resample(frame, grid) for frame in np.moveaxis(grey, 2, 0)])
    meta = {"source": "nifti", "path": str(image), "labels": str(labels) if labels else None,
            "contours": str(contours) if contours else None, "affine": volume.affine.tolist(),
            "native_spacing_mm": list(volume.spacing_mm[:2]), "frame_spacing_mm": volume.spacing_mm[2],
            "intensity": intensity, "remap": {str(k): int(v) for k, v in (remap or {}).items()}}
    return fr.assemble(images, masks, frame_numbers=numbers, grid=grid, source=str(image),
                       stem=Path(image).name.split(".")[0], meta=meta, invalid=invalid, known=known,
                       frame_count=volume.data.shape[2])


def _grey(data: np.ndarray, source):
    """Grey levels in [0, 1] and how they were scaled."""
    if np.issubdtype(data.dtype, np.integer) or data.dtype == bool:
        low, high = int(data.min()), int(data.max())
        if low < 0 or high > 65535:
            raise ValueError(f"{source}: integer grey levels must lie in [0, 65535], got [{low}, {high}]")
        divisor = 255 if data.dtype.itemsize == 1 else 65535
        return (data / np.float32(divisor)).astype(np.float32), {"divided_by": divisor}
    data = data.astype(np.float32)
    if not np.isfinite(data).all():
        raise ValueError(f"{source}: the image volume holds NaN or infinite values")
    low, high = float(data.min()), float(data.max())
    if low >= 0 and high <= 1:
        return data, {"kept": [0.0, 1.0]}
    return (data - low) / np.float32(max(high - low, 1e-30)), {"scaled_from": [low, high]}


def _nibabel():
    try:
        import nibabel
    except ImportError:
        raise ImportError("reading NIfTI needs nibabel: pip install 'latentmine[io]'") from None
    return nibabel
