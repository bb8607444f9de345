"""The run folder: every durable step of the loop, written atomically.

Layout (``RUN/``)::

    config.json              LoopConfig and the run's sources (snapshot)
    state.json               last durable step: {"round": r, "stage": ...}
    test_labels.npy          labels of the test set, when the loop had to label it
    rounds/rNNN/proposals.npz  gated proposals of round r (+ proposals.json: ids, gate counts, timings)
    rounds/rNNN/labels_CCC.npz labels of chunk CCC of those proposals, as they arrive
    acquired/                every acquired sample with its provenance
    checkpoints/target.pt    F, its optimiser and all metric rows (.prev: the one before)
    metrics.csv              one row per round
    plots/                   learning curve and acquired samples (PNG)

Stages of a round, in order: ``proposed`` -> ``labelled`` -> ``acquired`` ->
``done``. Each is written only after the data it announces is on disk, so
after a kill the loop redoes at most the step that was interrupted.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from .. import storage

STAGES = ("proposed", "labelled", "acquired", "done")


def _npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _load_npz(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


class RunStore:
    """Reads and writes one run folder (see the module docstring)."""

    def __init__(self, root):
        self.root = Path(root)

    # -- state ---------------------------------------------------------------
    def state(self) -> tuple[int, str] | None:
        path = self.root / "state.json"
        if not path.exists():
            return None
        state = json.loads(path.read_text())
        return int(state["round"]), str(state["stage"])

    def set_state(self, round_: int, stage: str) -> None:
        assert stage in STAGES
        storage.atomic_write_json(self.root / "state.json", {"round": round_, "stage": stage})

    def stage_of(self, round_: int) -> int:
        """How many stages of ``round_`` are durable (0 to 4)."""
        state = self.state()
        if state is None or state[0] < round_:
            return 0
        return len(STAGES) if state[0] > round_ else STAGES.index(state[1]) + 1

    # -- config --------------------------------------------------------------
    def read_config(self) -> dict | None:
        path = self.root / "config.json"
        return json.loads(path.read_text()) if path.exists() else None

    def write_config(self, snapshot: dict) -> None:
        storage.atomic_write_json(self.root / "config.json", snapshot)

    # -- proposals and labels --------------------------------------------------
    def round_dir(self, round_: int) -> Path:
        return self.root / "rounds" / f"r{round_:03d}"

    def save_proposals(self, round_: int, arrays: dict, meta: dict) -> None:
        folder = self.round_dir(round_)
        storage.atomic_write_bytes(folder / "proposals.npz", _npz_bytes(**arrays))
        storage.atomic_write_json(folder / "proposals.json", meta)

    def load_proposals(self, round_: int) -> tuple[dict, dict]:
        folder = self.round_dir(round_)
        return _load_npz(folder / "proposals.npz"), json.loads((folder / "proposals.json").read_text())

    def save_label_chunk(self, round_: int, chunk: int, labels: np.ndarray, seconds: np.ndarray,
                         version: str, wall: float) -> None:
        """Labels of one chunk, the labeller's seconds per sample, its version and the wall time."""
        storage.atomic_write_bytes(self.round_dir(round_) / f"labels_{chunk:03d}.npz",
                                   _npz_bytes(labels=labels, seconds=seconds, version=np.array(version),
                                              wall=np.array(wall)))

    def load_label_chunk(self, round_: int, chunk: int) -> dict | None:
        path = self.round_dir(round_) / f"labels_{chunk:03d}.npz"
        return _load_npz(path) if path.exists() else None

    # -- test labels ------------------------------------------------------------
    def test_labels(self) -> np.ndarray | None:
        path = self.root / "test_labels.npy"
        return np.load(path, allow_pickle=False) if path.exists() else None

    def save_test_labels(self, labels: np.ndarray) -> None:
        storage.atomic_save_npy(self.root / "test_labels.npy", labels)

    # -- checkpoint and metrics -------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.root / "checkpoints" / "target.pt"

    def save_checkpoint(self, state: dict) -> None:
        storage.save_checkpoint(self.checkpoint_path, state)

    def load_checkpoint(self) -> dict | None:
        if not self.checkpoint_path.exists() and not Path(str(self.checkpoint_path) + ".prev").exists():
            return None
        return storage.load_checkpoint(self.checkpoint_path, fallback=True)

    def write_metrics(self, rows: list[dict]) -> None:
        if not rows:
            return
        columns = list(dict.fromkeys(key for row in rows for key in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        storage.atomic_write_text(self.root / "metrics.csv", buffer.getvalue())
