"""Quality of F with the training recipe on random real samples: test MSE and PSS error per size.

The quality bar of the study's surrogate (issue #10): on 64² phantoms, test
MSE <= 45 kPa² at 25 labels and <= 20 kPa² at 400, mean absolute PSS error
<= 10% of the test split's mean PSS. Not a timed benchmark: it prints one
JSON line per size (steps run, best step, seconds, test MSE, PSS error) and
takes about ``sizes x max_steps`` F steps.

Run::

    PYTHONPATH=python python benchmarks/surrogate_quality.py --sizes 25,100 --max-steps 800

Cohort: ``phantoms.generate(max(sizes) + 150, size=64, seed=0)``; the first
``max(sizes)`` frames train, the next 50 are the validation split (early
stopping), the last 100 the test split.
"""
from __future__ import annotations

import argparse
import json
from time import perf_counter

import numpy as np
import torch

from latentmine.fea import Labeller
from latentmine.fea.pss import plaque_structural_stress_batch
from latentmine.models import FitRecipe, StressUNet, fit_target, predict
from latentmine.phantoms import generate

VALIDATION, TEST = 50, 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25,50,100,200,400")
    parser.add_argument("--max-steps", type=int, default=1500)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    torch.set_num_threads(1)
    n = max(sizes)
    cohort = generate(n + VALIDATION + TEST, size=64, seed=0)
    labels = Labeller(cohort.pixel_size_mm)(cohort.masks)
    val, test = slice(n, n + VALIDATION), slice(n + VALIDATION, n + VALIDATION + TEST)
    pss_true = plaque_structural_stress_batch(labels[test], cohort.masks[test], cohort.pixel_size_mm)
    recipe = FitRecipe(max_steps=args.max_steps, batch_size=args.batch_size, lr=args.lr)
    for size in sizes:
        torch.manual_seed(0)
        model = StressUNet("both", width=8, levels=3)
        start = perf_counter()
        fit = fit_target(model, cohort.images[:size], cohort.masks[:size], labels[:size], recipe=recipe, seed=1,
                         validation=(cohort.images[val], cohort.masks[val], labels[val]))
        seconds = perf_counter() - start
        pred = predict(model, cohort.images[test], cohort.masks[test])
        pss_pred = plaque_structural_stress_batch(pred, cohort.masks[test], cohort.pixel_size_mm)
        print(json.dumps({"size": size, "steps": fit.steps, "best_step": fit.best_step, "seconds": round(seconds, 1),
                          "test_mse_kpa2": float(np.mean((pred - labels[test]) ** 2)),
                          "pss_abs_err_kpa": float(np.mean(np.abs(pss_pred - pss_true))),
                          "test_pss_mean_kpa": float(np.mean(pss_true))}), flush=True)


if __name__ == "__main__":
    main()
