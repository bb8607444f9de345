"""The classification task: one class per image; a small CNN, cross-entropy, accuracy.

Data: :func:`latentmine.tasks.shapes.counting_discs` (1 to 3 discs per noisy
image; the class is the count minus one), the MNIST-style experiment of Mo
et al. (arXiv 2004.02757) at a small scale. The images come without masks;
the generator (a VAE with ``mask_classes=0``) and the latent gradient work on
the images alone. The labelling tool is a counting tool,
:func:`latentmine.tasks.shapes.count_blobs`: it labels any image, real or
decoded, so every strategy, ``gradient`` included, can acquire samples, and
there is no validity gate.
"""
from __future__ import annotations

from ..models.categorical import CrossEntropy, SmallCNN
from .base import Task, register_task
from .scores import classification_metrics
from .shapes import MAX_DISCS, count_blobs, counting_discs

NAME = "classification"


class BlobCounter:
    """The counting tool as a labeller: ``(images, masks, ids) -> class codes (N,)``."""

    version = "count-blobs-1"

    def __call__(self, images, masks, ids):
        return count_blobs(images)


def _target(config):
    return SmallCNN(MAX_DISCS, width=config.width, levels=config.levels, dropout=config.dropout)


@register_task(NAME)
def classification() -> Task:
    """The classification task (see the module docstring)."""
    return Task(name=NAME, label_kind="class", classes=MAX_DISCS, make_target=_target,
                make_loss=lambda config: CrossEntropy(), metrics=classification_metrics,
                metric_info={"accuracy": ("test accuracy", False), "cross_entropy": ("test cross-entropy", True)},
                headline="accuracy", default_labeller=lambda data: BlobCounter(), generate=counting_discs,
                loop_settings={"input_mode": "image", "priors": "none"}, study_strategies=("random", "gradient"),
                panels=("accuracy", "cross_entropy"),
                about="images of 1-3 discs -> count class, counting tool (accuracy)")
