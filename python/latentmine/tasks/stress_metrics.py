"""The IVUS stress task's metrics of a predicted stress map against the labelling tool's map.

All stresses are in kPa; maps are ``(N, H, W)`` with 0 off the material
(lumen and outside), as the finite-element tool returns them.

The loop reports (:func:`loop_stress_metrics`, :func:`latentmine.loop.evaluate`):

* ``mse``, ``mae``: mean squared / absolute error over every pixel of every test sample;
* ``pss_error``: mean absolute error of the plaque structural stress per sample.

The study reports (:func:`stress_metrics`):

* ``mse_kpa2``, ``mae_kpa``: the same pixel-wise errors;
* ``rel_l2``: per sample ``||pred - label||_2 / ||label||_2``, averaged over samples.
* ``accuracy``: the share of material pixels (fibrous, lipid, calcium) of the
  whole test set whose absolute error is below ``tolerance`` (10%) times the
  peak label stress of *that* sample. A relative tolerance per sample makes a
  low-stress plaque count as much as a high-stress one; the peak (not the
  pixel's own value) keeps near-zero pixels from demanding near-zero error.
* ``pss_abs_err_kpa``: mean absolute error of the plaque structural stress
  (Teng et al., Circ Cardiovasc Imaging 2014) per sample, by the labelling
  tool's own :func:`latentmine.fea.plaque_structural_stress` on both maps.
* ``top_pss_abs_err_kpa``, ``top_mse_kpa2``: the PSS error and the pixel MSE
  on the high-risk subset, the top decile of the test samples by their
  labelled PSS (:func:`top_decile`): the cases a screening model must get
  right, and where random selection sees few training examples.
"""
from __future__ import annotations

import numpy as np

from ..fea.pss import plaque_structural_stress_batch
from ..labels import TISSUES
from ..units import DEFAULT_PIXEL_SIZE_MM

ACCURACY_TOLERANCE = 0.1

#: Every metric of the stress task: name -> (axis label, lower is better).
STRESS_METRIC_INFO = {
    "mse_kpa2": ("test MSE (kPa²)", True),
    "mae_kpa": ("test MAE (kPa)", True),
    "rel_l2": ("relative L2 error", True),
    "accuracy": ("accuracy (error < 10% of peak)", False),
    "pss_abs_err_kpa": ("peak-stress abs. error (kPa)", True),
    "top_pss_abs_err_kpa": ("top-decile-PSS cases: PSS abs. error (kPa)", True),
    "top_mse_kpa2": ("top-decile-PSS cases: MSE (kPa²)", True),
    "mse": ("test MSE (kPa²)", True),
    "mae": ("test MAE (kPa)", True),
    "pss_error": ("PSS error (kPa)", True),
}


def _pixel_size(samples) -> float:
    return getattr(samples, "pixel_size_mm", None) or DEFAULT_PIXEL_SIZE_MM


def loop_stress_metrics(pred, samples) -> dict:
    """``{"mse": kPa², "mae": kPa, "pss_error": kPa}`` of predicted maps against ``samples.labels``."""
    pred, labels = np.asarray(pred), np.asarray(samples.labels)
    error = pred - labels
    pss_pred = plaque_structural_stress_batch(pred, samples.masks, _pixel_size(samples))
    pss_true = plaque_structural_stress_batch(labels, samples.masks, _pixel_size(samples))
    return {"mse": float(np.mean(error ** 2)), "mae": float(np.mean(np.abs(error))),
            "pss_error": float(np.mean(np.abs(pss_pred - pss_true)))}


def stress_metrics_of(pred, samples) -> dict:
    """:func:`stress_metrics` of ``pred`` on labelled ``samples`` (their pixel size, else the default)."""
    return stress_metrics(pred, samples.labels, samples.masks, pixel_size_mm=_pixel_size(samples))


def top_decile(values) -> np.ndarray:
    """Rows of the ``ceil(n / 10)`` largest ``values`` (at least one; ties to the lower row), ascending."""
    values = np.asarray(values)
    if values.ndim != 1 or not len(values):
        raise ValueError(f"top_decile needs a non-empty 1-D array, got shape {values.shape}")
    count = -(-len(values) // 10)
    return np.sort(np.argsort(-values, kind="stable")[:count])


def stress_metrics(pred, labels, masks, *, pixel_size_mm: float, tolerance: float = ACCURACY_TOLERANCE) -> dict:
    """The study's five accuracy metrics of ``pred`` against ``labels`` (see the module docstring)."""
    pred = np.asarray(pred, np.float64)
    labels = np.asarray(labels, np.float64)
    masks = np.asarray(masks)
    if not pred.shape == labels.shape == masks.shape or pred.ndim != 3:
        raise ValueError(f"predictions, labels and masks must be (N, H, W) of one shape, got "
                         f"{pred.shape}, {labels.shape} and {masks.shape}")
    error = pred - labels
    n = len(pred)
    label_norm = np.linalg.norm(labels.reshape(n, -1), axis=1)
    rel_l2 = np.linalg.norm(error.reshape(n, -1), axis=1) / np.maximum(label_norm, 1e-12)
    material = np.isin(masks, [int(t) for t in TISSUES])
    peak = labels.reshape(n, -1).max(axis=1)
    within = np.abs(error) < tolerance * peak[:, None, None]
    pss_pred = plaque_structural_stress_batch(pred, masks, pixel_size_mm)
    pss_true = plaque_structural_stress_batch(labels, masks, pixel_size_mm)
    top = top_decile(pss_true)
    return {"mse_kpa2": float(np.mean(error ** 2)), "mae_kpa": float(np.mean(np.abs(error))),
            "rel_l2": float(np.mean(rel_l2)),
            "accuracy": float(within[material].mean()) if material.any() else float("nan"),
            "pss_abs_err_kpa": float(np.mean(np.abs(pss_pred - pss_true))),
            "top_pss_abs_err_kpa": float(np.mean(np.abs(pss_pred - pss_true)[top])),
            "top_mse_kpa2": float(np.mean(error[top] ** 2))}


def material_variance(predictions, masks) -> np.ndarray:
    """Per sample, the variance across members ``(M, N, H, W)`` of the stress, averaged over material pixels."""
    material = np.isin(masks, np.asarray(TISSUES, np.asarray(masks).dtype))
    variance = np.asarray(predictions).var(axis=0)
    return (variance * material).reshape(len(masks), -1).sum(1) / np.maximum(material.reshape(len(masks), -1)
                                                                             .sum(1), 1)


def pss_variance(predictions, masks) -> np.ndarray:
    """Per sample, the variance across members ``(M, N, H, W)`` of the predicted plaque structural stress."""
    # PSS is defined in pixel steps from the lumen; the pixel size is only checked, so the default serves
    peaks = [plaque_structural_stress_batch(member, masks, DEFAULT_PIXEL_SIZE_MM) for member in predictions]
    return np.var(peaks, axis=0)


#: The stress task's ensemble-disagreement scores (``LoopConfig.ensemble_score``).
STRESS_UNCERTAINTY = {"material": material_variance, "pss": pss_variance}
