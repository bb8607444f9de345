"""Test metrics of a predicted stress map against the labelling tool's map.

All stresses are in kPa; maps are ``(N, H, W)`` with 0 off the material
(lumen and outside), as the finite-element tool returns them.

* ``mse_kpa2``, ``mae_kpa``: mean squared / absolute error over every pixel
  of every test sample (the same convention as :func:`latentmine.loop.evaluate`).
* ``rel_l2``: per sample ``||pred - label||_2 / ||label||_2``, averaged over samples.
* ``accuracy``: the share of material pixels (fibrous, lipid, calcium) of the
  whole test set whose absolute error is below ``tolerance`` (10%) times the
  peak label stress of *that* sample. A relative tolerance per sample makes a
  low-stress plaque count as much as a high-stress one; the peak (not the
  pixel's own value) keeps near-zero pixels from demanding near-zero error.
* ``pss_abs_err_kpa``: mean absolute error of the plaque structural stress
  (Teng et al., Circ Cardiovasc Imaging 2014) per sample, by the labelling
  tool's own :func:`latentmine.fea.plaque_structural_stress` on both maps.
"""
from __future__ import annotations

import numpy as np

from ..fea.pss import plaque_structural_stress_batch
from ..labels import TISSUES

ACCURACY_TOLERANCE = 0.1


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
    return {"mse_kpa2": float(np.mean(error ** 2)), "mae_kpa": float(np.mean(np.abs(error))),
            "rel_l2": float(np.mean(rel_l2)),
            "accuracy": float(within[material].mean()) if material.any() else float("nan"),
            "pss_abs_err_kpa": float(np.mean(np.abs(pss_pred - pss_true)))}
