"""``latentmine phantoms``: generate an in-silico IVUS cohort, optionally FE-labelled.

Writes a dataset folder (see :mod:`latentmine.data`) and a contact sheet
``contact_sheet.png`` inside it. With ``--label`` every mask is labelled by
the finite-element tool and the summary compares the peri-luminal peak
stresses with the literature range.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

#: Peri-luminal peak stresses reported for coronary plaques (Teng et al.,
#: Circ Cardiovasc Imaging 2014;7:461-470; Costopoulos et al., JACC
#: Cardiovasc Imaging 2017), kPa.
LITERATURE_PSS_KPA = (50.0, 300.0)


def register(subparsers):
    parser = subparsers.add_parser(
        "phantoms", help="generate an in-silico IVUS cohort dataset (optionally FE-labelled)",
        description="Generate synthetic IVUS frames with vessel-wall masks and save them as a dataset.")
    parser.add_argument("--n", type=int, default=1200, help="number of phantoms (default 1200)")
    parser.add_argument("--size", type=int, default=128, help="frame side in pixels, >= 64 (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", required=True, help="dataset folder to write")
    parser.add_argument("--label", action="store_true", help="label the masks with the finite-element tool")
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset already at --out")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="override a generator parameter, VALUE in JSON, e.g. plaque_burden=[0.6,0.8] "
                             "(repeatable; see latentmine.phantoms.PhantomParams)")
    parser.add_argument("--sheet-rows", type=int, default=8, help="rows in the contact sheet (default 8)")
    parser.add_argument("--hard-case", type=float, default=None, metavar="SHARE",
                        help="a hard-case cohort: this share (e.g. 0.08) of high-risk thin-cap plaques among "
                             "stable ones (latentmine.phantoms.generate_hard_case)")
    from ..parallel import add_executor_arguments

    add_executor_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..data import contact_sheet, save_dataset
    from ..data.dataset import check_target
    from ..phantoms import generate, generate_hard_case

    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    check_target(args.out, args.overwrite)  # fail before any work is done
    params = _parse_params(args.param)
    started = time.perf_counter()
    if args.hard_case is None:
        cohort = generate(args.n, size=args.size, seed=args.seed, progress=True, **params)
    else:
        cohort = generate_hard_case(args.n, size=args.size, seed=args.seed, high_risk_share=args.hard_case,
                                    progress=True, **params)
    generated = time.perf_counter() - started
    images, masks, ids, anatomy = cohort.images, cohort.masks, cohort.ids, cohort.anatomy
    stress, labelling = None, None
    if args.label:
        keep, stress, labelling = _label(masks, cohort.pixel_size_mm, args)
        images, masks, stress = images[keep], masks[keep], stress[keep]
        ids = [ids[i] for i in np.flatnonzero(keep)]
        anatomy = [dict(anatomy[i], pss_kpa=labelling["pss_kpa"][j], pss_rule=labelling["pss_rules"][j])
                   for j, i in enumerate(np.flatnonzero(keep))]
    generator = "generate" if args.hard_case is None else "generate_hard_case"
    meta = {"generator": f"latentmine.phantoms.{generator}", "command": _command_line(args),
            "size": args.size, "seed": args.seed,
            "params": cohort.params, "generation_seconds": round(generated, 3)}
    if labelling is not None:
        meta["labelling"] = {k: v for k, v in labelling.items() if k not in ("pss_kpa", "pss_rules")}
    provenance = [{"source": "phantom", "anatomy": record} for record in anatomy]
    path = save_dataset(args.out, images, masks, stress, pixel_size_mm=cohort.pixel_size_mm, ids=ids,
                        meta=meta, provenance=provenance, overwrite=args.overwrite)
    sheet = contact_sheet(path / "contact_sheet.png", images, masks, stress, n=args.sheet_rows, ids=ids,
                          title=_command_line(args))
    _summary(cohort, generated, labelling, path, sheet)
    return 0


def _command_line(args) -> str:
    """The command that reproduces this cohort (executor options aside)."""
    words = ["latentmine phantoms", f"--n {args.n}", f"--size {args.size}", f"--seed {args.seed}"]
    words += [f"--param '{item}'" for item in args.param] + (["--label"] if args.label else [])
    words += [] if args.hard_case is None else [f"--hard-case {args.hard_case}"]
    return " ".join(words)


def _parse_params(items) -> dict:
    params = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--param {item!r}: expected NAME=VALUE")
        try:
            params[name.strip()] = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f"--param {item!r}: VALUE must be JSON (e.g. 0.5, [0.2, 0.8], true)") from None
    return params


def _make_labeller(pixel_size_mm):
    from ..fea import Labeller

    return Labeller(pixel_size_mm=pixel_size_mm)


def _label(masks, pixel_size_mm, args):
    """Stress maps of the masks that labelled; the boolean mask of those; a summary."""
    from ..fea.pss import pss_and_rule_batch
    from ..parallel import executor_from_args, label_many

    labeller = _make_labeller(pixel_size_mm)
    started = time.perf_counter()
    with executor_from_args(args) as executor:
        batch = label_many(masks, labeller, executor=executor, progress=True)
    wall = time.perf_counter() - started
    keep = batch.ok
    # Workers return only the maps; PSS of a map is the labeller's own definition.
    pss, rules = pss_and_rule_batch(batch.stress[keep], masks[keep], pixel_size_mm)
    low, high = LITERATURE_PSS_KPA
    seconds = batch.seconds[keep]
    summary = {
        "labelled": int(keep.sum()),
        "failed": {str(i): batch.reasons[i] for i in batch.failed},
        "wall_seconds": round(wall, 3),
        "solve_seconds": _stats(seconds),
        "pss_kpa_percentiles": _stats(pss),
        "pss_rule_counts": {rule: int(np.sum(rules == rule)) for rule in sorted(set(rules))},
        "literature_pss_kpa": list(LITERATURE_PSS_KPA),
        "share_within_literature": float(np.mean((pss >= low) & (pss <= high))) if pss.size else None,
        "pss_kpa": [float(v) for v in pss],
        "pss_rules": [str(rule) for rule in rules],
    }
    return keep, batch.stress, summary


def _stats(values) -> dict:
    values = np.asarray(values, dtype=float)
    if not values.size:
        return {}
    p5, p25, p50, p75, p95 = np.percentile(values, [5, 25, 50, 75, 95])
    return {"min": float(values.min()), "p5": float(p5), "p25": float(p25), "median": float(p50),
            "p75": float(p75), "p95": float(p95), "max": float(values.max()), "mean": float(values.mean()),
            "total": float(values.sum())}


def _summary(cohort, seconds, labelling, path, sheet):
    burden = np.array([a["plaque_burden"] for a in cohort.anatomy])
    lumen = 2 * np.sqrt(np.array([a["lumen_area_mm2"] for a in cohort.anatomy]) / np.pi)
    caps = np.array([a["min_cap_um"] for a in cohort.anatomy if a["min_cap_um"] is not None])
    lines = [
        f"{len(cohort)} phantoms of {cohort.masks.shape[1]}x{cohort.masks.shape[2]} px "
        f"({cohort.pixel_size_mm:.4f} mm/px) in {seconds:.2f} s ({len(cohort) / seconds:.0f} phantoms/s)",
        f"plaque burden {np.percentile(burden, 5):.0%}-{np.percentile(burden, 95):.0%} (5-95th), "
        f"lumen diameter {np.percentile(lumen, 5):.2f}-{np.percentile(lumen, 95):.2f} mm, "
        f"lipid cores {caps.size} (thinnest cap {caps.min() if caps.size else float('nan'):.0f} um), "
        f"calcium in {np.mean([a['calcium_area_mm2'] > 0 for a in cohort.anatomy]):.0%}",
    ]
    if labelling is not None:
        solve, pss = labelling["solve_seconds"], labelling["pss_kpa_percentiles"]
        low, high = labelling["literature_pss_kpa"]
        lines.append(f"labelled {labelling['labelled']} in {labelling['wall_seconds']:.1f} s wall; solve time per "
                     f"mask median {solve.get('median', float('nan')):.3f} s, p95 {solve.get('p95', float('nan')):.3f} s"
                     + (f"; {len(labelling['failed'])} failed and left out" if labelling["failed"] else ""))
        if pss:
            lines.append(f"PSS kPa: p5 {pss['p5']:.0f}, p25 {pss['p25']:.0f}, median {pss['median']:.0f}, "
                         f"p75 {pss['p75']:.0f}, p95 {pss['p95']:.0f} (literature ~{low:.0f}-{high:.0f} kPa; "
                         f"{labelling['share_within_literature']:.0%} of samples within); PSS rules "
                         + ", ".join(f"{rule} {count}" for rule, count in labelling["pss_rule_counts"].items()))
    lines.append(f"dataset: {path}  contact sheet: {sheet}")
    print("\n".join(lines), file=sys.stdout)
