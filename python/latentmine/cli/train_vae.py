"""``latentmine train-vae``: train the generator (VAE) on the unlabelled pool."""
from __future__ import annotations

import json
import time
from pathlib import Path


def register(subparsers):
    parser = subparsers.add_parser("train-vae", help="train the VAE generator on an unlabelled dataset",
                                   description="Train a VAE over (image, mask) pairs of a latentmine dataset.")
    parser.add_argument("--data", required=True, help="dataset folder (latentmine.data format)")
    parser.add_argument("--out", required=True, help="folder for vae.pt, history.json and PNGs")
    parser.add_argument("--latent-dim", type=int, default=32, help="latent size (default 32)")
    parser.add_argument("--beta", type=float, default=1.0, help="KL weight (default 1.0)")
    parser.add_argument("--width", type=int, default=16, help="first-layer channels (default 16)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs (default 30)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.set_defaults(func=run)


def run(args) -> int:
    import numpy as np
    import torch

    from ..data import load_dataset
    from ..models import train_vae

    if args.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}")
    if args.threads:
        torch.set_num_threads(args.threads)
    if not Path(args.data).exists():
        raise FileNotFoundError(f"dataset {args.data} does not exist")
    data = load_dataset(args.data)
    started = time.perf_counter()
    train_vae(np.asarray(data.images), np.asarray(data.masks), latent_dim=args.latent_dim, beta=args.beta,
              width=args.width, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
              out_dir=args.out)
    last = json.loads((Path(args.out) / "history.json").read_text())[-1]
    print(f"trained a VAE (latent {args.latent_dim}, beta {args.beta}) on {len(data)} samples of "
          f"{data.images.shape[1]}x{data.images.shape[2]} in {time.perf_counter() - started:.1f} s")
    print(f"last epoch: loss {last['loss']:.1f} = image {last['image']:.1f} + mask {last['mask']:.1f} "
          f"+ beta * KL {last['kl']:.1f}")
    print(f"wrote {args.out}/vae.pt, history.json, reconstructions.png, samples.png")
    return 0
