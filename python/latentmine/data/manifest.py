"""The dataset manifest: what a folder holds, checked against its files.

``manifest.json`` is the last file written to a dataset folder, so a folder
without one is not a dataset (it may be one being written). It lists the
chunk files of every array; each name must stay inside the folder.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..labels import Label

MANIFEST = "manifest.json"
FORMAT = "latentmine-dataset"
FORMAT_VERSION = 1
#: Array name -> dtype on disk. ``stress`` is optional.
DTYPES = {"images": np.dtype(np.float32), "masks": np.dtype(np.uint8), "stress": np.dtype(np.float32)}
UNITS = {
    "images": "grey level in [0, 1]",
    "masks": "latentmine.labels.Label codes",
    "stress": "kPa (maximum principal stress)",
    "pixel_size": "mm",
}


def chunk_name(key: str, index: int) -> str:
    """``images.npy`` for the first chunk, ``images.000001.npy`` after it."""
    return f"{key}.npy" if index == 0 else f"{key}.{index:06d}.npy"


def build(*, count, shape, pixel_size_mm, chunks, ids, provenance, meta) -> dict:
    from .. import __version__

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "count": int(count),
        "shape": [int(s) for s in shape],
        "pixel_size_mm": float(pixel_size_mm),
        "units": UNITS,
        "labels": {label.name: int(label) for label in Label},
        "chunks": chunks,
        "ids": list(ids),
        "provenance": provenance,
        "meta": meta or {},
    }


def member(root: Path, name, *, manifest: Path) -> Path:
    """The file ``name`` inside ``root``; a ValueError if it would escape it.

    Rejects absolute paths, ``..`` components and symbolic links that
    resolve outside the folder.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"{manifest}: file name {name!r} is not a non-empty string")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"{manifest}: file {name!r} escapes the dataset folder {root}")
    target = root / relative
    if not target.resolve().is_relative_to(root.resolve()):
        raise ValueError(f"{manifest}: file {name!r} resolves to {target.resolve()}, outside the dataset folder {root}")
    return target


def read(root: Path) -> dict:
    """The manifest of the dataset folder ``root``, structurally checked."""
    path = root / MANIFEST
    if not root.is_dir():
        raise FileNotFoundError(f"no dataset at {root}: the folder does not exist")
    if not path.is_file():
        raise FileNotFoundError(f"no dataset at {root}: {MANIFEST} is missing (an unfinished or foreign folder)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: unreadable manifest ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format version {manifest.get('format_version')!r} is not {FORMAT_VERSION}")
    for key, kind in (("count", int), ("shape", list), ("pixel_size_mm", (int, float)),
                      ("chunks", list), ("ids", list)):
        if not isinstance(manifest.get(key), kind):
            raise ValueError(f"{path}: field {key!r} is missing or has the wrong type")
    ids, count = manifest["ids"], manifest["count"]
    if len(ids) != count or len(set(ids)) != len(ids):
        raise ValueError(f"{path}: {len(ids)} ids ({len(set(ids))} distinct) for count {count}")
    provenance = manifest.get("provenance")
    if provenance is not None and (not isinstance(provenance, list) or len(provenance) != count):
        raise ValueError(f"{path}: provenance must be a list of {count} records")
    if not manifest["pixel_size_mm"] > 0:
        raise ValueError(f"{path}: pixel_size_mm must be positive")
    if sum(int(c.get("count", -1)) for c in manifest["chunks"]) != count:
        raise ValueError(f"{path}: chunk counts do not add up to count {count}")
    return manifest


def open_array(file: Path, key: str, count: int, shape) -> np.ndarray:
    """Memory-map one chunk file, checking its dtype and shape."""
    if not file.is_file():
        raise ValueError(f"{file}: listed in the manifest but missing")
    try:
        array = np.load(file, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"{file}: unreadable or corrupt .npy file ({error})") from None
    expected = (count,) + tuple(shape)
    if array.dtype != DTYPES[key] or array.shape != expected:
        raise ValueError(f"{file}: holds {array.dtype} {array.shape}, but the manifest expects "
                         f"{DTYPES[key]} {expected} for {key}")
    return array
