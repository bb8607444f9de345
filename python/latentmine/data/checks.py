"""Checks on arrays before they become a dataset: counts, shapes, dtypes, codes."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np

from ..labels import Label

_CODES = np.array([int(label) for label in Label])


def unknown_codes(masks) -> list[int]:
    """Values in ``masks`` that are not :class:`~latentmine.labels.Label` codes."""
    values = np.unique(np.asarray(masks))
    return [int(v) for v in values[~np.isin(values, _CODES)]]


def label_codes_message() -> str:
    return ", ".join(f"{label.name}={int(label)}" for label in Label)


def validated_arrays(images, masks, stress=None, ids=None, provenance=None, *, source="arrays"):
    """``(images float32, masks uint8, stress float32 or None, ids, provenance)``.

    Raises
    ------
    ValueError
        Naming ``source`` and the problem: counts or shapes that differ,
        non-numeric or non-finite values, masks that are not integer
        :class:`~latentmine.labels.Label` codes, ids that repeat or do not
        match the count, provenance that is not one JSON-able dict per sample.
    """
    images, masks = np.asarray(images), np.asarray(masks)
    if images.ndim != 3:
        raise ValueError(f"{source}: images must have shape (N, H, W), got {images.shape}")
    if masks.shape != images.shape:
        raise ValueError(f"{source}: {images.shape[0]} image(s) of {images.shape[1:]} but masks have shape "
                         f"{masks.shape}; images and masks must match one to one")
    images = _finite_float(images, "images", source)
    if not np.issubdtype(masks.dtype, np.integer):
        raise ValueError(f"{source}: masks must hold integer label codes, got dtype {masks.dtype}")
    bad = unknown_codes(masks)
    if bad:
        samples = np.flatnonzero(~np.isin(masks, _CODES).reshape(len(masks), -1).all(axis=1))
        raise ValueError(f"{source}: unknown label codes {bad} in sample(s) {samples[:10].tolist()} "
                         f"(valid: {label_codes_message()}; pass remap= to translate your codes)")
    masks = masks.astype(np.uint8, copy=False)
    if stress is not None:
        stress = np.asarray(stress)
        if stress.shape != images.shape:
            raise ValueError(f"{source}: stress has shape {stress.shape}, images {images.shape}")
        stress = _finite_float(stress, "stress", source)
    ids = [f"sample-{i:06d}" for i in range(len(images))] if ids is None else list(ids)
    if len(ids) != len(images) or not all(isinstance(i, str) and i for i in ids):
        raise ValueError(f"{source}: need {len(images)} non-empty string ids, got {len(ids)}")
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise ValueError(f"{source}: repeated ids {repeated[:10]}")
    if provenance is not None:
        provenance = list(provenance)
        if len(provenance) != len(images) or not all(isinstance(p, dict) for p in provenance):
            raise ValueError(f"{source}: provenance must be one dict per sample ({len(images)})")
        try:
            json.dumps(provenance, default=_plain)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{source}: provenance is not JSON-able ({error})") from None
    return images, masks, stress, ids, provenance


def _finite_float(array, name, source):
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{source}: {name} must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f"{source}: {name} contain NaN or infinite values")
    return array


def _plain(obj):
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
