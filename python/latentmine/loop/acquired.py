"""The acquired samples of a run: a :mod:`latentmine.data` dataset with one provenance record per sample.

Stress-map labels are the dataset's ``stress`` array. Labels of any other
kind (class codes, vectors, segmentation maps) are kept beside it, one
``acquired_labels/rNNN.npy`` per round, written before the round joins the dataset.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .samples import Samples

#: Provenance fields recorded for every acquired sample.
PROVENANCE_FIELDS = ("id", "parent_id", "round", "strategy", "pool_index", "z", "z_new", "grad_norm",
                     "step_size", "labeller_version", "label_seconds", "gate")
FOLDER = "acquired"


def _side_labels(root, round_: int) -> Path:
    return Path(root) / "acquired_labels" / f"r{round_:03d}.npy"


def append_round(root, images, masks, labels, provenance: list[dict], *, pixel_size_mm: float,
                 maps: bool = True) -> None:
    """Add one round's samples (idempotent: a round already stored, e.g. before a kill, is not added again).

    ``maps``: the labels are stress maps (the dataset's ``stress``); else they go to ``acquired_labels/rNNN.npy``.
    """
    from .. import data, storage

    path = Path(root) / FOLDER
    ids = [row["id"] for row in provenance]
    if not ids:
        return
    stress = labels if maps else None
    if not maps:
        storage.atomic_save_npy(_side_labels(root, provenance[0]["round"]), np.asarray(labels))
    if not (path / "manifest.json").exists():
        data.save_dataset(path, images, masks, stress, pixel_size_mm=pixel_size_mm, ids=ids,
                          provenance=provenance, meta={"kind": "latentmine acquired samples"})
    elif not set(ids) <= set(data.load_dataset(path).ids):
        data.append(path, images, masks, stress, ids=ids, provenance=provenance)


def load_all(root) -> tuple[Samples | None, list[dict]]:
    """Every acquired sample so far, in acquisition order, and their provenance rows."""
    from .. import data

    path = Path(root) / FOLDER
    if not (path / "manifest.json").exists():
        return None, []
    stored = data.load_dataset(path)
    if stored.stress is not None:
        labels = np.array(stored.stress, np.float32)
    else:
        rounds = list(dict.fromkeys(row["round"] for row in stored.provenance))
        labels = np.concatenate([np.load(_side_labels(root, r), allow_pickle=False) for r in rounds])
    # copies: the stored arrays are read-only memory maps, and torch wants writable ones
    return Samples(np.array(stored.images, np.float32), np.array(stored.masks, np.uint8), list(stored.ids),
                   labels, stored.pixel_size_mm), list(stored.provenance)
