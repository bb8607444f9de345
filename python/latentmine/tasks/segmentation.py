"""The segmentation task: F maps an image to a map of class codes; the metric is Dice.

Data: :func:`latentmine.tasks.shapes.segmentation_shapes` (discs and squares
on a noisy background, 3 classes). The images come without masks: the
generator and F see the image alone. The labelling tool is an oracle that
returns the ground-truth map of a real sample, looked up by its id
(:class:`GroundTruthOracle`). A decoded sample has no ground truth, so the
validity gate passes real samples only (reason ``synthetic``): the
nearest-neighbour sampler ``gradient-nn``, ``random`` and ``uncertainty``
acquire samples, while the interpolation sampler ``gradient`` starves and the
loop says so. F is :class:`latentmine.models.StressUNet` with one output
channel per class, trained with the pixel-mean cross-entropy.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from ..models.categorical import CrossEntropy
from ..models.target import StressUNet
from .base import Task, register_task
from .scores import segmentation_metrics
from .shapes import SEGMENTATION_CLASSES, segmentation_shapes

NAME = "segmentation"
CLASSES = len(SEGMENTATION_CLASSES)


class GroundTruthOracle:
    """Labels real samples with their stored ground truth, by id; refuses ids it does not know."""

    version = "oracle-1"

    def __init__(self, ids, truth):
        self._truth = {str(key): np.asarray(value) for key, value in zip(ids, truth)}

    def __call__(self, images, masks, ids):
        unknown = [key for key in ids if str(key) not in self._truth]
        if unknown:
            raise ValueError(f"the ground-truth oracle has no label for {unknown[:5]} "
                             f"({len(unknown)} sample(s)): it labels real samples only")
        return np.stack([self._truth[str(key)] for key in ids]) if len(ids) else np.zeros((0,) + np.shape(images)[1:])

    @classmethod
    def of(cls, data) -> "GroundTruthOracle":
        """The oracle of data made by :func:`~latentmine.tasks.shapes.segmentation_shapes` (or like it)."""
        if getattr(data, "truth", None) is None:
            raise ValueError("the ground-truth oracle needs data with a `truth` array (the task's generated data)")
        return cls(data.ids, data.truth)


def real_only(proposals, config):
    """The gate of oracle-labelled tasks: pass real pool samples, reject decoded ones."""
    real = np.asarray(proposals.pool_index) >= 0
    return real, Counter({"synthetic": int((~real).sum())} if (~real).any() else {})


def _target(config):
    return StressUNet("image", width=config.width, levels=config.levels, dropout=config.dropout,
                      out_channels=CLASSES)


def _metrics(pred, samples):
    return segmentation_metrics(pred, samples, CLASSES)


@register_task(NAME)
def segmentation() -> Task:
    """The segmentation task (see the module docstring)."""
    return Task(name=NAME, label_kind="segmentation", classes=CLASSES, make_target=_target,
                make_loss=lambda config: CrossEntropy(), metrics=_metrics,
                metric_info={"dice": ("test Dice", False), "pixel_accuracy": ("pixel accuracy", False)},
                headline="dice", default_labeller=GroundTruthOracle.of, gate=real_only,
                generate=segmentation_shapes, loop_settings={"input_mode": "image", "priors": "none"},
                study_strategies=("random", "gradient-nn"), panels=("dice", "pixel_accuracy"),
                label_title="segmentation", label_cmap="tab10",
                about="noisy shapes -> class-code map, ground-truth oracle (Dice)")
