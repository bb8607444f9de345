"""What every sampling strategy takes and returns, and the registry of strategies."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np
import torch

SYNTHETIC = -1  #: ``pool_index`` of a decoded (synthetic) sample


@dataclass
class Proposals:
    """Samples a strategy suggests for labelling, with their provenance.

    Attributes
    ----------
    images, masks : ndarray (k, H, W)
        float32 images in [0, 1] and uint8 label-code masks (what the tool labels).
    pool_index : ndarray (k,) int64
        Index of the real pool sample, or :data:`SYNTHETIC` for decoded samples.
    parent_ids : list of str
        Id of the labelled seed each sample was stepped from ("" for none).
    z, z_new : ndarray (k, D) float32
        Seed latent point and the stepped one (NaN where there is none).
    grad_norm, step_size : ndarray (k,) float32
        ``||dL/dz||`` at the seed and the step length (NaN where there is none).
    """

    images: np.ndarray
    masks: np.ndarray
    pool_index: np.ndarray
    parent_ids: list
    z: np.ndarray
    z_new: np.ndarray
    grad_norm: np.ndarray
    step_size: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    @classmethod
    def make(cls, images, masks, *, latent_dim: int, pool_index=None, parent_ids=None, z=None, z_new=None,
             grad_norm=None, step_size=None) -> "Proposals":
        """Fill the provenance a strategy does not have with NaN / "" / :data:`SYNTHETIC`."""
        k = len(images)

        def col(value, shape, dtype, fill):
            return np.full(shape, fill, dtype) if value is None else np.asarray(value, dtype).reshape(shape)

        return cls(np.asarray(images, np.float32), np.asarray(masks, np.uint8),
                   col(pool_index, (k,), np.int64, SYNTHETIC),
                   list(parent_ids) if parent_ids is not None else [""] * k,
                   col(z, (k, latent_dim), np.float32, np.nan), col(z_new, (k, latent_dim), np.float32, np.nan),
                   col(grad_norm, (k,), np.float32, np.nan), col(step_size, (k,), np.float32, np.nan))

    def take(self, index) -> "Proposals":
        index = np.asarray(index, np.int64)
        return Proposals(**{f.name: ([getattr(self, f.name)[i] for i in index] if f.name == "parent_ids"
                                     else getattr(self, f.name)[index]) for f in fields(self)})

    @staticmethod
    def concat(parts: list["Proposals"]) -> "Proposals":
        return Proposals(**{f.name: (sum((p.parent_ids for p in parts), []) if f.name == "parent_ids"
                                     else np.concatenate([getattr(p, f.name) for p in parts]))
                            for f in fields(Proposals)})


@dataclass
class Context:
    """Everything a strategy may look at in one round.

    ``pool_images``/``pool_masks``/``pool_ids`` are the unlabelled pool;
    ``available[i]`` is False once pool sample ``i`` is labelled, proposed or
    rejected in this round. ``train_*`` is the labelled training set (labels in
    label units, divided by ``label_scale`` before they meet F's output).
    ``target`` is F, ``loss`` its per-sample loss, ``options`` the loop
    configuration (step size, steps, ...). ``cache`` lives for one loop run.
    ``attempt`` counts the proposal calls made so far in this round (0 first;
    later calls replace samples the gate rejected). ``task`` is the loop's
    :class:`latentmine.tasks.Task`: a strategy labels through :meth:`label`
    and asks the gate through :meth:`valid`, and never needs to know which
    labelling tool or validity rule the task has.
    """

    generator: Any
    target: torch.nn.Module
    loss: Callable
    label_scale: float
    pool_images: np.ndarray
    pool_masks: np.ndarray
    pool_ids: list
    available: np.ndarray
    train_images: np.ndarray
    train_masks: np.ndarray
    train_labels: np.ndarray
    train_ids: list
    options: Any
    labeller: Callable | None = None
    round: int = 0
    cache: dict = field(default_factory=dict)
    attempt: int = 0
    task: Any = None

    def _require_task(self, what: str):
        if self.task is None:
            raise ValueError(f"{what} needs Context.task (the loop sets it)")
        return self.task

    def label(self, images, masks, ids=None) -> np.ndarray:
        """Labels of samples from the labelling tool, called and checked as the task says.

        ``ids`` default to ``probe-NNN`` (samples that are not in the pool).
        """
        task = self._require_task("labelling")
        if self.labeller is None:
            raise ValueError(f"task {task.name!r}: labelling a sample needs a labeller (the loop has none)")
        ids = [f"probe-{i:03d}" for i in range(len(images))] if ids is None else list(ids)
        return task.call_labeller(self.labeller, images, masks, ids)

    def valid(self, proposals: "Proposals") -> np.ndarray:
        """A boolean per proposal: does the task's validity gate let the labelling tool label it?"""
        passed, _ = self._require_task("the validity gate").passes(proposals, self.options)
        return passed


@runtime_checkable
class Strategy(Protocol):
    """A sampling strategy: ``propose(ctx, k, rng)`` returns up to ``k`` :class:`Proposals`.

    Proposals are gated by the loop afterwards; rejected ones are replaced by
    calling ``propose`` again for the shortfall, so ``propose`` should draw
    fresh candidates from ``rng`` on each call.
    """

    name: str

    def propose(self, ctx: Context, k: int, rng: np.random.Generator) -> Proposals: ...


_REGISTRY: dict[str, Callable[..., Strategy]] = {}


def register_strategy(name: str, factory: Callable[..., Strategy] | None = None, *, replace: bool = False):
    """Register ``factory`` (a class or callable returning a :class:`Strategy`) under ``name``.

    Usable as a decorator: ``@register_strategy("mine")``.
    """
    def add(f):
        if name in _REGISTRY and not replace:
            raise ValueError(f"strategy {name!r} is already registered (pass replace=True)")
        _REGISTRY[name] = f
        return f
    return add if factory is None else add(factory)


def get_strategy(name: str, **options) -> Strategy:
    """A new strategy instance by registered name."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown strategy {name!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**options)


def available_strategies() -> list[str]:
    return sorted(_REGISTRY)


def torch_generator(rng: np.random.Generator, device="cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded from ``rng`` (determinism from one numpy seed)."""
    return torch.Generator(device=device).manual_seed(int(rng.integers(2 ** 62)))
