"""Training the generator (VAE) on the unlabelled pool and the target network F on labels.

Both trainers are deterministic for a given seed on the CPU: every random draw
(shuffling, the reparameterisation noise, dropout) comes from generators
seeded here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import storage
from ..labels import NUM_LABELS
from .losses import WeightedMSE
from .recipe import D4_ORDER, FitRecipe, d4_batch, mixed_batch
from .target import STRESS_SCALE_KPA, compose_input, onehot
from .vae import VAE, decode_pairs, device_of, encode_arrays

VAE_CHECKPOINT = "vae.pt"


def _batches(n: int, batch_size: int, generator: torch.Generator):
    order = torch.randperm(n, generator=generator)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def _check_pairs(images: np.ndarray, masks: np.ndarray) -> None:
    if images.ndim != 3 or images.shape != masks.shape:
        raise ValueError(f"images and masks must both be (N, H, W) of one shape, "
                         f"got {images.shape} and {masks.shape}")
    if len(images) == 0:
        raise ValueError("no samples to train on")


def train_vae(images, masks, *, latent_dim: int = 32, beta: float = 1.0, width: int = 16, epochs: int = 30,
              batch_size: int = 32, lr: float = 2e-3, seed: int = 0, out_dir=None, progress: bool = True,
              device: str = "cpu", mask_classes: int = NUM_LABELS) -> VAE:
    """Train a :class:`VAE` on unlabelled (image, mask) pairs (``mask_classes=0``: images alone).

    With ``out_dir`` the model is checkpointed there after every epoch
    (:data:`VAE_CHECKPOINT`, atomic, checksummed) together with
    ``history.json``, ``reconstructions.png`` and ``samples.png``.
    """
    images, masks = np.array(images, np.float32), np.array(masks)  # writable copies for torch
    _check_pairs(images, masks)
    torch.manual_seed(seed)
    model = VAE(images.shape[-1], latent_dim=latent_dim, beta=beta, width=width,
                mask_classes=mask_classes).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    x, m = torch.from_numpy(images), torch.from_numpy(masks.astype(np.int64))
    generator = torch.Generator().manual_seed(seed)
    history = []
    bar = tqdm(range(epochs), desc="train-vae", unit="epoch", disable=not progress)
    for epoch in bar:
        totals = {}
        for index in _batches(len(x), batch_size, generator):
            terms = model.loss(x[index].to(device), m[index].to(device), generator)
            optimiser.zero_grad()
            terms["loss"].backward()
            optimiser.step()
            for key, value in terms.items():
                totals[key] = totals.get(key, 0.0) + value.item() * len(index) / len(x)
        history.append({"epoch": epoch + 1, **totals})
        bar.set_postfix(loss=f"{totals['loss']:.1f}", kl=f"{totals['kl']:.1f}")
        if out_dir is not None:
            save_vae(Path(out_dir) / VAE_CHECKPOINT, model, history=history)
    model.eval()
    if out_dir is not None:
        storage.atomic_write_json(Path(out_dir) / "history.json", history)
        save_vae_figures(model, images, masks, out_dir, seed=seed)
    return model


def save_vae(path, model: VAE, **extra) -> Path:
    return storage.save_checkpoint(path, {"kind": "vae", "config": model.config(),
                                          "state": model.state_dict(), **extra})


def load_vae(path) -> VAE:
    """A :class:`VAE` from a checkpoint written by :func:`train_vae` (eval mode)."""
    state = storage.load_checkpoint(path, fallback=True)
    if state.get("kind") != "vae":
        raise ValueError(f"{path} is not a VAE checkpoint")
    model = VAE(**state["config"])
    model.load_state_dict(state["state"])
    return model.eval()


def save_vae_figures(model, images, masks, out_dir, *, n: int = 8, seed: int = 0) -> None:
    """``reconstructions.png`` (inputs above their reconstructions) and ``samples.png`` (z ~ N(0, I))."""
    from ..loop.plots import save_pair_grid

    n = min(n, len(images))
    mu = encode_arrays(model, images[:n], masks[:n])
    rec_images, rec_masks = decode_pairs(model, mu)
    save_pair_grid(Path(out_dir) / "reconstructions.png",
                   [(images[:n], masks[:n], "input"), (rec_images.numpy(), rec_masks.numpy(), "reconstruction")])
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    gen_images, gen_masks = decode_pairs(model, z)
    save_pair_grid(Path(out_dir) / "samples.png", [(gen_images.numpy(), gen_masks.numpy(), "z ~ N(0, I)")])


def target_input(input_mode: str, images, masks, mask_classes: int | None = None) -> torch.Tensor:
    """F's input from real images ``(N, H, W)`` and masks ``(N, H, W)`` (arrays or tensors).

    ``mask_classes`` is the number of mask codes (default: the IVUS labels).
    """
    images = torch.as_tensor(np.asarray(images, np.float32))
    probs = None if input_mode == "image" else onehot(torch.as_tensor(np.asarray(masks, np.int64)), mask_classes)
    return compose_input(input_mode, images, probs)


@dataclass
class FitResult:
    """What :func:`fit_target` did: steps run, the restored best step and the losses."""

    steps: int
    best_step: int
    train_loss: float
    val_loss: float | None
    history: list = field(default_factory=list)
    optimiser_state: dict | None = None
    finetuned: int = 0


def fit_target(model, images, masks, labels, *, recipe: FitRecipe, seed: int, validation=None, loss=None,
               label_scale: float = STRESS_SCALE_KPA, max_steps: int | None = None, generated=None,
               progress: bool = False) -> FitResult:
    """Train F by ``recipe`` (:class:`~latentmine.models.FitRecipe`) on labelled samples.

    ``labels`` are in label units (kPa for stress) and divided by
    ``label_scale``; ``loss`` is a :class:`~latentmine.models.TargetLoss`
    (default: :class:`WeightedMSE`). ``validation`` is ``(images, masks,
    labels)`` (or an object with those attributes): with it, training stops
    early by the recipe's patience and the weights of the lowest validation
    loss are restored; without it, F trains ``max_steps`` steps. ``max_steps``
    overrides the recipe's (e.g. fewer steps for a warm-started round).
    ``generated`` (boolean ``(N,)``, default all False) marks the generated
    samples that the recipe's mixed-training settings apply to; with no real
    sample there is nothing to fine-tune on and ``FitResult.finetuned`` is 0.
    Deterministic for a seed on the CPU: batches, D4 elements and dropout
    come from generators seeded here.
    """
    if max_steps is not None:
        if not isinstance(max_steps, int) or max_steps < 0:
            raise ValueError(f"max_steps must be an integer >= 0, got {max_steps!r}")
        if max_steps == 0:
            return FitResult(0, 0, math.nan, None)
        recipe = replace(recipe, max_steps=max_steps)
    loss = loss or WeightedMSE()
    device = device_of(model)
    classes = getattr(model, "mask_classes", None)
    inputs, targets, m = _tensors(model.input_mode, classes, images, masks, labels, label_scale)
    if len(inputs) == 0:
        raise ValueError("fit_target: no samples to train on")
    fake = _generated_flags(generated, len(inputs))
    weights = torch.where(fake, torch.tensor(float(recipe.generated_weight)), torch.tensor(1.0))
    held_out = (None if validation is None
                else _tensors(model.input_mode, classes, *_triple(validation), label_scale))
    optimiser = recipe.optimiser(model.parameters())
    scheduler = recipe.scheduler(optimiser)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout draws from the global generator
    best = (math.inf, 0, None)
    history, window, stale, step = [], [], 0, 0
    for step in tqdm(range(1, recipe.max_steps + 1), desc="train F", unit="step", disable=not progress,
                     leave=False):
        index = mixed_batch(fake, recipe.batch_size, recipe.generated_share, generator)
        window.append(_train_step(model, loss, optimiser, recipe, generator, inputs, targets, m, weights, index))
        scheduler.step()
        if step % recipe.eval_every and step < recipe.max_steps:
            continue
        val = None if held_out is None else validation_loss(model, loss, *held_out)
        history.append({"step": step, "train_loss": float(np.mean(window)), "val_loss": val})
        window = []
        if val is None:
            continue
        if val < best[0]:
            best, stale = (val, step, {k: v.detach().clone() for k, v in model.state_dict().items()}), 0
        else:
            stale += 1
            if stale >= recipe.patience:
                break
    if best[2] is not None:
        model.load_state_dict(best[2])
    finetuned = _finetune_on_real(model, loss, recipe, generator, inputs, targets, m, fake)
    model.eval()
    best_step = best[1] if best[2] is not None else step
    return FitResult(steps=step, best_step=best_step, train_loss=history[-1]["train_loss"],
                     val_loss=None if held_out is None else best[0], history=history,
                     optimiser_state=optimiser.state_dict(), finetuned=finetuned)


def _generated_flags(generated, n: int) -> torch.Tensor:
    if generated is None:
        return torch.zeros(n, dtype=torch.bool)
    flags = np.asarray(generated)
    if flags.shape != (n,) or flags.dtype != bool:
        raise ValueError(f"fit_target: generated must be a boolean ({n},) array, got {flags.dtype} {flags.shape}")
    return torch.from_numpy(flags.copy())


def _train_step(model, loss, optimiser, recipe, generator, inputs, targets, masks, weights, index) -> float:
    """One optimiser step on rows ``index``, each sample's loss times its weight; returns the batch loss."""
    model.train()
    x, y, mb = inputs[index], targets[index], masks[index]
    if recipe.augment == "d4":
        elements = torch.randint(D4_ORDER, (len(index),), generator=generator)
        if y.dim() == x.dim() - 1:  # a label map turns with the image
            x, y, mb = d4_batch(elements, x, y, mb)
        else:  # a per-sample label (class, vector) is taken to be invariant under D4
            x, mb = d4_batch(elements, x, mb)
    device = device_of(model)
    value = (loss(model(x.to(device)), y.to(device), mb.to(device)) * weights[index].to(device)).mean()
    optimiser.zero_grad()
    value.backward()
    optimiser.step()
    return value.item()


def _finetune_on_real(model, loss, recipe, generator, inputs, targets, masks, fake) -> int:
    """``recipe.finetune_steps`` steps on the real rows alone at ``finetune_lr``; returns the steps taken."""
    real = torch.nonzero(~fake).flatten()
    if not recipe.finetune_steps or not len(real):
        return 0
    lr = recipe.finetune_lr if recipe.finetune_lr is not None else recipe.lr / 10
    optimiser = replace(recipe, lr=lr).optimiser(model.parameters())
    ones = torch.ones(len(fake))
    for _ in range(recipe.finetune_steps):
        index = real[torch.randint(len(real), (recipe.batch_size,), generator=generator)]
        _train_step(model, loss, optimiser, recipe, generator, inputs, targets, masks, ones, index)
    return recipe.finetune_steps


def validation_loss(model, loss, inputs, targets, masks, batch_size: int = 64) -> float:
    """Mean per-sample ``loss`` of F (eval mode) on prepared validation tensors."""
    device, total = device_of(model), 0.0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(inputs), batch_size):
            part = slice(i, i + batch_size)
            total += float(loss(model(inputs[part].to(device)), targets[part].to(device),
                                masks[part].to(device)).sum())
    return total / len(inputs)


def _triple(samples) -> tuple:
    if isinstance(samples, (tuple, list)):
        return tuple(samples)
    return samples.images, samples.masks, samples.labels


def _tensors(input_mode, mask_classes, images, masks, labels, label_scale) -> tuple:
    """F's inputs, scaled targets and integer masks as CPU tensors."""
    if labels is None:
        raise ValueError("fit_target: the validation samples have no labels")
    return (target_input(input_mode, images, masks, mask_classes),
            torch.as_tensor(np.asarray(labels, np.float32)) / label_scale,
            torch.as_tensor(np.asarray(masks, np.int64)))


def predict(model, images, masks, *, label_scale: float = STRESS_SCALE_KPA, batch_size: int = 64,
            dropout: bool = False) -> np.ndarray:
    """F's prediction in label units (kPa), on the CPU; ``dropout=True`` keeps dropout on (one MC sample)."""
    inputs = target_input(model.input_mode, images, masks, getattr(model, "mask_classes", None))
    device = device_of(model)
    model.train(dropout)
    with torch.no_grad():
        out = torch.cat([model(inputs[i:i + batch_size].to(device)).cpu() for i in range(0, len(inputs), batch_size)])
    model.eval()
    return (out * label_scale).numpy()
