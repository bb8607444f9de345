"""Real DICOM and NIfTI files written with pydicom and nibabel, for the import tests and benchmark."""
import numpy as np

from latentmine.data.examples import write_dicom_frames as write_dicom
from latentmine.data.examples import write_nifti_volume as write_nifti
from latentmine.fea.examples import ring_mask
from latentmine.labels import Label

__all__ = ["USER_CODES", "pullback", "user_codes", "write_dicom", "write_nifti"]
#: A user's own label codes and their remap table onto Label codes.
USER_CODES = {0: Label.OUTSIDE, 10: Label.LUMEN, 20: Label.FIBROUS, 30: Label.LIPID, 40: Label.CALCIUM}


def pullback(n=3, size=32, seed=0):
    """``(grey uint8 frames, Label masks)``: rings whose lumen grows by a pixel per frame, with speckle."""
    rng = np.random.default_rng(seed)
    masks = np.stack([ring_mask(size, size * 0.18 + i % 3, size * 0.4) for i in range(n)])
    brightness = np.array([10, 20, 150, 60, 250], np.float64)[masks]
    frames = np.clip(brightness + rng.normal(0, 8, masks.shape), 0, 255).astype(np.uint8)
    return frames, masks


def user_codes(masks):
    """``masks`` written in the user's codes of :data:`USER_CODES`."""
    inverse = np.zeros(len(Label), np.uint8)
    for user, label in USER_CODES.items():
        inverse[int(label)] = user
    return inverse[masks]
