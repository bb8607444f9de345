"""Import your own images and segmentation masks.

Masks may use any integer codes: ``remap`` translates them to
:class:`~latentmine.labels.Label` codes (codes it does not mention are kept
as they are). After remapping every code must be a Label code. Images are
converted to float32 grey levels in [0, 1]: 8-bit integers are divided
by 255, wider ones by 65535, colour images are converted to luminance
(Pillow's ``"L"`` mode, ITU-R 601), floating-point images must already lie
in [0, 1]. Palette masks are read as their palette indices.

To check the masks against the labelling tool's rules as well, run
:func:`latentmine.fea.validate.check_masks` on ``dataset.masks``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .checks import label_codes_message, unknown_codes, validated_arrays
from .dataset import Dataset

#: File name endings read as images (case-insensitive).
IMAGE_SUFFIXES = (".png", ".tif", ".tiff")


def import_arrays(images, masks, *, remap=None, pixel_size_mm, ids=None, source="arrays") -> Dataset:
    """A dataset (in memory) from ``(N, H, W)`` image and mask arrays.

    Raises
    ------
    ValueError
        For counts or shapes that differ, a remap onto a non-Label code, or
        codes left unknown after remapping (named with their samples).
    """
    table = _remap_table(remap)
    masks = np.asarray(masks)
    if not np.issubdtype(masks.dtype, np.integer):
        raise ValueError(f"{source}: masks must hold integer codes, got dtype {masks.dtype}")
    masks = _apply(table, masks)
    images = _as_grey(np.asarray(images), source)
    images, masks, _, ids, _ = validated_arrays(images, masks, None, ids, None, source=source)
    return Dataset(images, masks, None, ids, float(pixel_size_mm), {"meta": {"source": source}}, None, None)


def import_folder(image_dir, mask_dir, *, remap=None, pixel_size_mm) -> Dataset:
    """A dataset (in memory) from PNG or TIFF image/mask pairs matched by file stem.

    ``image_dir/frame_001.png`` pairs with ``mask_dir/frame_001.tif`` (any of
    :data:`IMAGE_SUFFIXES`). Ids are the stems, sorted; each sample's
    provenance records both file names.

    Raises
    ------
    FileNotFoundError
        When a folder is missing.
    ValueError
        For an empty folder, a stem with no partner or two files, an
        unreadable or corrupt file, sizes that differ, a colour mask, or
        unknown codes after ``remap`` (each naming the file).
    """
    images_found, masks_found = _listing(Path(image_dir)), _listing(Path(mask_dir))
    unpaired = sorted(set(images_found) ^ set(masks_found))
    if unpaired:
        raise ValueError(f"{len(unpaired)} file(s) have no partner in {image_dir} / {mask_dir} "
                         f"(matched by stem): {unpaired[:10]}")
    table = _remap_table(remap)
    stems = sorted(images_found)
    images, masks = [], []
    for stem in stems:
        image_file, mask_file = images_found[stem], masks_found[stem]
        image = _as_grey(_read(image_file, grey=True), image_file)
        mask = _read(mask_file)
        if mask.ndim != 2 or not np.issubdtype(mask.dtype, np.integer):
            raise ValueError(f"{mask_file}: a mask must be a single-channel integer image, got "
                             f"{mask.dtype} with shape {mask.shape}")
        mask = _apply(table, mask)
        bad = unknown_codes(mask)
        if bad:
            raise ValueError(f"{mask_file}: unknown label codes {bad} after remapping "
                             f"(valid: {label_codes_message()})")
        if images and image.shape != images[0].shape:
            raise ValueError(f"{image_file}: size {image.shape} differs from {images_found[stems[0]]} "
                             f"({images[0].shape})")
        if mask.shape != image.shape:
            raise ValueError(f"{mask_file}: size {mask.shape} differs from its image {image_file} ({image.shape})")
        images.append(image)
        masks.append(mask)
    dataset = import_arrays(np.stack(images), np.stack(masks), pixel_size_mm=pixel_size_mm, ids=stems,
                            source=str(image_dir))
    dataset.provenance = [{"source": "import", "image_file": str(images_found[s]), "mask_file": str(masks_found[s])}
                          for s in stems]
    dataset.manifest = {"meta": {"source": "import_folder", "image_dir": str(image_dir), "mask_dir": str(mask_dir),
                                 "remap": {str(k): int(v) for k, v in (remap or {}).items()}}}
    return dataset


def _listing(folder: Path) -> dict:
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    found = {}
    for file in sorted(folder.iterdir()):
        if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES:
            if file.stem in found:
                raise ValueError(f"{folder}: two files share the stem {file.stem!r}: {found[file.stem].name}, {file.name}")
            found[file.stem] = file
    if not found:
        raise ValueError(f"{folder}: no {', '.join(IMAGE_SUFFIXES)} files")
    return found


def _read(file: Path, *, grey: bool = False) -> np.ndarray:
    """Pixel values of an image file; colour converted to luminance when ``grey``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as picture:
            picture.load()
            if picture.mode in ("RGB", "RGBA", "LA", "CMYK", "YCbCr", "P", "PA", "1"):
                if not grey:
                    if picture.mode in ("P", "1"):
                        return np.asarray(picture).astype(np.uint8)  # palette indices are the codes
                    raise ValueError(f"a mask must be a single-channel integer image, not {picture.mode}")
                picture = picture.convert("L")
            return np.asarray(picture)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise ValueError(f"{file}: unreadable, corrupt or unsuitable image ({error})") from None


def _as_grey(array: np.ndarray, source) -> np.ndarray:
    """Grey levels in [0, 1]: 8-bit / 255, wider integers / 65535, floats as they are."""
    if np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
        if low < 0 or high > 65535:
            raise ValueError(f"{source}: integer grey levels must lie in [0, 65535], got [{low}, {high}]")
        return (array / (255 if array.dtype.itemsize == 1 else 65535)).astype(np.float32)
    if np.issubdtype(array.dtype, np.floating):
        if array.size and not (np.nanmin(array) >= 0 and np.nanmax(array) <= 1):
            raise ValueError(f"{source}: floating-point images must lie in [0, 1], got "
                             f"[{np.nanmin(array):g}, {np.nanmax(array):g}]")
        return array.astype(np.float32)
    raise ValueError(f"{source}: images must be numeric, got dtype {array.dtype}")


def _remap_table(remap):
    """``(user codes, Label codes)`` arrays, checked."""
    if not remap:
        return None
    from ..labels import Label

    pairs = []
    for key, value in dict(remap).items():
        try:
            pairs.append((int(key), int(Label(int(value)))))
        except (TypeError, ValueError):
            raise ValueError(f"remap: {key!r} -> {value!r} is not onto a Label code ({label_codes_message()})") from None
    return np.array(pairs, dtype=np.int64).T


def _apply(table, masks):
    if table is None:
        return masks
    source, target = table
    out = masks.astype(np.int64, copy=True)
    for code, label in zip(source, target):
        out[masks == code] = label
    return out
