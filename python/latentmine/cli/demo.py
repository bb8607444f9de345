"""``latentmine demo``: the whole method end to end on the CPU in a few minutes.

1. label one default plaque mask with the finite-element tool (stress PNG and numbers);
2. generate a small in-silico IVUS cohort (pool and labelled test set);
3. train the VAE generator on the pool;
4. run a few rounds of the gradient sampler ("interpolation");
5. the same rounds with the random baseline;
6. write metrics and a learning-curve plot comparing the two.

Every step keeps its outputs in ``--out``; running the command again reuses
what is there and resumes an interrupted loop.
"""
from __future__ import annotations

import json
import time
from pathlib import Path


def register(subparsers):
    parser = subparsers.add_parser("demo", help="small end-to-end demo on the CPU (a few minutes)",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--pool", type=int, default=160, help="unlabelled pool size (default 160)")
    parser.add_argument("--test", type=int, default=32, help="labelled test set size (default 32)")
    parser.add_argument("--rounds", type=int, default=3, help="acquisition rounds (default 3)")
    parser.add_argument("--per-round", type=int, default=16, help="samples per round (default 16)")
    parser.add_argument("--vae-epochs", type=int, default=25, help="VAE epochs (default 25)")
    parser.add_argument("--epochs", type=int, default=8, help="F epochs per round (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--labeller", default="fea", help="fea (default) or MODULE:FACTORY")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.set_defaults(func=run)


def run(args) -> int:
    import torch

    from ..loop import LoopConfig
    from ..loop.plots import compare_learning_curves
    from ..loop.session import create_run, summary_table
    from ..storage import atomic_write_json

    torch.set_num_threads(args.threads)
    out, began = Path(args.out), time.perf_counter()
    timings = {}

    def step(name, title, function):
        print(f"[{len(timings) + 1}/6] {title}", flush=True)
        start = time.perf_counter()
        result = function()
        timings[name] = time.perf_counter() - start
        return result

    label = step("label", "labelling the default plaque mask with the finite-element tool (latentmine label)",
                 lambda: _label_example(out / "label", args))
    pixel = step("cohort", f"generating {args.pool} + {args.test} phantoms of {args.size}x{args.size} "
                           f"(labelling the {args.test} test masks)",
                 lambda: _cohort(out / "data", args))
    step("vae", "training the VAE on the pool", lambda: _vae(out, args))
    base = LoopConfig(strategy="gradient", rounds=args.rounds, per_round=args.per_round, initial=args.per_round,
                      initial_strategy="random", epochs=args.epochs, width=8, batch_size=16, lr=2e-3,
                      seed=args.seed)
    runs = {}
    for strategy in ("gradient", "random"):
        config = LoopConfig.from_dict({**base.to_dict(), "strategy": strategy})
        loop = step(strategy, f"suggestive labelling, strategy {strategy}: {args.rounds} rounds of {args.per_round}",
                    lambda: _loop(create_run(out / f"run-{strategy}", pool=out / "data" / "pool",
                                             test=out / "data" / "test", vae=out / "vae" / "vae.pt", config=config,
                                             labeller=args.labeller)))
        runs[strategy] = loop.metrics
        print(summary_table(loop.metrics))
    figure = compare_learning_curves(out / "learning_curves.png", runs,
                                     f"latentmine demo: {args.size}x{args.size}, pixel {pixel:.3f} mm, seed {args.seed}")
    timings["total"] = time.perf_counter() - began
    summary = {"label": label, "seconds": timings,
               "final": {name: {k: rows[-1][k] for k in ("n_train", "test_mae", "test_pss_error")}
                         for name, rows in runs.items()}}
    atomic_write_json(out / "summary.json", summary)
    print(f"done in {timings['total']:.0f} s: {figure}, {out}/summary.json, runs in {out}/run-gradient/ and "
          f"{out}/run-random/ (metrics.csv, plots/, acquired/)")
    return 0


def _loop(loop):
    loop.run()
    return loop


def _label_example(folder: Path, args) -> dict:
    """Step 1 is `latentmine label` on the built-in example plaque at 128 px (7.9 mm across, as at 256 px)."""
    from ..units import DEFAULT_PIXEL_SIZE_MM
    from . import build_parser

    size = 128
    label = build_parser().parse_args(["label", "--size", str(size), "--pixel-size-mm",
                                       str(DEFAULT_PIXEL_SIZE_MM * 256 / size), "--out", str(folder)])
    if label.func(label) != 0:
        raise ValueError(f"the finite-element tool did not converge on the example plaque (see {folder})")
    entry = json.loads((folder / "stress.json").read_text())["masks"][0]
    return {"mask": f"latentmine.fea.examples.plaque_mask({size})", "pss_kpa": entry["pss_kpa"],
            "max_kpa": entry["max_principal_kpa"], "seconds": entry["seconds"]}


def _cohort(folder: Path, args) -> float:
    import numpy as np

    from ..data import load_dataset, save_dataset
    from ..loop.session import make_labeller
    from ..phantoms import generate

    if (folder / "test" / "manifest.json").exists():
        return load_dataset(folder / "test").pixel_size_mm
    cohort = generate(args.pool + args.test, size=args.size, seed=args.seed)
    ids, n, pixel = list(cohort.ids), args.pool, float(cohort.pixel_size_mm)
    save_dataset(folder / "pool", cohort.images[:n], cohort.masks[:n], pixel_size_mm=pixel, ids=ids[:n],
                 overwrite=True)
    stress = np.asarray(make_labeller(args.labeller, pixel)(cohort.masks[n:]), np.float32)
    save_dataset(folder / "test", cohort.images[n:], cohort.masks[n:], stress, pixel_size_mm=pixel, ids=ids[n:],
                 overwrite=True)  # the test set is labelled once, here, for both runs
    return pixel


def _vae(out: Path, args) -> None:
    import numpy as np

    from ..data import load_dataset
    from ..models import train_vae

    if (out / "vae" / "history.json").exists():
        return
    pool = load_dataset(out / "data" / "pool")
    train_vae(np.asarray(pool.images), np.asarray(pool.masks), latent_dim=16, width=8, epochs=args.vae_epochs,
              batch_size=32, seed=args.seed, out_dir=out / "vae")
    history = json.loads((out / "vae" / "history.json").read_text())
    print(f"      last epoch loss {history[-1]['loss']:.1f} (KL {history[-1]['kl']:.1f}) -> {out}/vae/")
