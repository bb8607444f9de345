"""The acquired samples of a run: a :mod:`latentmine.data` dataset with one provenance record per sample."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .samples import Samples

#: Provenance fields recorded for every acquired sample.
PROVENANCE_FIELDS = ("id", "parent_id", "round", "strategy", "pool_index", "z", "z_new", "grad_norm",
                     "step_size", "labeller_version", "label_seconds", "gate")
FOLDER = "acquired"


def append_round(root, images, masks, labels, provenance: list[dict], *, pixel_size_mm: float) -> None:
    """Add one round's samples (idempotent: a round already stored, e.g. before a kill, is not added again)."""
    from .. import data

    path = Path(root) / FOLDER
    ids = [row["id"] for row in provenance]
    if not ids:
        return
    if not (path / "manifest.json").exists():
        data.save_dataset(path, images, masks, labels, pixel_size_mm=pixel_size_mm, ids=ids,
                          provenance=provenance, meta={"kind": "latentmine acquired samples"})
    elif not set(ids) <= set(data.load_dataset(path).ids):
        data.append(path, images, masks, labels, ids=ids, provenance=provenance)


def load_all(root) -> tuple[Samples | None, list[dict]]:
    """Every acquired sample so far, in acquisition order, and their provenance rows."""
    from .. import data

    path = Path(root) / FOLDER
    if not (path / "manifest.json").exists():
        return None, []
    stored = data.load_dataset(path)
    # copies: the stored arrays are read-only memory maps, and torch wants writable ones
    return Samples(np.array(stored.images, np.float32), np.array(stored.masks, np.uint8), list(stored.ids),
                   np.array(stored.stress, np.float32), stored.pixel_size_mm), list(stored.provenance)
