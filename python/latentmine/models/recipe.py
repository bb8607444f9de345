"""The training recipe of the target network F: one recipe for the loop and the study.

A recipe is the optimiser, its learning-rate schedule, the batches, the
augmentation and the stopping rule; :func:`latentmine.models.fit_target`
applies it. The choices follow the strong-baseline rule of Munjal et al.,
"Towards Robust and Reproducible Active Learning Using Neural Networks",
CVPR 2022: every strategy's F is regularised, augmented and trained to
convergence at every budget, so that a difference between strategies is a
difference of data and not of training.

* **Batches** are drawn with replacement (every step a fresh ``batch_size``
  draw), so the number of steps does not depend on the training-set size.
* **Exact D4 augmentation.** The finite-element problem of a plaque is
  equivariant under the 8 rotations and flips of the square pixel grid, and
  the max-principal stress is a scalar field, so transforming image, mask and
  stress map together gives exact extra training pairs (:func:`d4`).
* **Schedule.** AdamW (Loshchilov and Hutter, ICLR 2019; Adam when
  ``weight_decay=0``) with a one-cycle (Smith and Topin, 2019), cosine or
  constant learning rate over ``max_steps``.
* **Early stopping** on a labelled validation split: evaluated every
  ``eval_every`` steps; training stops after ``patience`` evaluations without
  a lower validation loss, and the weights of the best evaluation are restored.
* **Mixed training** of real and generated (decoded) samples, which are
  added to the real ones and never replace them (Mo et al.'s T1 ∪ T2; BGADL,
  Tran et al., ICML 2019): ``generated_share`` caps the share of generated
  samples in every batch (:func:`mixed_batch`), ``generated_weight`` scales
  their loss, and ``finetune_steps`` steps on the real samples alone, at
  ``finetune_lr``, end the training (after the best weights are restored).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

SCHEDULES = ("onecycle", "cosine", "constant")
AUGMENTATIONS = ("d4", "none")
#: Elements of the dihedral group of the square: rotations by k·90° (k < 4), then a flip (k >= 4).
D4_ORDER = 8
#: Share of ``max_steps`` over which the one-cycle schedule warms up (Smith and Topin's default).
_WARM_UP = 0.25


@dataclass(frozen=True)
class FitRecipe:
    """How F is trained; validated on construction.

    Parameters
    ----------
    max_steps : int
        Optimiser steps at most (the schedule's length).
    batch_size : int
        Samples per step, drawn with replacement from the training set.
    lr : float
        Peak learning rate of the schedule.
    schedule : {"onecycle", "cosine", "constant"}
    weight_decay : float
        Decoupled weight decay (AdamW); 0 is Adam.
    augment : {"d4", "none"}
        A random element of D4 per sample and step (:func:`d4`), or none.
    eval_every : int
        Steps between two validation evaluations (early stopping).
    patience : int
        Evaluations without a lower validation loss before stopping.
    generated_share : float or None
        At most ``floor(generated_share * batch_size)`` generated samples per
        batch (None: no cap; every sample equally likely).
    generated_weight : float
        Loss weight of a generated sample (a real one weighs 1).
    finetune_steps : int
        Steps on the real samples alone after the schedule (0: none).
    finetune_lr : float or None
        Constant learning rate of the fine-tune (None: ``lr / 10``).
    """

    max_steps: int = 1000
    batch_size: int = 16
    lr: float = 3e-3
    schedule: str = "onecycle"
    weight_decay: float = 0.0
    augment: str = "d4"
    eval_every: int = 50
    patience: int = 4
    generated_share: float | None = None
    generated_weight: float = 1.0
    finetune_steps: int = 0
    finetune_lr: float | None = None

    def __post_init__(self):
        for name in ("max_steps", "batch_size", "eval_every", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"FitRecipe.{name} must be an integer >= 1, got {value!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"FitRecipe.lr must be a finite number > 0, got {self.lr!r}")
        if not (isinstance(self.weight_decay, (int, float)) and math.isfinite(self.weight_decay)
                and self.weight_decay >= 0):
            raise ValueError(f"FitRecipe.weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        if self.generated_share is not None and not (isinstance(self.generated_share, (int, float))
                                                     and 0.0 <= self.generated_share <= 1.0):
            raise ValueError(f"FitRecipe.generated_share must lie in [0, 1] or be None, got {self.generated_share!r}")
        if not (isinstance(self.generated_weight, (int, float)) and math.isfinite(self.generated_weight)
                and self.generated_weight >= 0):
            raise ValueError(f"FitRecipe.generated_weight must be a finite number >= 0, got {self.generated_weight!r}")
        if not isinstance(self.finetune_steps, int) or isinstance(self.finetune_steps, bool) or self.finetune_steps < 0:
            raise ValueError(f"FitRecipe.finetune_steps must be an integer >= 0, got {self.finetune_steps!r}")
        if self.finetune_lr is not None and not (isinstance(self.finetune_lr, (int, float))
                                                 and math.isfinite(self.finetune_lr) and self.finetune_lr > 0):
            raise ValueError(f"FitRecipe.finetune_lr must be a finite number > 0 or None, got {self.finetune_lr!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"FitRecipe.schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"FitRecipe.augment must be one of {AUGMENTATIONS}, got {self.augment!r}")

    def optimiser(self, parameters) -> torch.optim.Optimizer:
        return torch.optim.AdamW(parameters, lr=self.lr, weight_decay=self.weight_decay)

    def scheduler(self, optimiser: torch.optim.Optimizer):
        """The learning-rate scheduler over ``max_steps`` steps (stepped once per optimiser step)."""
        if self.schedule == "onecycle":
            total = self.max_steps + 1
            # OneCycleLR divides by the warm-up's length in steps, pct_start * total - 1,
            # which is 0 for total = 4: halve the warm-up there (it then lasts no step).
            warm_up = _WARM_UP if abs(_WARM_UP * total - 1) > 1e-9 else _WARM_UP / 2
            return torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=self.lr, total_steps=total,
                                                       pct_start=warm_up)
        if self.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=self.max_steps)
        return torch.optim.lr_scheduler.LambdaLR(optimiser, lambda _: 1.0)


def d4(tensor: torch.Tensor, element: int) -> torch.Tensor:
    """Apply D4 element ``element`` (0..7) to the last two (square) axes of ``tensor``.

    Element ``k`` rotates by ``(k % 4)·90°`` and then, for ``k >= 4``, flips
    the last axis. Both are permutations of the pixels, so the transform is
    exact; element 0 is the identity.
    """
    if not 0 <= element < D4_ORDER:
        raise ValueError(f"D4 element must be in 0..{D4_ORDER - 1}, got {element}")
    if tensor.shape[-1] != tensor.shape[-2]:
        raise ValueError(f"D4 acts on square grids, got shape {tuple(tensor.shape[-2:])}")
    out = torch.rot90(tensor, element % 4, dims=(-2, -1))
    return torch.flip(out, dims=(-1,)) if element >= 4 else out


def d4_batch(elements: torch.Tensor, *tensors: torch.Tensor) -> tuple:
    """Apply element ``elements[i]`` of D4 to sample ``i`` of every tensor (same leading axis).

    Tensors with fewer than 3 axes hold one value per sample (a class code, a
    scalar label) and are returned unchanged: such labels must be invariant
    under the group, as a count of objects is.
    """
    maps = [t.ndim >= 3 for t in tensors]
    outs = tuple(t.clone() if is_map else t for t, is_map in zip(tensors, maps))
    for element in range(1, D4_ORDER):
        rows = torch.nonzero(elements == element).flatten()
        if len(rows):
            for out, tensor, is_map in zip(outs, tensors, maps):
                if is_map:
                    out[rows] = d4(tensor[rows], element)
    return outs


def mixed_batch(generated: torch.Tensor, batch_size: int, share: float | None,
                generator: torch.Generator) -> torch.Tensor:
    """Row indices of one batch, drawn with replacement, with a cap on the generated rows.

    ``generated`` is a boolean ``(N,)`` tensor. Without a cap (``share`` None),
    or when one kind of sample is missing, every row is equally likely. With
    one, the batch holds ``min(floor(share * B), round(B * n_generated / N))``
    generated rows, drawn uniformly among the generated samples, and real rows
    for the rest: the natural share when it is below the cap, the cap otherwise.
    """
    n = len(generated)
    fake = torch.nonzero(generated).flatten()
    real = torch.nonzero(~generated).flatten()
    if share is None or not len(fake) or not len(real):
        return torch.randint(n, (batch_size,), generator=generator)
    count = min(math.floor(share * batch_size), round(batch_size * len(fake) / n))
    return torch.cat([fake[torch.randint(len(fake), (count,), generator=generator)],
                      real[torch.randint(len(real), (batch_size - count,), generator=generator)]])
