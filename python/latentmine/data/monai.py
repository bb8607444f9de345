"""MONAI-style dataset lists: ``[{"image": path, "label": path}, ...]``.

MONAI training pipelines keep datasets as lists of dicts of file paths, read
by ``monai.transforms.LoadImaged`` (Cardoso et al., MONAI, arXiv 2211.02701).

* :func:`to_monai_list` writes a latentmine dataset as one 2-D NIfTI file per
  frame and key (``images/<id>.nii.gz`` float32 grey levels,
  ``labels/<id>.nii.gz`` uint8 Label codes, ``stress/<id>.nii.gz`` float32
  kPa when the dataset has stress labels), each with its pixel size (and,
  for imported pullbacks, its place) in the affine, and ``datalist.json`` in
  the Medical Segmentation Decathlon layout (``{"training": [...]}``, paths
  relative to the folder, as ``monai.data.load_decathlon_datalist`` reads
  it). The list is written last, so a folder without it is unfinished.
* :func:`from_monai_list` reads such a list (any NIfTI, DICOM, ``.npy``, PNG
  or TIFF pairs; volumes give one frame per slice) into one dataset.

MONAI itself is never imported here: it is an optional extra
(``pip install 'latentmine[monai]'``). Its readers index a 2-D NIfTI array as
stored, so a MONAI batch holds the frames exactly as latentmine does.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from .. import storage
from .dataset import Dataset
from .export import check_file_names, export_folder

DATALIST = "datalist.json"
_FOLDERS = {"image": "images", "label": "labels", "stress": "stress"}


def to_monai_list(dataset, out_dir, *, overwrite=False) -> list[dict]:
    """Write ``dataset`` as per-frame NIfTI files; the list of dicts (absolute paths).

    Raises
    ------
    FileExistsError
        When ``out_dir`` is not empty and ``overwrite`` is False.
    ValueError
        For an id that is not a plain file name.
    """
    from .export_medical import frame_affine
    from .nifti import _nibabel

    nibabel = _nibabel()
    out = export_folder(out_dir, overwrite)
    check_file_names(dataset.ids, "to_monai_list")
    arrays = {"image": dataset.images, "label": dataset.masks, "stress": dataset.stress}
    entries = []
    for index, sample in enumerate(dataset.ids):
        affine, entry = frame_affine(dataset, index), {}
        for key, array in arrays.items():
            if array is None:
                continue
            relative = f"{_FOLDERS[key]}/{sample}.nii.gz"
            picture = nibabel.Nifti1Image(np.asarray(array[index]), affine)
            picture.header.set_xyzt_units("mm")
            storage.atomic_write_bytes(out / relative, gzip.compress(picture.to_bytes(), mtime=0))
            entry[key] = relative
        entries.append(entry)
    storage.atomic_write_json(out / DATALIST, {"name": "latentmine", "labels": _label_names(),
                                               "pixel_size_mm": dataset.pixel_size_mm, "training": entries})
    return [{key: str((out / value).resolve()) for key, value in entry.items()} for entry in entries]


def from_monai_list(items, *, section="training", remap=None, pixel_size_mm=None, size=None, invalid="error",
                    base_dir=None) -> Dataset:
    """One dataset (in memory) from a MONAI-style list of image/label pairs.

    Parameters
    ----------
    items : list of dict, or path
        ``[{"image": path, "label": path}, ...]``, or a JSON file holding such
        a list or a dict with it under ``section``. Relative paths are taken
        from ``base_dir`` (default: the JSON file's folder).
    remap, size, invalid
        As for :func:`~latentmine.data.nifti.import_nifti`.
    pixel_size_mm : float, optional
        Required for ``.npy``, PNG and TIFF pairs, which carry no spacing.

    Raises
    ------
    ValueError
        Naming the item: a missing key, pairs whose frames or pixel sizes
        differ from the first pair's, repeated ids, or any error of the
        format's importer.
    """
    where = "MONAI list"
    if isinstance(items, (str, Path)):
        where = str(items)
        base_dir = Path(items).parent if base_dir is None else base_dir
        try:
            items = json.loads(Path(items).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{where}: unreadable list ({error})") from None
        if isinstance(items, dict):
            if not isinstance(items.get(section), list):
                raise ValueError(f"{where}: no list under {section!r}")
            items = items[section]
    if not isinstance(items, list) or not items:
        raise ValueError(f"{where}: expected a non-empty list of {{'image': path, 'label': path}} dicts")
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    parts = []
    for number, item in enumerate(items):
        if not isinstance(item, dict) or "image" not in item or "label" not in item:
            raise ValueError(f"{where}: item {number} must be a dict with 'image' and 'label' paths, got {item!r}")
        image, label = (base / Path(item[key]) for key in ("image", "label"))
        part = _import_pair(image, label, remap=remap, pixel_size_mm=pixel_size_mm, size=size, invalid=invalid)
        if parts and (part.images.shape[1:] != parts[0].images.shape[1:]
                      or not np.isclose(part.pixel_size_mm, parts[0].pixel_size_mm, rtol=1e-6)):
            raise ValueError(f"{where}: item {number} ({image}) has {part.images.shape[1:]} frames of "
                             f"{part.pixel_size_mm:g} mm, the first item {parts[0].images.shape[1:]} of "
                             f"{parts[0].pixel_size_mm:g} mm (pass size=N to resample them all)")
        parts.append(part)
    ids = [sample for part in parts for sample in part.ids]
    if len(set(ids)) != len(ids):
        repeated = sorted({sample for sample in ids if ids.count(sample) > 1})
        raise ValueError(f"{where}: items give repeated ids {repeated[:8]} (file names must differ)")
    meta = {"source": "monai", "list": where, "items": [part.manifest["meta"] for part in parts]}
    return Dataset(np.concatenate([p.images for p in parts]), np.concatenate([p.masks for p in parts]), None, ids,
                   parts[0].pixel_size_mm, {"meta": meta}, [r for p in parts for r in p.provenance], None)


def _import_pair(image: Path, label: Path, *, remap, pixel_size_mm, size, invalid) -> Dataset:
    name = image.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        from .nifti import import_nifti

        return import_nifti(image, label, remap=remap, size=size, invalid=invalid)
    if name.endswith(".dcm"):
        from .dicom import import_dicom

        return import_dicom(image, masks=label, remap=remap, pixel_size_mm=pixel_size_mm, size=size, invalid=invalid)
    return _import_plain(image, label, remap=remap, pixel_size_mm=pixel_size_mm, size=size, invalid=invalid)


def _import_plain(image: Path, label: Path, *, remap, pixel_size_mm, size, invalid) -> Dataset:
    """A ``.npy``, PNG or TIFF pair: no spacing in the files, so ``pixel_size_mm`` is needed."""
    from . import frames as fr
    from . import grid as gd
    from .importing import _as_grey, _read

    if pixel_size_mm is None:
        raise ValueError(f"{image}: .npy, PNG and TIFF files carry no pixel spacing; pass pixel_size_mm= "
                         f"(--pixel-size-mm)")
    for file in (image, label):
        if not file.is_file():
            raise FileNotFoundError(f"{file}: no such file")
    if image.suffix.lower() == ".npy":
        grey = _as_grey(np.load(image, allow_pickle=False), image)
    else:
        grey = _as_grey(_read(image, grey=True), image)
    grey = grey[None] if grey.ndim == 2 else grey
    codes = fr.read_label_frames(label) if label.suffix.lower() == ".npy" else _read(label)[None]
    if codes.shape != grey.shape:
        raise ValueError(f"{label}: labels of shape {codes.shape} do not match the image {image} ({grey.shape})")
    numbers = list(range(len(grey)))
    spacing = (float(pixel_size_mm),) * 2
    grid = gd.square_grid(grey.shape[1:], spacing, size) if size else gd.native_grid(grey.shape[1:], spacing, source=image)
    masks = fr.remap_masks(codes, remap, source=label, frame_numbers=numbers)
    images = np.stack([gd.resample(frame, grid) for frame in grey])
    masks = np.stack([gd.resample(mask, grid, nearest=True) for mask in masks])
    meta = {"source": "file", "path": str(image), "labels": str(label)}
    return fr.assemble(images, masks, frame_numbers=numbers, grid=grid, source=str(image),
                       stem=image.name.split(".")[0], meta=meta, invalid=invalid, frame_count=len(grey))


def _label_names() -> dict:
    from ..labels import Label

    return {str(int(label)): label.name for label in Label}
