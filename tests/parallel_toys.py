"""Picklable toy labellers for the parallel and fault tests.

Each is a deterministic function of the mask; the sample id is the mask's
top-left pixel, so a labeller can misbehave on chosen samples.  Misbehaviour
"once" is keyed by a marker file, so it happens on the first attempt only,
whichever process makes it.
"""
import os
import time
from pathlib import Path

import numpy as np


def toy_masks(n, size=16, seed=0):
    """``n`` random label masks whose top-left pixel is the sample id."""
    masks = np.random.default_rng(seed).integers(0, 5, size=(n, size, size), dtype=np.uint8)
    masks[:, 0, 0] = np.arange(n, dtype=np.uint8)
    return masks


def toy_stress(masks):
    """A deterministic float32 field per mask (a weighted 3x3 box sum)."""
    field = masks.astype(np.float32) * 7.5
    padded = np.pad(field, ((0, 0), (1, 1), (1, 1)))
    out = sum(padded[:, 1 + dy:padded.shape[1] - 1 + dy, 1 + dx:padded.shape[2] - 1 + dx] * (2 + dy + 3 * dx)
              for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    return out.astype(np.float32)


class ToyLabeller:
    """Labels like :func:`toy_stress`, misbehaving on the samples in ``victims``.

    mode: "" (never), "exit-once" (the worker process exits), "raise" (always
    raises), "hang-once" (sleeps ``hang`` seconds).  With ``log_dir``, every
    labelled sample appends a line to ``log_dir/<id>``.  ``delay`` seconds
    of sleep per sample let every worker of a pool take a share.
    """

    def __init__(self, mode="", victims=(), marker_dir=None, hang=60.0, log_dir=None, delay=0.0):
        self.mode, self.victims, self.hang, self.delay = mode, frozenset(victims), hang, delay
        self.marker_dir = Path(marker_dir) if marker_dir else None
        self.log_dir = Path(log_dir) if log_dir else None

    def __call__(self, masks):
        for sample in masks[:, 0, 0].tolist():
            if sample in self.victims:
                self._misbehave(sample)
            if self.log_dir is not None:
                with open(self.log_dir / str(sample), "a") as log:
                    log.write(f"{os.getpid()}\n")
        time.sleep(self.delay * len(masks))
        return toy_stress(masks)

    def _misbehave(self, sample):
        if self.mode == "raise":
            raise ValueError(f"sample {sample} is poison")
        if self.mode in ("exit-once", "hang-once"):
            marker = self.marker_dir / f"{self.mode}-{sample}"
            if marker.exists():
                return
            marker.touch()
            if self.mode == "exit-once":
                os._exit(3)
            time.sleep(self.hang)
