"""Metrics of the target network on a labelled test set."""
from __future__ import annotations

import numpy as np

from ..fea.pss import plaque_structural_stress_batch
from ..models.target import STRESS_SCALE_KPA
from ..models.training import predict
from ..units import DEFAULT_PIXEL_SIZE_MM
from .samples import as_samples


def evaluate(model, test, *, label_scale: float = STRESS_SCALE_KPA, pixel_size_mm: float | None = None) -> dict:
    """Test metrics of F, in label units (kPa).

    Returns ``{"mse": kPa^2, "mae": kPa, "pss_error": kPa, "n": N}``: pixel-wise
    mean squared and absolute errors over every pixel, and the mean absolute
    error of the plaque structural stress per sample, by the labelling tool's
    own :func:`latentmine.fea.plaque_structural_stress` on the predicted and
    the labelled map. ``pixel_size_mm`` defaults to the test set's, else
    :data:`latentmine.units.DEFAULT_PIXEL_SIZE_MM`.
    """
    test = as_samples(test, "test", need_labels=True)
    pred = predict(model, test.images, test.masks, label_scale=label_scale)
    error = pred - test.labels
    pixel = pixel_size_mm or test.pixel_size_mm or DEFAULT_PIXEL_SIZE_MM
    pss_pred = plaque_structural_stress_batch(pred, test.masks, pixel)
    pss_true = plaque_structural_stress_batch(test.labels, test.masks, pixel)
    return {"mse": float(np.mean(error ** 2)), "mae": float(np.mean(np.abs(error))),
            "pss_error": float(np.mean(np.abs(pss_pred - pss_true))), "n": len(test)}
