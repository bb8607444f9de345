"""Quality of F with the training recipe on random real samples, per size and step budget.

Two uses (issue #10):

* **Choosing the step budget** of the study's F without touching a test split:
  ``--budgets 500,1000,2000,4000`` trains one F per (size, budget) and reports
  the *validation* MSE; the budget is converged where doubling it no longer
  lowers the validation MSE by more than the repeat-to-repeat noise.
* **The quality bar** of the surrogate on the default cohort (seed 0): test MSE
  <= 45 kPa² at 25 labels and <= 20 kPa² at 400, mean absolute PSS error
  <= 10% of the test split's mean PSS.

* **Input features** (``--features none,depth,lame,depth+lame``): F with
  :func:`latentmine.models.priors.wall_priors` channels appended to its input,
  compared on the validation split.

Not a timed benchmark: it prints one JSON line per (size, budget) (steps run,
best step, seconds, validation and test MSE, PSS error) and with ``--out``
writes them all as JSON (atomically) and a PNG of validation MSE against the
budget. Run::

    .venv/bin/python benchmarks/surrogate_quality.py --seed 7 --sizes 25,100 --budgets 500,1000,2000,4000 \
        --out benchmarks/results/surrogate_budget.json

Cohort: ``phantoms.generate(max(sizes) + 150, size=64, seed=SEED)``; the first
``max(sizes)`` frames train, the next 50 are the validation split (early
stopping, the budget choice), the last 100 the test split. F is the study's:
``StressUNet("both", width=8, levels=3)``, one thread.
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from time import perf_counter

import numpy as np
import torch

from latentmine.fea import Labeller
from latentmine.fea.pss import plaque_structural_stress_batch
from latentmine.models import FitRecipe, StressUNet, fit_target, predict
from latentmine.models.priors import parse_priors
from latentmine.phantoms import generate
from latentmine.storage import atomic_write_json

VALIDATION, TEST = 50, 100


def _mse(model, images, masks, labels) -> tuple:
    pred = predict(model, images, masks)
    return float(np.mean((pred - labels) ** 2)), pred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25,50,100,200,400")
    parser.add_argument("--budgets", default="1500", help="comma-separated FitRecipe.max_steps values")
    parser.add_argument("--seed", type=int, default=0, help="cohort seed (0: the default cohort)")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--patience", type=int, default=4)
    parser.add_argument("--features", default="none",
                        help="comma-separated prior sets: none, or names of PRIOR_NAMES joined by '+'")
    parser.add_argument("--out", type=Path, help="JSON of every line, and a PNG beside it")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    budgets = [int(b) for b in args.budgets.split(",")]
    feature_sets = [parse_priors(f) for f in args.features.split(",")]
    torch.set_num_threads(1)
    n = max(sizes)
    cohort = generate(n + VALIDATION + TEST, size=64, seed=args.seed)
    labels = Labeller(cohort.pixel_size_mm)(cohort.masks)
    val, test = slice(n, n + VALIDATION), slice(n + VALIDATION, n + VALIDATION + TEST)
    pss_true = plaque_structural_stress_batch(labels[test], cohort.masks[test], cohort.pixel_size_mm)
    rows = []
    for size in sizes:
        for budget, features in itertools.product(budgets, feature_sets):
            recipe = FitRecipe(max_steps=budget, batch_size=args.batch_size, lr=args.lr, patience=args.patience)
            torch.manual_seed(0)
            model = StressUNet("both", width=8, levels=3, priors=features)
            start = perf_counter()
            fit = fit_target(model, cohort.images[:size], cohort.masks[:size], labels[:size], recipe=recipe,
                             seed=1, validation=(cohort.images[val], cohort.masks[val], labels[val]))
            seconds = perf_counter() - start
            val_mse, _ = _mse(model, cohort.images[val], cohort.masks[val], labels[val])
            test_mse, pred = _mse(model, cohort.images[test], cohort.masks[test], labels[test])
            pss_pred = plaque_structural_stress_batch(pred, cohort.masks[test], cohort.pixel_size_mm)
            rows.append({"seed": args.seed, "size": size, "lr": args.lr, "max_steps": budget,
                         "features": "+".join(features) or "none", "steps": fit.steps,
                         "best_step": fit.best_step, "seconds": round(seconds, 1),
                         "ms_per_step": round(1e3 * seconds / max(fit.steps, 1), 1),
                         "val_mse_kpa2": val_mse, "test_mse_kpa2": test_mse,
                         "pss_abs_err_kpa": float(np.mean(np.abs(pss_pred - pss_true))),
                         "test_pss_mean_kpa": float(np.mean(pss_true))})
            print(json.dumps(rows[-1]), flush=True)
            if args.out:
                atomic_write_json(args.out, {"command": vars(args) | {"out": str(args.out)}, "rows": rows})
    if args.out:
        plot(rows, args.out.with_suffix(".png"))


def _save(figure, path: Path) -> None:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    temporary = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(temporary, dpi=120)
    plt.close(figure)
    temporary.replace(path)


def plot(rows: list, path: Path) -> None:
    """Validation MSE against the step budget, one line per (size, peak learning rate, features);
    with one budget and several feature sets, against the feature set, one line per size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if len({r["max_steps"] for r in rows}) == 1 and len({r.get("features", "none") for r in rows}) > 1:
        names = list(dict.fromkeys(r.get("features", "none") for r in rows))
        figure, axis = plt.subplots(figsize=(5, 3.5))
        for size in sorted({r["size"] for r in rows}):
            mine = {r.get("features", "none"): r["val_mse_kpa2"] for r in rows if r["size"] == size}
            axis.plot(range(len(names)), [mine.get(n, float("nan")) for n in names], "o-", label=f"{size} labels")
        axis.set_xticks(range(len(names)), [f"+ {n}" if n != "none" else "image + mask" for n in names])
        axis.set_xlabel(f"F's input ({rows[0]['max_steps']}-step budget)")
        axis.set_ylabel("validation MSE (kPa²)")
        axis.set_ylim(bottom=0)
        axis.legend()
        _save(figure, path)
        return
    figure, axis = plt.subplots(figsize=(5, 3.5))

    def key(row):
        return row["size"], row["lr"], row.get("features", "none")

    for size, lr, features in sorted({key(r) for r in rows}):
        mine = sorted((r for r in rows if key(r) == (size, lr, features)), key=lambda r: r["max_steps"])
        extra = "" if features == "none" else f", + {features}"
        axis.plot([r["max_steps"] for r in mine], [r["val_mse_kpa2"] for r in mine], "o-",
                  label=f"{size} labels, peak lr {lr:g}{extra}")
    axis.set_xscale("log")
    axis.set_xlabel("step budget (FitRecipe.max_steps)")
    axis.set_ylabel("validation MSE (kPa²)")
    axis.legend()
    _save(figure, path)


if __name__ == "__main__":
    main()
