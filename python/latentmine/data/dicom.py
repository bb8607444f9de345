"""IVUS pullbacks from DICOM files (through pydicom).

:func:`import_dicom` reads one single- or multi-frame file, or a folder of
them (ordered by Instance Number (0020,0013), then file name), and returns an
in-memory :class:`~latentmine.data.Dataset`; save it with
:func:`~latentmine.data.save_dataset`. The tags it reads (DICOM PS3.3):

* pixels: Rows (0028,0010), Columns (0028,0011), Number of Frames
  (0028,0008), Bits Stored (0028,0101), Pixel Representation (0028,0103) and
  Photometric Interpretation (0028,0004). MONOCHROME2 grey levels are divided
  by ``2**BitsStored - 1``; MONOCHROME1 is inverted; RGB, YBR_FULL(_422) and
  PALETTE COLOR frames are converted to RGB, then to luminance with the
  ITU-R BT.601 weights, which is the grey B-mode itself where the scanner
  stored grey pixels as equal R, G and B.
* pixel size: Pixel Spacing (0028,0030) (``[row spacing, column spacing]``
  in mm), else the Pixel Measures Sequence (0028,9110) of the Shared
  Functional Groups Sequence (5200,9229), else the Sequence of Ultrasound
  Regions (0018,6011): Physical Delta X (0018,602C) and Y (0018,602E) of the
  2-D tissue regions (Region Spatial Format (0018,6012) = 1) whose Physical
  Units X/Y Direction (0018,6024)/(0018,6026) are 3 (cm). A file with none of
  them is refused unless ``pixel_size_mm`` is given (which also overrides
  the header).
* frame spacing along the pullback, recorded when present: IVUS Pullback Rate
  (0018,3101) in mm/s times Frame Time (0018,1063) in ms.

Masks (``masks=``) are label codes on the native frames, one per frame (or
one per chosen frame): an array, or a ``.npy``, NIfTI or DICOM file. Contours
(``contours=``, see :mod:`~latentmine.data.contours`) are rasterised on the
dataset's grid instead. ``size=N`` resamples to an N x N grid of square
pixels, and ``polar=True`` scan-converts polar frames (rows are A-lines,
columns depth samples; the column spacing is the radial spacing), see
:mod:`~latentmine.data.grid`.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import frames as fr
from . import grid as gd

#: ITU-R BT.601 luma weights of R, G, B (the weights of Pillow's "L" mode).
LUMA_601 = np.array([0.299, 0.587, 0.114], np.float32)
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_RCT", "YBR_ICT", "YBR_PARTIAL_420")
_ULTRASOUND_CM = 3       # Physical Units X/Y Direction code for cm (PS3.3 C.8.5.5.1.15)
_TISSUE_2D = 1           # Region Spatial Format code for 2-D tissue


@dataclass
class DicomSource:
    """The headers of a DICOM pullback: files in frame order and their geometry."""

    files: list
    frame_counts: list
    shape: tuple
    spacing_mm: tuple | None
    spacing_tag: str | None
    photometric: str
    bits_stored: int
    frame_spacing_mm: float | None

    @property
    def count(self) -> int:
        return sum(self.frame_counts)

    def locate(self, frame: int):
        """``(file, index in that file)`` of a pullback frame number."""
        for file, count in zip(self.files, self.frame_counts):
            if frame < count:
                return file, frame
            frame -= count
        raise IndexError(frame)


def open_dicom(path) -> DicomSource:
    """Read the headers (no pixels) of a DICOM file or folder and check they agree.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        For an unreadable file, a folder without DICOM files, signed pixels,
        or files whose size, photometric interpretation or spacing differ.
    """
    pydicom = _pydicom()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such DICOM file or folder")
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    headers = []
    for file in files:
        if path.is_dir() and not pydicom.misc.is_dicom(file):
            continue  # a README or DICOMDIR-less listing beside the frames
        try:
            headers.append((file, pydicom.dcmread(file, stop_before_pixels=True)))
        except (pydicom.errors.InvalidDicomError, OSError, ValueError, EOFError) as error:
            raise ValueError(f"{file}: not a readable DICOM file ({error})") from None
    if not headers:
        raise ValueError(f"{path}: no DICOM files")
    headers.sort(key=lambda item: (int(getattr(item[1], "InstanceNumber", 0) or 0), item[0].name))
    first_file, first = headers[0]
    described = [_describe(file, header) for file, header in headers]
    for (file, _), entry in zip(headers[1:], described[1:]):
        for key in ("shape", "photometric", "bits_stored", "spacing_mm"):
            if entry[key] != described[0][key]:
                raise ValueError(f"{file}: {key} {entry[key]} differs from {first_file} ({described[0][key]})")
    return DicomSource([file for file, _ in headers], [entry["frames"] for entry in described],
                       **{key: described[0][key] for key in ("shape", "spacing_mm", "spacing_tag", "photometric",
                                                             "bits_stored", "frame_spacing_mm")})


def import_dicom(path, *, masks=None, contours=None, frames=None, remap=None, pixel_size_mm=None, size=None,
                 polar=False, invalid="error"):
    """A dataset (in memory) from a DICOM pullback and its masks or contours.

    Parameters
    ----------
    path : path
        A DICOM file (single- or multi-frame) or a folder of them.
    masks : array or path, optional
        (N, H, W) label codes on the native frames; see the module docstring.
    contours : path, optional
        Lumen/EEM (and lipid/calcium) contours instead of ``masks``.
    frames : slice or sequence of int, optional
        Frame numbers to import (from 0, across the files of a folder).
    remap : dict, optional
        Your mask codes -> :class:`~latentmine.labels.Label` codes.
    pixel_size_mm : float, optional
        Required when the header has no spacing; overrides it otherwise.
    size : int, optional
        Resample to a ``size`` x ``size`` grid of square pixels.
    polar : bool
        Scan-convert polar frames to Cartesian ones.
    invalid : {"error", "skip", "keep"}
        What to do with frames whose masks fail the labelling tool's checks
        (see :mod:`~latentmine.data.frames`).

    Raises
    ------
    ValueError
        Naming the file and the frame: no pixel spacing, masks whose count or
        frame size differ from the images, unknown codes without ``remap``,
        bad contours, or masks that fail the checks.
    """
    fr.check_policy(invalid)
    if (masks is None) == (contours is None):
        raise ValueError(f"{path}: give exactly one of masks= (--masks) and contours= (--contours)")
    source = open_dicom(path)
    numbers = fr.select_frames(source.count, frames, source=path)
    spacing, spacing_tag = _spacing(source, pixel_size_mm, polar)
    if polar:
        grid = gd.polar_grid(source.shape, spacing[1], size)
    else:
        grid = gd.square_grid(source.shape, spacing, size) if size else gd.native_grid(source.shape, spacing, source=path)
    known = mask_frames = None
    if contours is not None:
        if polar:
            raise ValueError(f"{contours}: contours are read in Cartesian pixel coordinates; they cannot go with polar=True")
        from .contours import contour_masks

        numbers, mask_frames, known = contour_masks(contours, grid, numbers, frame_count=source.count)
    # Decoding and resampling the images (NumPy and Pillow, which release the GIL) run in a
    # second thread while this one reads and checks the masks: two cores, one pass.
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        reading = pool.submit(_read_images, source, numbers, grid, polar, stop)
        try:
            if mask_frames is None:
                mask_frames = _native_masks(masks, source, numbers, grid, polar, remap)
            screened = fr.screen(mask_frames, frame_numbers=numbers, invalid=invalid, source=str(path), known=known)
        except BaseException:
            stop.set()
            raise
        images = reading.result()
    meta = {"source": "dicom", "path": str(path), "files": [str(f) for f in source.files],
            "spacing_from": spacing_tag, "native_spacing_mm": list(spacing),
            "frame_spacing_mm": source.frame_spacing_mm, "photometric": source.photometric,
            "remap": {str(k): int(v) for k, v in (remap or {}).items()},
            "masks": str(masks) if isinstance(masks, (str, Path)) else ("contours: " + str(contours) if contours else "array")}
    return fr.assemble(images, mask_frames, frame_numbers=numbers, grid=grid, source=str(path), stem=Path(path).stem,
                       meta=meta, invalid=invalid, screened=screened, file_of_frame=lambda f: source.locate(f)[0],
                       frame_count=source.count)


def read_label_dicom(path) -> np.ndarray:
    """(N, H, W) raw pixel values of a DICOM file holding label codes."""
    pydicom = _pydicom()
    try:
        array = pydicom.dcmread(path).pixel_array
    except (pydicom.errors.InvalidDicomError, OSError, ValueError, AttributeError) as error:
        raise ValueError(f"{path}: not a readable DICOM file of label codes ({error})") from None
    return array[None] if array.ndim == 2 else array


def _native_masks(masks, source, numbers, grid, polar, remap):
    where = masks if isinstance(masks, (str, Path)) else "masks"
    array = fr.read_label_frames(masks) if isinstance(masks, (str, Path)) else np.asarray(masks)
    array = array[None] if array.ndim == 2 else array
    if array.ndim != 3 or tuple(array.shape[1:]) != tuple(source.shape):
        raise ValueError(f"{where}: masks of shape {array.shape} do not match the frames of {source.files[0]} "
                         f"({source.shape[0]} x {source.shape[1]} pixels)")
    if len(array) == source.count and numbers != list(range(source.count)):
        array = array[numbers]
    elif len(array) == source.count:
        pass  # every frame, in order: no copy
    elif len(array) != len(numbers):
        raise ValueError(f"{where}: {len(array)} mask(s) for {source.count} frame(s) ({len(numbers)} chosen); "
                         f"give one mask per frame or per chosen frame")
    codes = fr.remap_masks(array, remap, source=where, frame_numbers=numbers)
    if not grid.resampled:
        return codes
    convert = gd.polar_to_cartesian if polar else gd.resample
    out = np.empty((len(codes),) + tuple(grid.shape), np.uint8)
    for row, mask in enumerate(codes):
        out[row] = convert(mask, grid, nearest=True)
    return out


def _read_images(source: DicomSource, numbers, grid, polar, stop) -> np.ndarray | None:
    """Grey frames on ``grid``, float32 in [0, 1], decoded one frame at a time
    (None once the ``stop`` event is set)."""
    pixels = _pydicom().pixels
    convert = gd.polar_to_cartesian if polar else gd.resample
    out = np.empty((len(numbers),) + tuple(grid.shape), np.float32)
    by_file = {}
    for row, frame in enumerate(numbers):
        file, index = source.locate(frame)
        by_file.setdefault(file, []).append((index, row))
    scale = np.float32(1.0 / (2 ** source.bits_stored - 1))
    for file, wanted in by_file.items():
        wanted.sort()
        dataset = _pydicom().dcmread(file, stop_before_pixels=True) if source.photometric == "PALETTE COLOR" else None
        try:
            decoded = pixels.iter_pixels(file, indices=[index for index, _ in wanted], as_rgb=True)
            for (index, row), frame in zip(wanted, decoded):
                if stop.is_set():
                    return None
                out[row] = convert(_grey(frame, source, scale, dataset), grid)
        except (ValueError, RuntimeError, NotImplementedError, OSError) as error:
            raise ValueError(f"{file}: cannot decode the pixel data ({error})") from None
    return out


def _grey(frame: np.ndarray, source: DicomSource, scale, palette_dataset) -> np.ndarray:
    if source.photometric == "PALETTE COLOR":
        rgb = _pydicom().pixels.apply_color_lut(frame, palette_dataset)
        return (rgb.astype(np.float32) @ LUMA_601) / np.float32(np.iinfo(rgb.dtype).max)
    if frame.ndim == 3:
        grey = frame.astype(np.float32) @ LUMA_601
    else:
        grey = frame.astype(np.float32)
    grey *= scale
    return 1.0 - grey if source.photometric == "MONOCHROME1" else grey


def _describe(file, header) -> dict:
    photometric = str(getattr(header, "PhotometricInterpretation", "")).strip()
    if photometric not in ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR") + _COLOUR:
        raise ValueError(f"{file}: Photometric Interpretation (0028,0004) {photometric!r} is not supported")
    if int(getattr(header, "PixelRepresentation", 0)):
        raise ValueError(f"{file}: signed pixel data (Pixel Representation (0028,0103) = 1) is not a B-mode image")
    if "Rows" not in header or "Columns" not in header:
        raise ValueError(f"{file}: no Rows (0028,0010) / Columns (0028,0011): not an image")
    spacing, tag = _header_spacing(header, file)
    rate, frame_time = getattr(header, "IVUSPullbackRate", None), getattr(header, "FrameTime", None)
    return {"shape": (int(header.Rows), int(header.Columns)), "photometric": photometric,
            "bits_stored": int(getattr(header, "BitsStored", 8)), "spacing_mm": spacing, "spacing_tag": tag,
            "frames": int(getattr(header, "NumberOfFrames", 1) or 1),
            "frame_spacing_mm": float(rate) * float(frame_time) / 1000 if rate and frame_time else None}


def _header_spacing(header, file):
    """``((row mm, column mm), tag name)`` from the header, or ``(None, None)``."""
    if "PixelSpacing" in header:
        return tuple(float(v) for v in header.PixelSpacing), "PixelSpacing (0028,0030)"
    try:
        measures = header.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
        return tuple(float(v) for v in measures.PixelSpacing), "PixelMeasuresSequence (0028,9110)"
    except (AttributeError, IndexError):
        pass
    deltas = {(float(region.PhysicalDeltaY) * 10, float(region.PhysicalDeltaX) * 10)  # cm -> mm
              for region in getattr(header, "SequenceOfUltrasoundRegions", [])
              if getattr(region, "RegionSpatialFormat", None) == _TISSUE_2D
              and getattr(region, "PhysicalUnitsXDirection", None) == _ULTRASOUND_CM
              and getattr(region, "PhysicalUnitsYDirection", None) == _ULTRASOUND_CM}
    if len(deltas) == 1:
        return deltas.pop(), "SequenceOfUltrasoundRegions (0018,6011) PhysicalDeltaX/Y"
    if len(deltas) > 1:
        raise ValueError(f"{file}: ultrasound regions (0018,6011) give different physical deltas {sorted(deltas)}; "
                         f"pass pixel_size_mm= (--pixel-size-mm)")
    return None, None


def _spacing(source: DicomSource, pixel_size_mm, polar):
    if pixel_size_mm is not None:
        value = float(pixel_size_mm)
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"pixel_size_mm must be a positive number of mm, got {pixel_size_mm!r}")
        return (value, value), "given (pixel_size_mm)"
    if source.spacing_mm is None:
        raise ValueError(f"{source.files[0]}: no pixel spacing in the header (neither PixelSpacing (0028,0030), a "
                         f"Pixel Measures Sequence (0028,9110) nor ultrasound regions (0018,6011) with physical "
                         f"deltas in cm); give the pixel size with pixel_size_mm= (--pixel-size-mm MM)")
    if polar:
        return source.spacing_mm, source.spacing_tag + " (column spacing = radial spacing)"
    return source.spacing_mm, source.spacing_tag


def _pydicom():
    try:
        import pydicom
        import pydicom.pixels  # noqa: F401  (iter_pixels, apply_color_lut)
    except ImportError:
        raise ImportError("reading DICOM needs pydicom: pip install 'latentmine[io]'") from None
    return pydicom
