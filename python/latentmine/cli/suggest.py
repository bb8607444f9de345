"""``latentmine suggest``: export the next suggestions of a run as files for labelling by hand."""
from __future__ import annotations

from pathlib import Path


def register(subparsers):
    parser = subparsers.add_parser("suggest", help="export the next round's suggestions (PNG, NPY, manifest)",
                                   description="Propose the next round of a run and write its samples as files. "
                                               "Label them, then run `latentmine ingest RUN LABELS_DIR`.")
    parser.add_argument("run_dir", metavar="RUN", help="run folder (made by `latentmine run`)")
    parser.add_argument("--out", help="folder for the files (default RUN/suggestions/rNNN)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..loop.human import export_suggestions
    from ..loop.session import open_run

    loop = open_run(args.run_dir, labeller="none")
    r, proposals, ids = loop.propose_next()
    out = Path(args.out) if args.out else loop.run_dir / "suggestions" / f"r{r:03d}"
    manifest = export_suggestions(out, r, proposals.images, proposals.masks, ids, run_dir=loop.run_dir,
                                  pixel_size_mm=loop.pool.pixel_size_mm)
    print(f"round {r}: {len(ids)} suggestion(s) ({loop.config.strategy if r else loop.config.first_strategy}) "
          f"written to {out}/ (ID_image.png/.npy, ID_mask.png/.npy; manifest {manifest.name})")
    print(f"label each mask, save ID.npy (float32 {proposals.masks.shape[1]}x{proposals.masks.shape[2]} "
          f"stress in kPa) into a folder, then: latentmine ingest {loop.run_dir} LABELS_DIR")
    return 0
