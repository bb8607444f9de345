"""Atomic writes and checksummed checkpoints.

Everything latentmine stores goes through these helpers: data is written to a
temporary file in the destination folder, flushed to disk, then renamed over
the target, so a reader sees either the old file or the new one, never half of
one. Checkpoints also carry a SHA-256 of their payload, and saving keeps the
previous good checkpoint beside the new one (``NAME.prev``).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

_MAGIC = b"LATENTMINE-CKPT-1\n"
_DIGEST_LEN = 64  # hex characters of a SHA-256


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated or corrupt."""


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600 files; give the result the usual umask-based mode.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def atomic_save_npy(path, array) -> Path:
    """Save one array as ``.npy`` atomically."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return atomic_write_bytes(path, buffer.getvalue())


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def save_checkpoint(path, state: dict) -> Path:
    """Save ``state`` (tensors, arrays and plain Python values) with a checksum.

    The file already at ``path``, if it verifies, is kept as ``path.prev``.
    """
    import torch

    path = Path(path)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    digest = hashlib.sha256(payload).hexdigest().encode("ascii")
    if path.exists() and _verify(path.read_bytes()) is not None:
        os.replace(path, _previous(path))
    return atomic_write_bytes(path, _MAGIC + digest + b"\n" + payload)


def load_checkpoint(path, *, fallback: bool = False) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint`, verifying its checksum.

    Nothing is unpickled beyond tensors and plain containers (``weights_only``).
    With ``fallback=True`` a corrupt or missing file falls back to ``path.prev``.

    Raises
    ------
    CheckpointError
        When the file (and, with ``fallback``, its predecessor) is missing,
        truncated or fails its checksum.
    """
    path = Path(path)
    try:
        return _load_verified(path)
    except CheckpointError:
        if fallback and _previous(path).exists():
            return _load_verified(_previous(path))
        raise


def _load_verified(path: Path) -> dict:
    import torch

    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    payload = _verify(path.read_bytes())
    if payload is None:
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt (checksum mismatch)")
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as error:  # an unpickling refusal is a corrupt checkpoint too
        raise CheckpointError(f"checkpoint {path} could not be read safely: {error}") from error


def _verify(blob: bytes):
    """The payload when the header and checksum are intact, else ``None``."""
    header_len = len(_MAGIC) + _DIGEST_LEN + 1
    if len(blob) < header_len or not blob.startswith(_MAGIC):
        return None
    digest = blob[len(_MAGIC):len(_MAGIC) + _DIGEST_LEN]
    payload = blob[header_len:]
    return payload if hashlib.sha256(payload).hexdigest().encode("ascii") == digest else None


def _previous(path: Path) -> Path:
    return path.with_name(path.name + ".prev")
