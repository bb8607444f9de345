"""Domain gap of decoded samples: F's validation MSE on real frames, trained on real vs decoded samples.

One in-silico cohort (its own seed, never the study's test cohort) is split
into a pool and a validation split. A VAE is trained on the pool; the pool
frames are reconstructed, ``G(mu_E(x))``, and the first ``n`` whose decoded
masks pass the loop's validity gate are labelled by the finite-element tool
(the real set is the same ``n`` source frames). F (image input, so that the image is
all it learns from) is trained by the same recipe on four training sets of
``n`` samples and scored on the real validation frames:

* ``real``: the real frames and their labels;
* ``decoded``: the decoded images (``render="none"``);
* ``bmode``: the decoded masks imaged by the cohort's B-mode model (``render="bmode"``);
* ``speckle``: the decoded images with unit-mean Rayleigh speckle (``render="speckle"``).

Run (niced, one thread; prints a Markdown table row per training set)::

    OMP_NUM_THREADS=1 PYTHONPATH=python nice -n 10 .venv/bin/python scripts/domain_gap.py --seed 7
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from latentmine.fea import Labeller
from latentmine.loop import gate
from latentmine.models import FitRecipe, StressUNet, decode_pairs, fit_target, predict, train_vae
from latentmine.models.vae import encode_arrays
from latentmine.phantoms import BModeRenderer, generate
from latentmine.sampling.realism import rayleigh_speckle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--pool", type=int, default=200)
    parser.add_argument("--validation", type=int, default=60)
    parser.add_argument("--n", type=int, default=50, help="training samples per set")
    parser.add_argument("--vae-epochs", type=int, default=30)
    parser.add_argument("--steps", type=int, default=200, help="F optimiser steps")
    args = parser.parse_args()
    torch.set_num_threads(1)

    cohort = generate(args.pool + args.validation, size=args.size, seed=args.seed)
    pool, val = slice(0, args.pool), slice(args.pool, None)
    labeller = Labeller(cohort.pixel_size_mm)
    val_labels = labeller(cohort.masks[val])
    vae = train_vae(cohort.images[pool], cohort.masks[pool], latent_dim=32, width=8, epochs=args.vae_epochs,
                    seed=args.seed, progress=False)
    images, masks = (p.numpy() for p in decode_pairs(vae, encode_arrays(vae, cohort.images[pool],
                                                                         cohort.masks[pool])))
    index = np.flatnonzero(gate(masks)[0])[:args.n]
    if len(index) < args.n:
        raise SystemExit(f"only {len(index)} reconstructions pass the gate; train the VAE longer")
    decoded_images, decoded_masks = images[index], masks[index]
    decoded_labels = labeller(decoded_masks)
    rng = np.random.default_rng(args.seed)
    sets = {
        "real": (cohort.images[index], cohort.masks[index], labeller(cohort.masks[index])),
        "decoded": (decoded_images, decoded_masks, decoded_labels),
        "bmode": (BModeRenderer(seed=args.seed)(decoded_masks), decoded_masks, decoded_labels),
        "speckle": (rayleigh_speckle(decoded_images, rng), decoded_masks, decoded_labels),
    }
    recipe = FitRecipe(max_steps=args.steps, batch_size=16, lr=3e-3)
    rows = {}
    for name, (images, masks, labels) in sets.items():
        torch.manual_seed(args.seed)
        model = StressUNet("image", width=8, levels=3)
        fit_target(model, images, masks, labels, recipe=recipe, seed=args.seed)
        pred = predict(model, cohort.images[val], cohort.masks[val])
        rows[name] = float(np.mean((pred - val_labels) ** 2))
        print(f"| {name} | {rows[name]:.1f} |", flush=True)
    print(json.dumps({"args": vars(args), "validation_mse_kpa2": rows}))


if __name__ == "__main__":
    main()
