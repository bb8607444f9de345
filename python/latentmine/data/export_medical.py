"""Stress labels back out as NIfTI volumes and DICOM images for clinical viewers.

* :func:`export_nifti` writes the stress maps (float32, kPa) as one volume,
  frame ``k`` in ``data[:, :, k]`` as :mod:`~latentmine.data.nifti` reads
  them. The affine puts every pixel where it came from: for a dataset
  imported from NIfTI it is the source affine composed with the dataset's
  grid (so, without resampling, the very same affine); for one from DICOM
  it is the pixel spacing (and the pullback's frame spacing when the header
  had it, else 1 mm); otherwise the dataset's pixel size. Slices sit at the
  dataset's frame numbers, from the first, with their greatest common step
  (every frame, or every n-th when that was chosen); frames missing in
  between (skipped as invalid) are NaN slices, so slice positions stay true. The header says ``mm``, intent ``estimate`` named ``stress kPa``.
* :func:`export_dicom` writes a Multi-frame Grayscale Word Secondary Capture
  Image (SOP class 1.2.840.10008.5.1.4.1.1.7.3, DICOM PS3.3 A.8.4): 16-bit
  frames with Rescale Slope (0028,1053) and Intercept (0028,1052) so that
  ``kPa = stored * slope + intercept`` (Rescale Type (0028,1054) ``kPa``),
  Pixel Spacing (0028,0030), and Slice Location Vector (0018,2005) as the
  Frame Increment Pointer (0028,0009). When the dataset came from DICOM, the
  patient and study are copied from the source header and the source images
  listed in the Source Image Sequence (0008,2112), so the map opens beside
  the pullback in the same study.

Both write atomically (temporary file, then rename) and refuse to replace a
file unless ``overwrite=True``.
"""
from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np

from .. import __version__, storage
from .grid import Grid

#: Multi-frame Grayscale Word Secondary Capture Image Storage.
SC_WORD_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.7.3"
_INTENT_NAME = "stress kPa"


def stress_volume(dataset, stress=None):
    """``(volume (rows, cols, slices) float32 kPa, affine 4x4)`` of a dataset's stress maps."""
    stress = _checked_stress(dataset, stress)
    meta = (dataset.manifest or {}).get("meta", {})
    frames = [int(f) for f in meta.get("frames", range(len(stress)))]
    first = frames[0]
    step = int(np.gcd.reduce(np.diff(frames))) if len(frames) > 1 else 1
    if step <= 0 or sorted(frames) != frames:
        raise ValueError(f"{dataset.path or 'dataset'}: frames {frames[:8]} are not in increasing order")
    volume = np.full(stress.shape[1:] + ((frames[-1] - first) // step + 1,), np.nan, np.float32)
    for k, frame in enumerate(frames):
        volume[:, :, (frame - first) // step] = stress[k]
    return volume, _affine(meta, dataset.pixel_size_mm, first, step)


def frame_affine(dataset, index: int) -> np.ndarray:
    """The affine of frame ``index`` of ``dataset`` alone (a one-slice volume)."""
    meta = (dataset.manifest or {}).get("meta", {})
    frames = meta.get("frames")
    return _affine(meta, dataset.pixel_size_mm, int(frames[index]) if frames else index, 1)


def export_nifti(dataset, path, stress=None, *, overwrite=False) -> Path:
    """Write the stress maps of ``dataset`` (or ``stress``) as a NIfTI-1 volume.

    ``path`` ends in ``.nii`` or ``.nii.gz``.

    Raises
    ------
    FileExistsError
        When ``path`` exists and ``overwrite`` is False.
    ValueError
        For a dataset without stress labels (and none given) or maps whose
        shape differs from the dataset's.
    """
    from .nifti import _nibabel

    nibabel = _nibabel()
    path = _target(path, overwrite, (".nii", ".nii.gz"))
    volume, affine = stress_volume(dataset, stress)
    image = nibabel.Nifti1Image(volume, affine)
    header = image.header
    header.set_xyzt_units("mm")
    header.set_intent("estimate", name=_INTENT_NAME)
    header["descrip"] = f"latentmine {__version__} max principal stress, kPa".encode()[:79]
    finite = volume[np.isfinite(volume)]
    header["cal_min"], header["cal_max"] = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    data = image.to_bytes()
    storage.atomic_write_bytes(path, gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


def export_dicom(dataset, path, stress=None, *, overwrite=False) -> Path:
    """Write the stress maps as a multi-frame 16-bit secondary-capture DICOM file.

    Raises
    ------
    FileExistsError
        When ``path`` exists and ``overwrite`` is False.
    ValueError
        As :func:`export_nifti`.
    """
    from pydicom.dataset import Dataset as DicomDataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from .dicom import _pydicom

    pydicom = _pydicom()
    path = _target(path, overwrite, (".dcm",))
    stress = _checked_stress(dataset, stress)
    meta = (dataset.manifest or {}).get("meta", {})
    low, high = float(stress.min()), float(stress.max())
    slope = max(high - low, 1e-6) / 65535
    stored = np.round((stress - low) / slope).astype(np.uint16)

    ds = DicomDataset()
    source = _source_header(meta, pydicom)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
                    "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName", "FrameOfReferenceUID"):
        setattr(ds, keyword, getattr(source, keyword, "") if source is not None else "")
    ds.StudyInstanceUID = ds.StudyInstanceUID or generate_uid()
    ds.SOPClassUID, ds.SOPInstanceUID = SC_WORD_MULTIFRAME, generate_uid()
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = generate_uid(), 900, 1
    ds.Modality, ds.ConversionType, ds.BurnedInAnnotation = "OT", "WSD", "NO"
    ds.SeriesDescription = ds.ImageComments = "latentmine max principal stress (kPa)"
    ds.SoftwareVersions, ds.ImageType = f"latentmine {__version__}", ["DERIVED", "SECONDARY"]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns, ds.NumberOfFrames = stored.shape[1], stored.shape[2], len(stored)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = f"{low:.6g}", f"{slope:.10g}", "kPa"
    ds.WindowCenter, ds.WindowWidth = f"{(low + high) / 2:.6g}", f"{max(high - low, 1e-6):.6g}"
    ds.PixelSpacing = [f"{dataset.pixel_size_mm:.10g}"] * 2
    frame_spacing = meta.get("frame_spacing_mm") or 1.0
    ds.SliceLocationVector = [float(f) * frame_spacing for f in meta.get("frames", range(len(stored)))]
    ds.FrameIncrementPointer = pydicom.tag.Tag("SliceLocationVector")
    if source is not None:
        ds.SourceImageSequence = Sequence(_reference(file, pydicom) for file in meta.get("files", [])[:64])
    ds.PixelData = stored.tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    storage.atomic_write_bytes(path, buffer.getvalue())
    return path


def _affine(meta, pixel_size_mm, first_frame, step) -> np.ndarray:
    """Dataset voxel (row, column, slice) -> world mm."""
    frame_spacing = float(meta.get("frame_spacing_mm") or 1.0)
    grid = Grid.from_json(meta["grid"]) if "grid" in meta else None
    if grid is None or grid.polar:
        affine = np.diag([pixel_size_mm, pixel_size_mm, frame_spacing * step, 1.0])
        if grid is not None:  # the catheter, at the frame centre, at the origin
            affine[:2, 3] = -(np.array(grid.shape) - 1) / 2 * pixel_size_mm
        affine[2, 3] = frame_spacing * first_frame
        return affine
    if "affine" in meta:
        native = np.array(meta["affine"], np.float64)
    else:
        native = np.diag([grid.native_spacing_mm[0], grid.native_spacing_mm[1], frame_spacing, 1.0])
    to_native = np.eye(4)
    for axis in (0, 1):
        to_native[axis, axis] = 1 / grid.scale[axis]
        to_native[axis, 3] = -grid.offset[axis] / grid.scale[axis]
    to_native[2, 2], to_native[2, 3] = step, first_frame
    return native @ to_native


def _checked_stress(dataset, stress) -> np.ndarray:
    stress = dataset.stress if stress is None else stress
    if stress is None:
        raise ValueError(f"{dataset.path or 'dataset'}: has no stress labels; label it first or pass stress=")
    stress = np.asarray(stress, np.float32)
    expected = (len(dataset),) + tuple(np.asarray(dataset.images[:1]).shape[1:])
    if stress.shape != expected:
        raise ValueError(f"stress maps of shape {stress.shape} do not match the dataset's frames {expected}")
    if not np.isfinite(stress).all():
        raise ValueError("stress maps hold NaN or infinite values (the Labeller returns 0 off material)")
    return stress


def _target(path, overwrite, suffixes) -> Path:
    path = Path(path)
    if not path.name.lower().endswith(suffixes):
        raise ValueError(f"{path}: the file name must end in {' or '.join(suffixes)}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists (pass overwrite=True, or --overwrite, to replace it)")
    return path


def _source_header(meta, pydicom):
    files = meta.get("files") if meta.get("source") == "dicom" else None
    if not files or not Path(files[0]).is_file():
        return None
    return pydicom.dcmread(files[0], stop_before_pixels=True)


def _reference(file, pydicom):
    from pydicom.dataset import Dataset as DicomDataset

    header = pydicom.dcmread(file, stop_before_pixels=True)
    item = DicomDataset()
    item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = header.SOPClassUID, header.SOPInstanceUID
    return item

