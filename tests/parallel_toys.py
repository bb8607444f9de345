"""Picklable toy labellers for the parallel and fault tests.

Each is a deterministic function of the mask; the sample id is the mask's
top-left pixel, so a labeller can misbehave on chosen samples.  Misbehaviour
"once" is keyed by a marker file, so it happens on the first attempt only,
whichever process makes it.
"""
import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np

import latentmine

#: The folder holding the latentmine these tests import, for driver subprocesses.
PACKAGE_PARENT = str(Path(latentmine.__file__).resolve().parents[1])


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

    mode: "" (never), "exit-once" (the worker process exits), "exit" (exits
    every time), "raise" (always raises), "hang-once" (sleeps ``hang`` seconds).  With ``log_dir``, every
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
        if self.mode == "exit":
            os._exit(3)
        if self.mode in ("exit-once", "hang-once"):
            marker = self.marker_dir / f"{self.mode}-{sample}"
            if marker.exists():
                return
            marker.touch()
            if self.mode == "exit-once":
                os._exit(3)
            time.sleep(self.hang)


class DigestLogger:
    """Labels like :func:`toy_stress`; appends each mask's SHA-1 to ``log`` and sleeps ``delay`` per call."""

    version = "toy-digest-1"

    def __init__(self, log, delay=0.0):
        self.log, self.delay = log, delay

    def __call__(self, masks):
        masks = np.asarray(masks)
        with open(self.log, "a") as log:
            log.writelines(mask_digest(mask) + "\n" for mask in masks)
        time.sleep(self.delay)
        return toy_stress(masks)


def mask_digest(mask):
    return hashlib.sha1(np.ascontiguousarray(mask).tobytes()).hexdigest()


def digest_logger():
    """Factory for ``latentmine run --labeller parallel_toys:digest_logger`` (log path from the environment)."""
    return DigestLogger(os.environ["LATENTMINE_TEST_LABEL_LOG"], float(os.environ.get("LATENTMINE_TEST_LABEL_DELAY", 0)))


def kill_when(command, env, durable, timeout=60):
    """Start ``command``; SIGKILL it and its workers once ``durable()`` is true."""
    run = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not durable() and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)  # the whole process group, as a power cut would
    run.wait()
