"""Scores of categorical predictions: Dice for segmentation maps, accuracy for per-sample classes.

Predictions arrive as F's raw output (class logits on axis 1) or as class
codes; labels are class codes.
"""
from __future__ import annotations

import numpy as np


def as_codes(pred, ndim: int) -> np.ndarray:
    """Class codes from logits ``(N, C, ...)`` (argmax over axis 1) or codes ``(N, ...)`` of ``ndim`` axes."""
    pred = np.asarray(pred)
    return pred.argmax(axis=1) if pred.ndim == ndim + 1 else pred.astype(np.int64)


def dice(pred, truth, classes: int) -> float:
    """Mean Dice coefficient ``2|P ∩ G| / (|P| + |G|)`` over samples and foreground classes 1..classes-1.

    A (sample, class) pair where the class is absent from both the prediction
    and the truth is left out (its Dice is undefined); ``nan`` when every pair is.
    Dice, "Measures of the amount of ecologic association between species",
    Ecology 26(3), 1945.
    """
    pred, truth = as_codes(pred, 3), np.asarray(truth)
    if pred.shape != truth.shape or truth.ndim != 3:
        raise ValueError(f"dice: prediction {pred.shape} and truth {truth.shape} must be (N, H, W) of one shape")
    scores = []
    for c in range(1, classes):
        p, g = (pred == c).reshape(len(pred), -1), (truth == c).reshape(len(truth), -1)
        total = p.sum(1) + g.sum(1)
        present = total > 0
        scores.append(2.0 * (p & g).sum(1)[present] / total[present])
    joined = np.concatenate(scores)
    return float(joined.mean()) if joined.size else float("nan")


def segmentation_metrics(pred, samples, classes: int) -> dict:
    """``dice`` (see :func:`dice`) and ``pixel_accuracy`` of predicted maps against ``samples.labels``."""
    codes, truth = as_codes(pred, 3), np.asarray(samples.labels)
    return {"dice": dice(codes, truth, classes), "pixel_accuracy": float(np.mean(codes == truth))}


def classification_metrics(pred, samples) -> dict:
    """``accuracy`` (share of argmax == label) and mean ``cross_entropy`` (nats) of logits ``(N, C)``."""
    logits, truth = np.asarray(pred, np.float64), np.asarray(samples.labels).astype(np.int64)
    if logits.ndim != 2 or len(logits) != len(truth):
        raise ValueError(f"classification metrics: logits must be (N, C) for {len(truth)} labels, got {logits.shape}")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return {"accuracy": float(np.mean(logits.argmax(axis=1) == truth)),
            "cross_entropy": float(-log_probs[np.arange(len(truth)), truth].mean())}
