"""Metrics of the target network on a labelled test set."""
from __future__ import annotations

from dataclasses import replace

from ..models.training import predict
from ..tasks import DEFAULT_TASK, load_task
from .samples import as_samples


def evaluate(model, test, *, label_scale: float | None = None, pixel_size_mm: float | None = None,
             task=DEFAULT_TASK) -> dict:
    """The loop's test metrics of F for ``task`` (default: the IVUS stress task), plus ``"n"``.

    For the stress task: ``{"mse": kPa^2, "mae": kPa, "pss_error": kPa, "n": N}``, pixel-wise
    mean squared and absolute errors over every pixel, and the mean absolute
    error of the plaque structural stress per sample, by the labelling tool's
    own :func:`latentmine.fea.plaque_structural_stress` on the predicted and
    the labelled map (:func:`latentmine.tasks.stress_metrics.loop_stress_metrics`).
    ``label_scale`` defaults to the task's (for the stress task
    :data:`latentmine.models.STRESS_SCALE_KPA`); ``pixel_size_mm`` to the test set's, else
    :data:`latentmine.units.DEFAULT_PIXEL_SIZE_MM`.
    """
    from .config import LoopConfig

    task = load_task(task)
    test = as_samples(test, "test", need_labels=True)
    test.labels = task.check_labels(test.labels, len(test), test.images.shape[1:], source="the test set")
    if pixel_size_mm:
        test = replace(test, pixel_size_mm=float(pixel_size_mm))
    scale = task.scale(LoopConfig()) if label_scale is None else label_scale
    pred = predict(model, test.images, test.masks, label_scale=scale)
    return {**task.evaluate(pred, test), "n": len(test)}
