"""Datasets on disk: memory-mapped ``.npy`` arrays plus ``manifest.json``.

A dataset folder holds ``images.npy`` (float32, ``(N, H, W)``), ``masks.npy``
(uint8 :class:`~latentmine.labels.Label` codes), optionally ``stress.npy``
(float32, kPa) and ``manifest.json`` (units, pixel size, ids, provenance,
generator metadata and the list of chunk files). Appending adds chunk files
(``images.000001.npy``, ...) rather than rewriting the arrays.

Writes never leave a half-written dataset that looks complete:
:func:`save_dataset` writes the whole folder under a hidden temporary
sibling name, the manifest last, then renames it into place; an old dataset
it replaces is moved aside first and deleted only once the new one is in
place. :func:`append` writes its chunk files first and replaces the manifest
atomically last, so until then readers see the dataset as it was.
"""
from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import storage
from . import manifest as mf
from .checks import validated_arrays
from .chunked import ChunkedArray


@dataclass
class Dataset:
    """Images, masks, optional stress labels and their records.

    Arrays read from disk are memory-mapped (a :class:`ChunkedArray` when
    the dataset has grown by :func:`append`). ``provenance`` is ``None`` or
    one JSON-able dict per sample.
    """

    images: object
    masks: object
    stress: object
    ids: list
    pixel_size_mm: float
    manifest: dict
    provenance: list | None = None
    path: Path | None = None

    def __len__(self):
        return len(self.ids)


def save_dataset(path, images, masks, stress=None, *, pixel_size_mm, ids=None, meta=None, provenance=None,
                 overwrite=False) -> Path:
    """Write a dataset folder atomically and return its path.

    Raises
    ------
    FileExistsError
        When ``path`` holds a dataset and ``overwrite`` is False, or holds
        other files (never replaced, whatever ``overwrite`` says).
    ValueError
        For arrays, ids or provenance that do not fit together.
    """
    path = Path(path)
    images, masks, stress, ids, provenance = validated_arrays(images, masks, stress, ids, provenance)
    _check_pixel_size(pixel_size_mm)
    check_target(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _sibling(path, "tmp")
    staging.mkdir()
    try:
        chunk = _write_chunk(staging, 0, images, masks, stress)
        manifest = mf.build(count=len(ids), shape=images.shape[1:], pixel_size_mm=pixel_size_mm,
                            chunks=[chunk], ids=ids, provenance=provenance, meta=meta)
        storage.atomic_write_json(staging / mf.MANIFEST, manifest)
        _swap_in(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def load_dataset(path) -> Dataset:
    """Open a dataset folder, memory-mapping its arrays.

    Raises
    ------
    FileNotFoundError
        When the folder or its manifest is missing.
    ValueError
        When the manifest is unreadable, names a file outside the folder, or
        disagrees with the arrays (count, shape, dtype); the message names
        the file.
    """
    root = Path(path)
    manifest = mf.read(root)
    where = root / mf.MANIFEST
    has_stress = [bool(c.get("stress")) for c in manifest["chunks"]]
    if len(set(has_stress)) > 1:
        raise ValueError(f"{where}: some chunks have stress labels and others do not")
    arrays = {key: [] for key in mf.DTYPES}
    for chunk in manifest["chunks"]:
        for key in mf.DTYPES:
            if chunk.get(key):
                file = mf.member(root, chunk[key], manifest=where)
                arrays[key].append(mf.open_array(file, key, int(chunk["count"]), manifest["shape"]))
    joined = {key: None if not parts else parts[0] if len(parts) == 1 else ChunkedArray(parts)
              for key, parts in arrays.items()}
    if joined["images"] is None or joined["masks"] is None:
        raise ValueError(f"{where}: lists no images or masks")
    return Dataset(joined["images"], joined["masks"], joined["stress"], list(manifest["ids"]),
                   float(manifest["pixel_size_mm"]), manifest, manifest.get("provenance"), root)


def append(path, images, masks, stress=None, *, ids=None, provenance=None) -> Path:
    """Add samples to a dataset as a new chunk; the manifest is replaced last.

    ``ids`` default to ``sample-NNNNNN`` numbered after the existing samples.

    Raises
    ------
    ValueError
        For a duplicate id, a frame shape that differs from the dataset's,
        or stress labels given to a dataset without them (or missing for
        one with them).
    """
    root = Path(path)
    current = load_dataset(root)
    start = len(current)
    if ids is None:
        ids = [f"sample-{start + i:06d}" for i in range(len(images))]
    images, masks, stress, ids, provenance = validated_arrays(images, masks, stress, ids, provenance)
    where = root / mf.MANIFEST
    if list(images.shape[1:]) != current.manifest["shape"]:
        raise ValueError(f"{where}: frames are {current.manifest['shape']}, cannot append {list(images.shape[1:])}")
    if (stress is None) != (current.stress is None):
        have = "has" if current.stress is not None else "has no"
        raise ValueError(f"{where}: the dataset {have} stress labels; append must match")
    clash = sorted(set(ids) & set(current.ids))
    if clash:
        raise ValueError(f"{where}: ids already in the dataset: {clash[:10]}")
    if not len(ids):
        return root
    index = len(current.manifest["chunks"])
    manifest = dict(current.manifest)
    try:
        chunk = _write_chunk(root, index, images, masks, stress)
        manifest["chunks"] = manifest["chunks"] + [chunk]
        manifest["ids"] = current.ids + ids
        manifest["count"] = start + len(ids)
        if provenance is not None or current.provenance is not None:
            manifest["provenance"] = (current.provenance or [{}] * start) + (provenance or [{}] * len(ids))
        storage.atomic_write_json(where, manifest)
    except BaseException:
        for key in mf.DTYPES:
            (root / mf.chunk_name(key, index)).unlink(missing_ok=True)
        raise
    return root


def _write_chunk(folder: Path, index: int, images, masks, stress) -> dict:
    chunk = {"count": int(len(images))}
    for key, array in (("images", images), ("masks", masks), ("stress", stress)):
        if array is not None:
            name = mf.chunk_name(key, index)
            _write_npy(folder / name, array)
            chunk[key] = name
    return chunk


def _write_npy(path: Path, array):
    """Stream ``array`` to ``path`` through a temporary name, then rename."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(partial, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _check_pixel_size(pixel_size_mm):
    try:
        value = float(pixel_size_mm)
    except (TypeError, ValueError):
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"pixel_size_mm must be a positive number of mm, got {pixel_size_mm!r}")


def check_target(path, overwrite: bool):
    """Raise FileExistsError unless a dataset may be written at ``path``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a folder")
    if not path.is_dir() or not any(path.iterdir()):
        return
    if not (path / mf.MANIFEST).is_file():
        raise FileExistsError(f"{path} is not empty and holds no dataset; refusing to replace it")
    if not overwrite:
        raise FileExistsError(f"{path} already holds a dataset (pass overwrite=True, or --overwrite, to replace it)")


def _sibling(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name}.{tag}-{uuid.uuid4().hex[:12]}")


def _swap_in(staging: Path, path: Path):
    """Move the finished ``staging`` folder to ``path``; an old dataset there
    is moved aside first and only deleted once the new one is in place."""
    if path.is_dir() and any(path.iterdir()):
        old = _sibling(path, "old")
        os.replace(path, old)
        try:
            os.replace(staging, path)
        except BaseException:
            os.replace(old, path)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, path)  # renaming over an empty folder is allowed
