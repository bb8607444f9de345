"""``latentmine study``: label efficiency of the sampling strategies against random selection."""
from __future__ import annotations

import shlex

from ..parallel.executors import add_executor_arguments, executor_from_args


def register(subparsers):
    parser = subparsers.add_parser(
        "study", help="compare sampling strategies on an increasing number of labels",
        description="Run (or resume) a label-efficiency study and write results.csv, summary.json, "
                    "learning_curves.png and report.md into --out. Finished cells found in --out "
                    "are not recomputed.")
    parser.add_argument("--preset", default="default", help="smoke, default, full or paper (default: default)")
    parser.add_argument("--out", required=True, metavar="DIR", help="study folder (created or resumed)")
    parser.add_argument("--task", default=None, metavar="NAME|MODULE:FACTORY",
                        help="ivus-stress (default), segmentation, classification or your own MODULE:FACTORY; "
                             "the task's strategies replace the default random,gradient")
    parser.add_argument("--strategies", metavar="A,B,...",
                        help="strategies to compare, random first (default: random,gradient); "
                             "also latent-random, gradient-nn, uncertainty, ensemble, coreset, lcmd, "
                             "typiclust, or the set 'peers' (random,uncertainty,ensemble,coreset,lcmd,"
                             "typiclust,gradient,gradient-nn)")
    parser.add_argument("--repeats", type=int, metavar="N", help="paired repeats (default: the preset's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="override a study setting (e.g. f_max_steps=400, sizes=25,50,100) or a "
                             "loop setting (loop.step_size=0.5); repeatable")
    parser.add_argument("--serial", action="store_true",
                        help="run cells one after another in this process instead of on workers")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the settings and list the cells, then stop: nothing is run or written")
    add_executor_arguments(parser)
    parser.set_defaults(func=run)


def study_config(args):
    """The study configuration the arguments ask for."""
    from ..study import preset

    overrides = {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value.strip()
    if args.strategies:
        overrides["strategies"] = args.strategies
    if args.repeats is not None:
        overrides["repeats"] = str(args.repeats)
    config, task = preset(args.preset), getattr(args, "task", None)
    return (config.for_task(task) if task else config).with_overrides(overrides)


def command_line(args) -> str:
    """The command that reproduces this run, as recorded in the report."""
    words = ["latentmine", "study", "--preset", args.preset, "--out", args.out]
    if getattr(args, "task", None):
        words += ["--task", args.task]
    if args.strategies:
        words += ["--strategies", args.strategies]
    if args.repeats is not None:
        words += ["--repeats", str(args.repeats)]
    for item in args.overrides:
        words += ["--set", item]
    return shlex.join(words)


def run(args) -> int:
    from ..study import SerialExecutor, run_study_outputs

    config = study_config(args)
    if args.dry_run:
        print(f"study {config.name}: {len(config.cells())} cells ({', '.join(config.strategies)} x "
              f"{config.repeats} repeats), sizes {', '.join(map(str, config.sizes))}, "
              f"{config.image_size}x{config.image_size} frames; dry run: nothing run or written")
        return 0
    options = dict(progress=not args.no_progress, command=command_line(args))
    if args.serial:
        summary = run_study_outputs(config, args.out, executor=SerialExecutor(), **options)
    else:
        with executor_from_args(args) as executor:
            summary = run_study_outputs(config, args.out, executor=executor, **options)
    goal = summary.get("goal")
    verdict = "" if goal is None else f" goal {'met' if goal['met'] else 'NOT met'};"
    print(f"study {config.name}:{verdict} report in {args.out}/report.md")
    return 0
