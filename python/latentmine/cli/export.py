"""``latentmine export``: a dataset's stress labels as NIfTI or DICOM, or the dataset as a MONAI list."""
from __future__ import annotations

from pathlib import Path


def register(subparsers):
    parser = subparsers.add_parser(
        "export", help="write stress labels as NIfTI/DICOM for clinical viewers, or a dataset as a MONAI list",
        description="Export the stress maps of a dataset (its stress.npy, or --stress FILE from latentmine label) "
                    "as a float32 kPa NIfTI volume and/or a DICOM secondary capture, placed like the imported "
                    "frames; or write the dataset as per-frame NIfTI files with a MONAI datalist.json. "
                    "Needs the io extra: pip install 'latentmine[io]'.")
    parser.add_argument("dataset", type=Path, help="dataset folder")
    parser.add_argument("--stress", type=Path, metavar="FILE.npy",
                        help="(N, H, W) stress maps in kPa, e.g. the stress.npy of latentmine label")
    parser.add_argument("--nifti", type=Path, metavar="OUT.nii.gz", help="write the stress maps as NIfTI")
    parser.add_argument("--dicom", type=Path, metavar="OUT.dcm", help="write the stress maps as DICOM")
    parser.add_argument("--monai", type=Path, metavar="DIR", help="write the dataset as a MONAI-style list")
    parser.add_argument("--overwrite", action="store_true", help="replace files already there")
    parser.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from ..data import export_dicom, export_nifti, load_dataset, to_monai_list

    if not (args.nifti or args.dicom or args.monai):
        raise ValueError("nothing to write: give --nifti, --dicom and/or --monai")
    dataset = load_dataset(args.dataset)
    if args.stress is not None:
        if not args.stress.is_file():
            raise FileNotFoundError(f"--stress: no such file: {args.stress}")
        try:
            dataset.stress = np.load(args.stress, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ValueError(f"--stress: {args.stress} is not a readable .npy array ({error})") from None
    if args.nifti:
        print(f"wrote {export_nifti(dataset, args.nifti, overwrite=args.overwrite)}")
    if args.dicom:
        print(f"wrote {export_dicom(dataset, args.dicom, overwrite=args.overwrite)}")
    if args.monai:
        items = to_monai_list(dataset, args.monai, overwrite=args.overwrite)
        print(f"wrote {len(items)} MONAI items and {args.monai / 'datalist.json'}")
    return 0
