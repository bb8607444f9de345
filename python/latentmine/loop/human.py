"""Labelling by hand: export suggestions as files, read labels back.

``export_suggestions`` writes, for every suggested sample ``ID``,
``ID_image.png`` (8-bit grey), ``ID_mask.png`` (label codes as pixel values
0-4), ``ID_image.npy`` (float32) and ``ID_mask.npy`` (uint8), plus a
``manifest.json`` naming the round, the ids and what to return. The labels
come back as one ``ID.npy`` per sample, a float32 ``(H, W)`` stress map in
kPa, in any folder; :func:`read_labels` checks them against the manifest.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from .. import storage


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def export_suggestions(out_dir, round_: int, images, masks, ids, *, run_dir=None,
                       pixel_size_mm: float | None = None) -> Path:
    """Write the suggestions of one round to ``out_dir``; returns the manifest path."""
    out = Path(out_dir)
    files = {}
    for key, image, mask in zip(ids, images, masks):
        stem = out / key
        storage.atomic_write_bytes(stem.with_name(f"{key}_image.png"),
                                   _png(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)))
        storage.atomic_write_bytes(stem.with_name(f"{key}_mask.png"), _png(np.asarray(mask, np.uint8)))
        storage.atomic_save_npy(stem.with_name(f"{key}_image.npy"), np.asarray(image, np.float32))
        storage.atomic_save_npy(stem.with_name(f"{key}_mask.npy"), np.asarray(mask, np.uint8))
        files[key] = {f"{kind}_{ext}": f"{key}_{kind}.{ext}" for kind in ("image", "mask") for ext in ("png", "npy")}
    manifest = {"round": round_, "run": None if run_dir is None else str(run_dir), "ids": list(ids),
                "shape": list(np.shape(masks)[1:]), "pixel_size_mm": pixel_size_mm, "files": files,
                "labels": "return one ID.npy per id: float32 (H, W) maximum-principal stress in kPa, "
                          "0 outside the wall; then run `latentmine ingest RUN LABELS_DIR`"}
    return storage.atomic_write_json(out / "manifest.json", manifest)


def read_labels(folder, ids, shape) -> dict:
    """``{id: array of shape ``shape``}`` from ``folder/ID.npy``; a clear ValueError naming the file otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"label folder {folder} does not exist")
    expected = {f"{key}.npy" for key in ids}
    stray = sorted(p.name for p in folder.glob("*.npy") if p.name not in expected
                   and not p.name.endswith(("_image.npy", "_mask.npy")))
    if stray:
        raise ValueError(f"{folder}: label file(s) {stray[:5]} match no suggested id (expected {sorted(expected)[:5]}...)")
    labels = {}
    for key in ids:
        path = folder / f"{key}.npy"
        if not path.exists():
            raise ValueError(f"{path}: missing label for suggested sample {key!r}")
        try:
            value = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise ValueError(f"{path}: not a readable .npy array ({error})") from None
        if value.shape != tuple(shape) or not np.issubdtype(value.dtype, np.number):
            raise ValueError(f"{path}: expected a numeric array of shape {tuple(shape)}, got {value.dtype} "
                             f"{value.shape}")
        if not np.isfinite(value).all():
            raise ValueError(f"{path}: contains NaN or infinite values")
        labels[key] = value  # the run's task checks the kind and casts
    return labels

