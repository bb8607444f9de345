"""Example pullback files in the formats of the field, written from phantoms.

``python -m latentmine.data.examples data/example`` writes a short in-silico
pullback of diseased vessels (:func:`latentmine.phantoms.generate` with
:data:`EXAMPLE_PARAMS`) as

* ``pullback.dcm``: an Ultrasound Multi-frame Image (SOP class
  1.2.840.10008.5.1.4.1.1.3.1) with Pixel Spacing (0028,0030), IVUS Pullback
  Rate (0018,3101) and Frame Time (0018,1063);
* ``masks.npy``: its Label masks;
* ``image.nii.gz`` and ``labels.nii.gz``: the same frames as NIfTI volumes,
  the labels in a user's own codes (``0, 10, 20, 30, 40`` for OUTSIDE, LUMEN,
  FIBROUS, LIPID, CALCIUM: remap ``0=0,10=1,20=2,30=3,40=4``);
* ``contours/``: lumen (``lum_NNNN.txt``) and EEM (``med_NNNN.txt``) outlines
  of every frame, plus lipid and calcium outlines, as :mod:`.contours` reads.

The writers are the ones the tests and the import benchmark use.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..labels import Label

#: Ultrasound Multi-frame Image Storage (DICOM PS3.4 B.5).
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
#: The example's label codes in the NIfTI file: Label code x 10.
EXAMPLE_CODES = {10 * int(label): int(label) for label in Label}


def write_dicom_frames(path, frames, *, pixel_spacing=None, regions=None, photometric="MONOCHROME2", instance=1,
                       pullback_rate=None, frame_time=None, bits=8):
    """An Ultrasound Multi-frame DICOM file of ``frames`` (N, H, W) or (N, H, W, 3), uint8 or uint16.

    ``pixel_spacing`` is ``(row, column)`` mm for Pixel Spacing (0028,0030);
    ``regions`` a list of ``(delta_x_cm, delta_y_cm)`` for the Sequence of
    Ultrasound Regions (0018,6011), 2-D tissue regions in cm.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    frames = np.asarray(frames)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = US_MULTIFRAME, generate_uid()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    ds.PatientName, ds.PatientID = "Test^IVUS", "P001"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.InstanceNumber = "IVUS", instance
    ds.Rows, ds.Columns, ds.NumberOfFrames = frames.shape[1], frames.shape[2], frames.shape[0]
    ds.SamplesPerPixel = 3 if frames.ndim == 4 else 1
    if frames.ndim == 4:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 if frames.dtype == np.uint8 else 16
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits - 1, 0
    if pixel_spacing is not None:
        ds.PixelSpacing = [f"{v:.10g}" for v in pixel_spacing]
    if regions:
        ds.SequenceOfUltrasoundRegions = Sequence([_region(dx, dy, frames.shape) for dx, dy in regions])
    if pullback_rate is not None:
        ds.IVUSPullbackRate, ds.FrameTime = pullback_rate, frame_time
    ds.PixelData = frames.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def write_nifti_volume(path, volume, affine, *, unit="mm"):
    """A NIfTI-1 file of ``volume`` (rows, columns, frames) with ``affine``."""
    import nibabel

    image = nibabel.Nifti1Image(np.asarray(volume), np.asarray(affine, np.float64))
    image.header.set_xyzt_units(unit)
    nibabel.save(image, path)
    return Path(path)


def outlines(region: np.ndarray) -> list[np.ndarray]:
    """Closed outlines ``(n, 2)`` as (x, y) pixels of a boolean region, one per piece.

    The 0.5 iso-line of the region (``contourpy``, which matplotlib uses),
    so rasterising an outline by pixel centres gives the region back.
    """
    import contourpy

    field = np.pad(region.astype(np.float64), 1)
    lines = contourpy.contour_generator(z=field).lines(0.5)
    return [line[:-1] - 1 for line in lines if len(line) > 3 and np.allclose(line[0], line[-1])]


#: Phantom parameters of the example: diseased vessels, so that lipid and calcium show.
EXAMPLE_PARAMS = {"lipid_probability": 1.0, "plaque_burden": (0.6, 0.8)}


def write_example_pullback(out_dir, *, n: int = 6, size: int = 256, seed: int = 0) -> dict:
    """Write the example files (see the module docstring); their paths by name."""
    from ..phantoms import generate

    out = Path(out_dir)
    (out / "contours").mkdir(parents=True, exist_ok=True)
    cohort = generate(n, size=size, seed=seed, **EXAMPLE_PARAMS)
    grey = np.round(cohort.images * 255).astype(np.uint8)
    pixel = cohort.pixel_size_mm
    files = {"dicom": write_dicom_frames(out / "pullback.dcm", grey, pixel_spacing=(pixel, pixel),
                                         pullback_rate=0.5, frame_time=33.3)}
    np.save(out / "masks.npy", cohort.masks)
    files["masks"] = out / "masks.npy"
    affine = np.diag([pixel, pixel, 0.5 * 33.3 / 1000, 1.0])
    files["nifti"] = write_nifti_volume(out / "image.nii.gz", np.moveaxis(grey, 0, 2), affine)
    files["labels"] = write_nifti_volume(out / "labels.nii.gz", np.moveaxis(cohort.masks * 10, 0, 2), affine)
    for frame, mask in enumerate(cohort.masks):
        pieces = {"lum": mask == Label.LUMEN, "med": mask != Label.OUTSIDE,
                  "lipid": mask == Label.LIPID, "calcium": mask == Label.CALCIUM}
        for kind, region in pieces.items():
            lines = outlines(region)
            if lines:
                text = "\n\n".join("\n".join(f"{x:.2f} {y:.2f}" for x, y in line) for line in lines)
                (out / "contours" / f"{kind}_{frame:04d}.txt").write_text(text + "\n")
    files["contours"] = out / "contours"
    return files


def _region(delta_x_cm, delta_y_cm, shape):
    from pydicom.dataset import Dataset

    region = Dataset()
    region.RegionSpatialFormat, region.RegionDataType, region.RegionFlags = 1, 1, 0  # 2-D tissue
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = shape[2] - 1, shape[1] - 1
    region.PhysicalUnitsXDirection, region.PhysicalUnitsYDirection = 3, 3  # cm
    region.PhysicalDeltaX, region.PhysicalDeltaY = delta_x_cm, delta_y_cm
    return region


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m latentmine.data.examples",
                                     description="Write an example IVUS pullback as DICOM, NIfTI, .npy and contours.")
    parser.add_argument("out", type=Path, help="folder to write into")
    parser.add_argument("--n", type=int, default=6, help="frames (default 6)")
    parser.add_argument("--size", type=int, default=256, help="frame side in pixels (default 256)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name, path in write_example_pullback(args.out, n=args.n, size=args.size, seed=args.seed).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
