"""In-package toy data for the segmentation and classification tasks (no downloads).

* :func:`segmentation_shapes`: noisy images of discs and squares; the ground
  truth is a map of class codes (:data:`SEGMENTATION_CLASSES`).
* :func:`counting_discs`: noisy images of 1 to :data:`MAX_DISCS` separated
  bright discs; the class is the number of discs minus one (an MNIST-style,
  per-sample label at small scale, cf. Mo et al., arXiv 2004.02757, Sec. 4).

Both return :class:`ShapeData`, whose ``masks`` are all zeros: these images
come without masks, and the ground truth sits in ``truth``, where only an
oracle labelling tool reads it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Class codes of :func:`segmentation_shapes`.
SEGMENTATION_CLASSES = ("background", "disc", "square")
#: Grey levels of background, disc and square before noise.
_GREY = (0.15, 0.85, 0.5)
_NOISE = 0.06
#: Largest number of discs in :func:`counting_discs` (classes 0 .. MAX_DISCS - 1).
MAX_DISCS = 3


@dataclass
class ShapeData:
    """Images ``(N, H, W)`` in [0, 1], zero ``masks``, ``ids``, hidden ground truth ``truth``."""

    images: np.ndarray
    masks: np.ndarray
    ids: list
    truth: np.ndarray
    pixel_size_mm: float = 1.0

    def __len__(self) -> int:
        return len(self.ids)


def _disc(size: int, centre, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 < radius ** 2


def _square(size: int, centre, half: float) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (np.abs(yy - centre[0]) < half) & (np.abs(xx - centre[1]) < half)


def _finish(maps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    images = np.asarray(_GREY, np.float32)[maps] + rng.normal(0, _NOISE, maps.shape).astype(np.float32)
    return images.clip(0, 1).astype(np.float32)


def segmentation_shapes(n: int, size: int = 32, seed: int = 0, prefix: str = "seg") -> ShapeData:
    """``n`` images with one to three discs and squares, and their class-code maps."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            radius = rng.uniform(0.1, 0.2) * size
            centre = rng.uniform(radius, size - radius, 2)
            kind = int(rng.integers(1, len(SEGMENTATION_CLASSES)))
            shape = _disc(size, centre, radius) if kind == 1 else _square(size, centre, 0.85 * radius)
            truth[i][shape] = kind
    return ShapeData(_finish(truth, rng), np.zeros_like(truth), [f"{prefix}-{i:05d}" for i in range(n)], truth)


def counting_discs(n: int, size: int = 32, seed: int = 0, prefix: str = "count") -> ShapeData:
    """``n`` images of 1 to :data:`MAX_DISCS` discs at least 3 px apart; ``truth`` = count - 1."""
    rng = np.random.default_rng(seed)
    maps = np.zeros((n, size, size), np.uint8)
    truth = rng.integers(0, MAX_DISCS, n).astype(np.int64)
    for i in range(n):
        placed = []
        while len(placed) < truth[i] + 1:
            radius = rng.uniform(0.09, 0.14) * size
            centre = rng.uniform(radius + 1, size - radius - 1, 2)
            if all(np.hypot(*(centre - c)) > radius + r + 3 for c, r in placed):
                placed.append((centre, radius))
                maps[i][_disc(size, centre, radius)] = 1
    return ShapeData(_finish(maps, rng), np.zeros_like(maps), [f"{prefix}-{i:05d}" for i in range(n)], truth)


def count_blobs(images, threshold: float = 0.5, min_area: int = 4) -> np.ndarray:
    """The counting tool: bright 4-connected blobs of at least ``min_area`` px per image, minus one.

    A 3x3 mean filter first removes the pixel noise. Works on any image, real
    or decoded; the count is clipped to ``1 .. MAX_DISCS`` (class 0 .. MAX_DISCS - 1).
    """
    out = np.empty(len(images), np.int64)
    for i, image in enumerate(np.asarray(images, np.float32)):
        bright = ndimage.uniform_filter(image, 3) > threshold
        labelled, found = ndimage.label(bright)
        areas = np.bincount(labelled.ravel(), minlength=found + 1)[1:]
        out[i] = int(np.clip((areas >= min_area).sum(), 1, MAX_DISCS)) - 1
    return out
