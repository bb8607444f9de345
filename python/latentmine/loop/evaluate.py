"""Metrics of the target network on a labelled test set."""
from __future__ import annotations

import numpy as np
import torch

from ..models.losses import PERI_LUMINAL_BAND_PX, plaque_structural_stress
from ..models.target import STRESS_SCALE_KPA
from ..models.training import predict
from .samples import as_samples


def evaluate(model, test, *, label_scale: float = STRESS_SCALE_KPA, band_px: int = PERI_LUMINAL_BAND_PX) -> dict:
    """Test metrics of F, in label units (kPa).

    Returns ``{"mse": kPa^2, "mae": kPa, "pss_error": kPa, "n": N}``: pixel-wise
    mean squared and absolute errors over every pixel, and the mean absolute
    error of the plaque structural stress (the largest stress within
    ``band_px`` pixels of the lumen, Teng et al. 2014) per sample.
    """
    test = as_samples(test, "test", need_labels=True)
    pred = predict(model, test.images, test.masks, label_scale=label_scale)
    error = pred - test.labels
    masks = torch.from_numpy(test.masks.astype(np.int64))
    pss_pred = plaque_structural_stress(torch.from_numpy(pred), masks, band_px)
    pss_true = plaque_structural_stress(torch.from_numpy(test.labels), masks, band_px)
    return {"mse": float(np.mean(error ** 2)), "mae": float(np.mean(np.abs(error))),
            "pss_error": float((pss_pred - pss_true).abs().mean()), "n": len(test)}
