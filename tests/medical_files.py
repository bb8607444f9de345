"""Real DICOM and NIfTI files written with pydicom and nibabel, for the import tests and benchmark."""
import numpy as np

from latentmine.fea.examples import ring_mask
from latentmine.labels import Label

#: Ultrasound Multi-frame Image Storage (PS3.4 B.5).
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
#: A user's own label codes and their remap table onto Label codes.
USER_CODES = {0: Label.OUTSIDE, 10: Label.LUMEN, 20: Label.FIBROUS, 30: Label.LIPID, 40: Label.CALCIUM}


def pullback(n=3, size=32, seed=0):
    """``(grey uint8 frames, Label masks)``: rings whose lumen grows by a pixel per frame, with speckle."""
    rng = np.random.default_rng(seed)
    masks = np.stack([ring_mask(size, size * 0.18 + i % 3, size * 0.4) for i in range(n)])
    brightness = np.array([10, 20, 150, 60, 250], np.float64)[masks]
    frames = np.clip(brightness + rng.normal(0, 8, masks.shape), 0, 255).astype(np.uint8)
    return frames, masks


def write_dicom(path, frames, *, pixel_spacing=None, regions=None, photometric="MONOCHROME2", instance=1,
                pullback_rate=None, frame_time=None, bits=8):
    """An ultrasound multi-frame DICOM file of ``frames`` (N, H, W) or (N, H, W, 3).

    ``regions`` is a list of ``(delta_x_cm, delta_y_cm)`` for the Sequence of
    Ultrasound Regions (0018,6011).
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
    ds.PatientName, ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID = "Test^IVUS", "P001", generate_uid(), generate_uid()
    ds.Modality, ds.InstanceNumber = "IVUS", instance
    ds.Rows, ds.Columns, ds.NumberOfFrames = frames.shape[1], frames.shape[2], frames.shape[0]
    ds.SamplesPerPixel = 3 if frames.ndim == 4 else 1
    if frames.ndim == 4:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 if frames.dtype == np.uint8 else 16
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits - 1, 0
    if pixel_spacing is not None:
        ds.PixelSpacing = [str(v) for v in pixel_spacing]
    if regions:
        items = []
        for dx, dy in regions:
            region = Dataset()
            region.RegionSpatialFormat, region.RegionDataType, region.RegionFlags = 1, 1, 0
            region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
            region.RegionLocationMaxX1, region.RegionLocationMaxY1 = frames.shape[2] - 1, frames.shape[1] - 1
            region.PhysicalUnitsXDirection, region.PhysicalUnitsYDirection = 3, 3
            region.PhysicalDeltaX, region.PhysicalDeltaY = dx, dy
            items.append(region)
        ds.SequenceOfUltrasoundRegions = Sequence(items)
    if pullback_rate is not None:
        ds.IVUSPullbackRate, ds.FrameTime = pullback_rate, frame_time
    ds.PixelData = frames.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def write_nifti(path, volume, affine, *, unit="mm"):
    """A NIfTI-1 file of ``volume`` (rows, columns, frames) with ``affine``."""
    import nibabel

    image = nibabel.Nifti1Image(np.asarray(volume), np.asarray(affine, np.float64))
    image.header.set_xyzt_units(unit)
    nibabel.save(image, path)
    return path


def user_codes(masks):
    """``masks`` written in the user's codes of :data:`USER_CODES`."""
    inverse = np.zeros(len(Label), np.uint8)
    for user, label in USER_CODES.items():
        inverse[int(label)] = user
    return inverse[masks]
