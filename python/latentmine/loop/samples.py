"""The arrays the loop works on: images, masks, optional labels and ids."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Samples:
    """``images`` float32 ``(N, H, W)`` in [0, 1], ``masks`` uint8 ``(N, H, W)``, ``ids``,
    optional ``labels`` (one per sample, of the task's kind: e.g. float32 ``(N, H, W)``
    stress in kPa for the IVUS task, int64 ``(N,)`` classes) and ``pixel_size_mm``."""

    images: np.ndarray
    masks: np.ndarray
    ids: list
    labels: np.ndarray | None = None
    pixel_size_mm: float | None = None

    def __len__(self) -> int:
        return len(self.images)


def as_samples(data, name: str, *, need_labels: bool = False) -> Samples:
    """Accept a :class:`Samples`, a phantom ``Cohort``, a loaded dataset or a dict.

    Anything with ``images`` and ``masks`` (attributes or keys) works; labels
    are read from ``labels`` or ``stress``, ids from ``ids`` (default
    ``"{name}-00000"``...).
    """
    def get(key):
        return data.get(key) if isinstance(data, dict) else getattr(data, key, None)

    images, masks = get("images"), get("masks")
    if images is None or masks is None:
        raise ValueError(f"{name}: expected an object with images and masks, got {type(data).__name__}")
    images, masks = np.array(images, np.float32), np.array(masks)  # writable copies (datasets are memory maps)
    if images.ndim != 3 or images.shape != masks.shape:
        raise ValueError(f"{name}: images and masks must be (N, H, W) of one shape, got {images.shape} "
                         f"and {masks.shape}")
    if not np.issubdtype(masks.dtype, np.integer):
        raise ValueError(f"{name}: masks must hold integer label codes, got {masks.dtype}")
    labels = get("labels")
    labels = get("stress") if labels is None else labels
    if labels is not None:  # their kind is the task's to check
        labels = np.array(labels)
        labels = labels.astype(np.float32) if np.issubdtype(labels.dtype, np.floating) else labels
        if labels.ndim == 0 or len(labels) != len(images):
            raise ValueError(f"{name}: labels must be one per sample ({len(images)}), got shape {labels.shape}")
    elif need_labels:
        raise ValueError(f"{name}: labels are required")
    ids = get("ids")
    ids = [f"{name}-{i:05d}" for i in range(len(images))] if ids is None else [str(i) for i in ids]
    if len(ids) != len(images) or len(set(ids)) != len(ids):
        raise ValueError(f"{name}: ids must be unique, one per sample ({len(ids)} ids for {len(images)} samples)")
    pixel = get("pixel_size_mm")
    return Samples(images, masks.astype(np.uint8), ids, labels, None if pixel is None else float(pixel))
