"""Training the generator (VAE) on the unlabelled pool and the target network F on labels.

Both trainers are deterministic for a given seed on the CPU: every random draw
(shuffling, the reparameterisation noise, dropout) comes from generators
seeded here.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import storage
from ..labels import NUM_LABELS
from .losses import WeightedMSE
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


def fit_target(model, images, masks, labels, *, epochs: int, batch_size: int, lr: float, seed: int,
               loss=None, label_scale: float = STRESS_SCALE_KPA, optimiser_state=None, progress: bool = False):
    """Train F for ``epochs`` on labelled samples; returns (mean loss of the last epoch, optimiser state).

    ``labels`` are in label units (kPa for stress) and divided by
    ``label_scale``; ``loss`` is a :class:`~latentmine.models.TargetLoss`
    (default: :class:`WeightedMSE`).
    """
    loss = loss or WeightedMSE()
    inputs = target_input(model.input_mode, images, masks, getattr(model, "mask_classes", None))
    targets = torch.as_tensor(np.asarray(labels, np.float32)) / label_scale
    m = torch.as_tensor(np.asarray(masks, np.int64))
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    if optimiser_state is not None:
        optimiser.load_state_dict(optimiser_state)
    generator, device = torch.Generator().manual_seed(seed), device_of(model)
    torch.manual_seed(seed)  # dropout draws from the global generator
    model.train()
    last = math.nan
    for _ in tqdm(range(epochs), desc="train F", unit="epoch", disable=not progress, leave=False):
        total = 0.0
        for index in _batches(len(inputs), batch_size, generator):
            value = loss(model(inputs[index].to(device)), targets[index].to(device), m[index].to(device)).mean()
            optimiser.zero_grad()
            value.backward()
            optimiser.step()
            total += value.item() * len(index)
        last = total / len(inputs)
    model.eval()
    return last, optimiser.state_dict()


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
