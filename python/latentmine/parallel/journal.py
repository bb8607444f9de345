"""A durable record of finished labelling chunks, so killed runs resume.

One checksummed checkpoint per finished chunk (``part-FIRST-COUNT.ckpt``),
written atomically, plus ``journal.json`` holding a SHA-256 fingerprint of
the masks.  A part that is truncated or corrupt is skipped with a warning and
its samples are labelled again; a journal written for other masks is refused.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from ..storage import CheckpointError, atomic_write_json, load_checkpoint, save_checkpoint

_META = "journal.json"


class LabelJournal:
    """The journal in ``folder`` for labelling ``masks``.

    Raises
    ------
    ValueError
        When ``folder`` holds a journal of different masks.
    """

    def __init__(self, folder, masks: np.ndarray):
        self.folder = Path(folder)
        self.size = len(masks)
        digest = hashlib.sha256(np.ascontiguousarray(masks).tobytes())
        digest.update(repr((masks.shape, str(masks.dtype))).encode())
        meta = {"fingerprint": digest.hexdigest(), "shape": list(masks.shape)}
        meta_path = self.folder / _META
        if meta_path.exists():
            stored = json.loads(meta_path.read_text())
            if stored.get("fingerprint") != meta["fingerprint"]:
                raise ValueError(
                    f"labelling journal {self.folder} was written for other masks "
                    f"(shape {stored.get('shape')}); use a new folder")
        else:
            atomic_write_json(meta_path, meta)

    def record(self, indices, stress, status, reasons, seconds, attempts, workers) -> Path:
        """Store the final outcome of the samples ``indices`` durably."""
        import torch

        indices = np.asarray(indices, dtype=np.int64)
        path = self.folder / f"part-{indices[0]:07d}-{len(indices):05d}.ckpt"
        return save_checkpoint(path, {
            "indices": torch.from_numpy(indices.copy()),
            "stress": torch.from_numpy(np.ascontiguousarray(stress, dtype=np.float32)),
            "status": [str(s) for s in status],
            "reasons": list(reasons),
            "seconds": torch.from_numpy(np.asarray(seconds, dtype=np.float64).copy()),
            "attempts": torch.from_numpy(np.asarray(attempts, dtype=np.int64).copy()),
            "workers": list(workers),
        })

    def load(self) -> list:
        """Readable parts as ``(indices, stress, status, reasons, seconds, attempts, workers)``."""
        records = []
        for path in sorted(self.folder.glob("part-*.ckpt")):
            try:
                part = load_checkpoint(path)
            except CheckpointError as error:
                warnings.warn(f"{error}; its samples will be labelled again", RuntimeWarning, stacklevel=2)
                continue
            indices = part["indices"].numpy()
            if indices.size and (indices.min() < 0 or indices.max() >= self.size):
                warnings.warn(f"{path} names samples outside 0..{self.size - 1}; ignored",
                              RuntimeWarning, stacklevel=2)
                continue
            records.append((indices, part["stress"].numpy(), np.asarray(part["status"], dtype=object),
                            part["reasons"], part["seconds"].numpy(), part["attempts"].numpy(),
                            part["workers"]))
        return records
