"""The acquired samples of a run, one file pair per round, with their provenance."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import storage
from .samples import Samples
from .store import _load_npz, _npz_bytes

#: Provenance fields recorded for every acquired sample.
PROVENANCE_FIELDS = ("id", "parent_id", "round", "strategy", "pool_index", "z", "z_new", "grad_norm",
                     "step_size", "labeller_version", "label_seconds", "gate")


def append_round(root, round_: int, images, masks, labels, provenance: list[dict]) -> None:
    """Store round ``round_``'s acquired samples (arrays first, provenance last: its presence marks completion)."""
    folder = Path(root) / "acquired"
    storage.atomic_write_bytes(folder / f"r{round_:03d}.npz",
                               _npz_bytes(images=images, masks=masks, labels=labels))
    storage.atomic_write_json(folder / f"r{round_:03d}.json", provenance)


def load_all(root) -> tuple[Samples, list[dict]]:
    """Every complete round's acquired samples, in round order, and their provenance rows."""
    folder = Path(root) / "acquired"
    parts, provenance = [], []
    for meta in sorted(folder.glob("r*.json")):
        parts.append(_load_npz(meta.with_suffix(".npz")))
        provenance += json.loads(meta.read_text())
    if not parts:
        return None, []
    return Samples(np.concatenate([p["images"] for p in parts]), np.concatenate([p["masks"] for p in parts]),
                   [row["id"] for row in provenance], np.concatenate([p["labels"] for p in parts])), provenance
