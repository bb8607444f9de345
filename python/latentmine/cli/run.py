"""``latentmine run``: the suggestive-labelling loop over datasets on disk, resumable."""
from __future__ import annotations

import json
from dataclasses import fields

#: LoopConfig fields that have their own flag (the rest go through --set KEY=VALUE).
_FLAGS = {"strategy": str, "rounds": int, "per_round": int, "initial": int, "epochs": int, "batch_size": int,
          "lr": float, "seed": int, "input_mode": str, "step_size": float, "steps": int}


def register(subparsers):
    # No loop import here: it pulls in torch, and every `latentmine` command builds this parser.
    parser = subparsers.add_parser("run", help="run (or resume) the suggestive-labelling loop",
                                   description="Propose, gate, label, acquire and train for several rounds. "
                                               "A killed run continues with --resume RUN.")
    parser.add_argument("--task", default=None, metavar="NAME|MODULE:FACTORY",
                        help="ivus-stress (default), segmentation, classification, or your own MODULE:FACTORY. "
                             "Without --pool/--test/--vae the task's built-in data is generated and a VAE trained")
    parser.add_argument("--n-pool", type=int, default=200, help="generated pool size (no --pool; default 200)")
    parser.add_argument("--n-test", type=int, default=50, help="generated test size (no --test; default 50)")
    parser.add_argument("--size", type=int, default=32, help="generated image side (default 32)")
    parser.add_argument("--vae-epochs", type=int, default=20, help="VAE epochs on generated data (default 20)")
    parser.add_argument("--pool", help="unlabelled pool dataset (latentmine.data format)")
    parser.add_argument("--test", help="held-out test dataset (labelled once if it has no stress)")
    parser.add_argument("--vae", help="VAE checkpoint from `latentmine train-vae`")
    parser.add_argument("--out", help="new run folder")
    parser.add_argument("--resume", metavar="RUN", help="continue the run in this folder")
    for name, kind in _FLAGS.items():
        parser.add_argument("--" + name.replace("_", "-").replace("input-mode", "input"), dest=name, type=kind,
                            default=None, help=f"LoopConfig.{name}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any other LoopConfig field, VALUE in JSON (e.g. --set trust_radius=1.0)")
    parser.add_argument("--labeller", default=None,
                        help="fea (the finite-element tool, default for ivus-stress) | task (the task's own tool, "
                             "default otherwise) | none (label by hand) | MODULE:FACTORY")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto; may change on --resume")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.set_defaults(func=run)


def loop_config(args):
    """A LoopConfig from the flags and --set items (flags win)."""
    from ..loop import LoopConfig

    values = {}
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            values[key] = json.loads(text)
        except json.JSONDecodeError:
            values[key] = text
    values.update({name: getattr(args, name) for name in _FLAGS if getattr(args, name) is not None})
    values["device"] = args.device
    valid = {f.name for f in fields(LoopConfig)}
    if set(values) - valid:
        raise ValueError(f"unknown setting(s) {sorted(set(values) - valid)}; valid: {', '.join(sorted(valid))}")
    return LoopConfig(**values)


def run(args) -> int:
    import torch

    from ..loop.session import create_run, generated_run, open_run, summary_table
    from ..tasks import DEFAULT_TASK

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.resume:
        extra = [name for name in _FLAGS if name != "rounds" and getattr(args, name) is not None] + args.set
        if extra or args.pool or args.test or args.vae or args.out or args.task:
            raise ValueError("--resume takes the settings the run was made with; only --rounds may change "
                             f"(got {', '.join(map(str, extra)) or 'data paths'})")
        loop = open_run(args.resume, labeller=args.labeller, device=args.device)
    elif args.task and not (args.pool or args.test or args.vae):
        if not args.out:
            raise ValueError("a new run needs --out (or --resume RUN)")
        loop = generated_run(args.out, task=args.task, config=loop_config(args), n_pool=args.n_pool,
                             n_test=args.n_test, size=args.size, vae_epochs=args.vae_epochs,
                             labeller=args.labeller or "task")
    else:
        missing = [flag for flag in ("pool", "test", "vae", "out") if not getattr(args, flag)]
        if missing:
            raise ValueError(f"a new run needs --{', --'.join(missing)} (or --resume RUN, or --task NAME alone)")
        task = args.task or DEFAULT_TASK
        loop = create_run(args.out, pool=args.pool, test=args.test, vae=args.vae, config=loop_config(args),
                          labeller=args.labeller or ("fea" if task == DEFAULT_TASK else "task"), task=task)
    state = loop.store.state()
    if state is not None:
        print(f"resuming {loop.run_dir} after round {state[0]} ({state[1]})")
    rows = loop.run(rounds=args.rounds if args.resume else None)
    print(summary_table(rows, metrics=loop.task.loop_panels))
    print(f"{len(loop.train_set)} labelled samples; metrics: {loop.run_dir}/metrics.csv; "
          f"plots: {loop.run_dir}/plots/; acquired samples: {loop.run_dir}/acquired/")
    return 0
