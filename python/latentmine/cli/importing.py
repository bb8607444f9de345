"""``latentmine import``: your own IVUS pullback (DICOM, NIfTI, contours, MONAI list) as a dataset."""
from __future__ import annotations

from pathlib import Path


def register(subparsers):
    parser = subparsers.add_parser(
        "import", help="import a DICOM or NIfTI pullback with masks or contours (or a MONAI list) as a dataset",
        description="Read your own IVUS frames and their segmentation, check every mask against the labelling "
                    "tool's rules, and write a dataset folder atomically (a failed import leaves nothing). "
                    "Needs the io extra: pip install 'latentmine[io]'.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dicom", type=Path, metavar="FILE|DIR", help="DICOM file (single- or multi-frame) or folder")
    source.add_argument("--nifti", type=Path, metavar="FILE", help="NIfTI image volume, one frame per slice")
    source.add_argument("--monai", type=Path, metavar="LIST.json",
                        help="MONAI-style list of {\"image\": path, \"label\": path} (a list, or {\"training\": [...]})")
    labels = parser.add_mutually_exclusive_group()
    labels.add_argument("--masks", type=Path, metavar="FILE", help="label codes per frame: .npy, NIfTI or DICOM")
    labels.add_argument("--contours", type=Path, metavar="FILE|DIR", help="lumen/EEM (and lipid/calcium) contour files")
    parser.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    parser.add_argument("--remap", metavar="CODE=LABEL,...",
                        help="your mask codes onto Label codes, e.g. 0=0,10=1,20=2,30=3,40=4 or 10=LUMEN")
    parser.add_argument("--pixel-size-mm", type=float, help="pixel size when the header has none (overrides it)")
    parser.add_argument("--size", type=int, metavar="N", help="resample to an N x N grid of square pixels")
    parser.add_argument("--polar", action="store_true", help="DICOM frames are polar (rows = A-lines): scan-convert")
    parser.add_argument("--frames", metavar="START:STOP[:STEP]|I,J,...", help="frames to import (from 0)")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="leave out frames whose masks fail the checks (listed in the manifest) instead of failing")
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset already at --out")
    parser.set_defaults(func=run)


def parse_remap(text):
    """``"10=1,20=FIBROUS"`` -> ``{10: 1, 20: 2}``."""
    from ..labels import Label

    if not text:
        return None
    table = {}
    for item in text.split(","):
        code, sep, label = (part.strip() for part in item.partition("="))
        try:
            if not sep:
                raise ValueError(item)
            table[int(code)] = int(label) if label.isdigit() else int(Label[label.upper()])
        except (ValueError, KeyError):
            raise ValueError(f"--remap {item!r}: expected CODE=LABEL with LABEL a code or one of "
                             f"{', '.join(label.name for label in Label)}") from None
    return table


def run(args) -> int:
    from ..data import save_dataset
    from ..data.dataset import check_target
    from ..data.frames import parse_frames

    check_target(args.out, args.overwrite)  # fail before any work is done
    remap, invalid = parse_remap(args.remap), "skip" if args.skip_invalid else "error"
    frames = parse_frames(args.frames) if args.frames else None
    if args.monai is None and args.masks is None and args.contours is None:
        raise ValueError("give the segmentation with --masks FILE or --contours FILE|DIR")
    if args.monai is not None and (args.masks is not None or args.contours is not None):
        raise ValueError("--monai lists carry their own labels; --masks and --contours do not apply")
    if args.dicom is not None:
        from ..data.dicom import import_dicom

        dataset = import_dicom(args.dicom, masks=args.masks, contours=args.contours, frames=frames, remap=remap,
                               pixel_size_mm=args.pixel_size_mm, size=args.size, polar=args.polar, invalid=invalid)
    elif args.nifti is not None:
        from ..data.nifti import import_nifti

        dataset = import_nifti(args.nifti, args.masks, contours=args.contours, frames=frames, remap=remap,
                               size=args.size, invalid=invalid)
    else:
        from ..data.monai import from_monai_list

        dataset = from_monai_list(args.monai, remap=remap, pixel_size_mm=args.pixel_size_mm, size=args.size,
                                  invalid=invalid)
    meta = dict(dataset.manifest["meta"], command=_command_line(args))
    path = save_dataset(args.out, dataset.images, dataset.masks, pixel_size_mm=dataset.pixel_size_mm,
                        ids=dataset.ids, meta=meta, provenance=dataset.provenance, overwrite=args.overwrite)
    skipped = meta.get("skipped_frames") or {}
    print(f"imported {len(dataset)} frame(s) of {dataset.images.shape[1]}x{dataset.images.shape[2]} px "
          f"({dataset.pixel_size_mm:.4f} mm/px) into {path}")
    for frame, reasons in skipped.items():
        print(f"skipped frame {frame}: " + "; ".join(reasons))
    return 0


def _command_line(args) -> str:
    words = ["latentmine import"]
    for option in ("dicom", "nifti", "monai", "masks", "contours", "out", "remap", "pixel_size_mm", "size", "frames"):
        value = getattr(args, option)
        if value is not None:
            words.append(f"--{option.replace('_', '-')} {value}")
    words += [flag for flag, on in (("--polar", args.polar), ("--skip-invalid", args.skip_invalid)) if on]
    return " ".join(words)
