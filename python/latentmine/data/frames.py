"""From frames read out of medical files to a :class:`~latentmine.data.Dataset`.

Shared by :mod:`~latentmine.data.dicom`, :mod:`~latentmine.data.nifti`,
:mod:`~latentmine.data.contours` and :mod:`~latentmine.data.monai`: label codes
are remapped and checked (naming the file and the frame), every mask is
checked against the labelling tool's rules
(:func:`latentmine.fea.validate.mask_problems`), and the frames that fail are
handled by one policy, ``invalid``:

``"error"`` (default)
    raise a ValueError listing every failing frame and its reasons;
``"skip"``
    leave those frames out and list them, with their reasons, in the
    manifest's ``meta["skipped_frames"]``;
``"keep"``
    keep them and record their reasons in ``meta["invalid_frames"]``.

Nothing is dropped silently, and nothing is written here: the caller saves
the returned dataset with :func:`~latentmine.data.save_dataset`, which writes
it atomically, so an import that fails leaves no dataset behind.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .checks import label_codes_message, unknown_codes
from .dataset import Dataset
from .importing import _apply, _remap_table

INVALID_POLICIES = ("error", "skip", "keep")
#: Frames named in one error message before "... and N more".
_SHOWN = 8
#: Mask codes below this are remapped through a look-up table.
_LOOKUP_LIMIT = 1 << 16


def check_policy(invalid: str) -> str:
    if invalid not in INVALID_POLICIES:
        raise ValueError(f"invalid must be one of {INVALID_POLICIES}, got {invalid!r}")
    return invalid


def remap_masks(masks, remap, *, source, frame_numbers) -> np.ndarray:
    """``masks`` (N, H, W) translated by ``remap`` to Label codes, as uint8.

    Raises
    ------
    ValueError
        For a non-integer mask, a remap onto a non-Label code, or codes left
        unknown, naming ``source`` and the first frames holding them.
    """
    masks = _integer_codes(np.asarray(masks), source)
    table = _remap_table(remap)
    low, high = (int(masks.min()), int(masks.max())) if masks.size else (0, 0)
    if table is None and not unknown_codes(np.arange(low, high + 1)):
        return masks.astype(np.uint8, copy=False)  # every value between the extremes is a Label code
    if low < 0 or high >= _LOOKUP_LIMIT:
        mapped = _apply(table, masks)
    else:  # codes of a few bits: one look-up table instead of a pass per code
        lookup = np.arange(high + 1, dtype=np.int64)
        if table is not None:
            inside = (table[0] >= 0) & (table[0] <= high)
            lookup[table[0][inside]] = table[1][inside]
        mapped = lookup[masks]
    present = unknown_codes(mapped)
    if present:
        holding = [frame_numbers[i] for i in np.flatnonzero(np.isin(mapped, present).reshape(len(masks), -1).any(axis=1))]
        raise ValueError(f"{source}: frame(s) {_few(holding)}: unknown label codes {present} (valid: "
                         f"{label_codes_message()}; pass remap= (--remap CODE=LABEL,...) to translate your codes)")
    return mapped.astype(np.uint8)


def screen(masks, *, frame_numbers, invalid, source, known=None) -> tuple[np.ndarray, dict]:
    """Which frames to keep and why the others fail.

    Parameters
    ----------
    masks : (N, H, W) uint8 Label codes
    frame_numbers : list of int
        The source frame of each mask, used in messages and records.
    invalid : {"error", "skip", "keep"}
    known : dict, optional
        Problems already found per frame number (e.g. by the contour checks);
        they count like the mask problems.

    Returns
    -------
    keep : (N,) bool
    problems : dict of str -> list of str
        Frame number (as a string, for JSON) -> reasons, for every failing frame.
    """
    from ..fea.validate import mask_problems

    check_policy(invalid)
    problems = {}
    for mask, frame in zip(masks, frame_numbers):
        reasons = list((known or {}).get(frame, [])) + mask_problems(mask)
        if reasons:
            problems[str(frame)] = reasons
    if problems and invalid == "error":
        lines = [f"frame {frame}: " + "; ".join(reasons) for frame, reasons in list(problems.items())[:_SHOWN]]
        more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise ValueError(f"{source}: {len(problems)} of {len(masks)} frame(s) fail the labelling tool's checks: "
                         + " | ".join(lines) + more + " (pass invalid='skip' or --skip-invalid to leave them out)")
    keep = np.ones(len(masks), bool)
    if invalid == "skip":
        keep = np.array([str(frame) not in problems for frame in frame_numbers], bool)
    return keep, problems


def assemble(images, masks, *, frame_numbers, grid, source, stem, meta, invalid, known=None,
             file_of_frame=None, frame_count=None, screened=None) -> Dataset:
    """The in-memory dataset of checked frames, with ids ``<stem>-f<frame>``
    (just ``<stem>`` when the source has one frame, ``frame_count == 1``).
    ``screened`` is the result of :func:`screen` when the caller ran it already.

    Raises
    ------
    ValueError
        When no frame is left, or for failing frames under ``invalid="error"``.
    """
    keep, problems = screened or screen(masks, frame_numbers=frame_numbers, invalid=invalid, source=source,
                                        known=known)
    if not keep.any():
        raise ValueError(f"{source}: no frame left to import ({len(problems)} failed the checks: "
                         f"{dict(list(problems.items())[:_SHOWN])})")
    kept = [frame for frame, ok in zip(frame_numbers, keep) if ok]
    meta = dict(meta, grid=grid.to_json(), frames=kept)
    meta["skipped_frames" if invalid == "skip" else "invalid_frames"] = problems
    provenance = [{"source": meta.get("source"), "file": str(file_of_frame(frame) if file_of_frame else source),
                   "frame": int(frame)} for frame in kept]
    ids = [stem] if frame_count == 1 else [f"{stem}-f{frame:05d}" for frame in kept]
    if not keep.all():
        images, masks = images[keep], masks[keep]
    return Dataset(images, masks, None, ids, float(grid.pixel_size_mm), {"meta": meta}, provenance, None)


def select_frames(count: int, frames, *, source) -> list[int]:
    """Frame numbers chosen by ``frames`` (None, a slice, or integers) out of ``count``."""
    if frames is None:
        return list(range(count))
    chosen = list(range(count))[frames] if isinstance(frames, slice) else [int(f) for f in frames]
    outside = [f for f in chosen if not 0 <= f < count]
    if outside:
        raise ValueError(f"{source}: frame(s) {_few(outside)} do not exist (it has {count} frame(s), numbered from 0)")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"{source}: frames are chosen more than once: {_few(chosen)}")
    if not chosen:
        raise ValueError(f"{source}: no frame chosen")
    return chosen


def parse_frames(text: str):
    """``"0:100"``, ``"::2"`` or ``"3,5,7"`` (the ``--frames`` option) as a slice or a list."""
    if ":" in text:
        parts = [int(p) if p.strip() else None for p in text.split(":")]
        if len(parts) > 3:
            raise ValueError(f"--frames {text!r}: expected START:STOP[:STEP] or a comma-separated list")
        return slice(*parts)
    return [int(p) for p in text.split(",") if p.strip()]


def read_label_frames(path) -> np.ndarray:
    """(N, H, W) integer label frames from a ``.npy``, NIfTI or DICOM file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such masks file")
    name = path.name.lower()
    if name.endswith(".npy"):
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)  # read once, by the code checks
        except (OSError, ValueError, EOFError) as error:
            raise ValueError(f"{path}: unreadable .npy file ({error})") from None
        return array[None] if array.ndim == 2 else array
    if name.endswith((".nii", ".nii.gz")):
        from .nifti import read_nifti

        return np.moveaxis(read_nifti(path).data, 2, 0)
    from .dicom import read_label_dicom

    return read_label_dicom(path)


def _integer_codes(masks: np.ndarray, source) -> np.ndarray:
    if np.issubdtype(masks.dtype, np.integer):
        return masks
    if np.issubdtype(masks.dtype, np.floating) and np.isfinite(masks).all() and np.array_equal(masks, np.round(masks)):
        return masks.astype(np.int64)  # label volumes are often stored as floats holding whole numbers
    raise ValueError(f"{source}: masks must hold integer label codes, got {masks.dtype} values that are not whole numbers")


def _few(values, limit=_SHOWN) -> str:
    values = list(values)
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")
