"""A deep ensemble of target networks F, trained and evaluated as one batched model.

Lakshminarayanan, Pritzel and Blundell, "Simple and Scalable Predictive
Uncertainty Estimation using Deep Ensembles", NeurIPS 2017: ``M`` copies of
one architecture, independently initialised and trained on the same data with
their own batch order; their disagreement estimates the model's uncertainty.

The members share one architecture, so their weights are stacked
(:func:`torch.func.stack_module_state`) and one :func:`torch.func.vmap`-ed
forward pass evaluates all of them: a training step of the ensemble is one
batched step, not ``M`` small ones. Adam is element-wise, so one Adam over
the stacked weights is exactly ``M`` independent Adams; training is therefore
the same as training each member alone (``batched=False``, the reference
path that the tests compare against).

Members train by F's recipe (:class:`~latentmine.models.FitRecipe`): its
optimiser (AdamW, element-wise too), learning-rate schedule and D4
augmentation, for the recipe's ``max_steps``, so that an ensemble member is
trained as the F it stands in for. There is no early stopping: members would
stop at different steps, and the ensemble has no validation split of its own.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap

from .losses import WeightedMSE
from .recipe import D4_ORDER, FitRecipe, d4_batch
from .target import STRESS_SCALE_KPA
from .training import target_input


def reinitialised(prototype: torch.nn.Module, seed: int) -> torch.nn.Module:
    """A copy of ``prototype`` with fresh weights: every submodule's ``reset_parameters`` under ``seed``."""
    member = copy.deepcopy(prototype)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in member.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return member


class TargetEnsemble:
    """``members`` independently initialised copies of F's architecture, with stacked weights.

    Parameters
    ----------
    prototype : torch.nn.Module
        An F (e.g. :class:`~latentmine.models.StressUNet`); only its
        architecture and ``input_mode`` are used, never its weights.
    members : int
        Ensemble size ``M``.
    seed : int
        Member ``m`` is initialised from seed ``(seed, m)``.
    """

    def __init__(self, prototype: torch.nn.Module, members: int, seed: int):
        if int(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {members}")
        if not hasattr(prototype, "input_mode"):
            raise ValueError("the ensemble's prototype F has no input_mode attribute")
        self.input_mode, self.members = prototype.input_mode, int(members)
        self.mask_classes = getattr(prototype, "mask_classes", None)
        seeds = np.random.SeedSequence([int(seed), 0]).spawn(self.members)
        nets = [reinitialised(prototype, int(s.generate_state(1)[0])) for s in seeds]
        params, self.buffers = stack_module_state(nets)
        self.params = {name: value.detach().clone() for name, value in params.items()}
        self._base = copy.deepcopy(nets[0]).to("meta")  # the architecture; weights come from self.params

    @property
    def device(self) -> torch.device:
        return next(iter(self.params.values())).device

    def member(self, m: int) -> torch.nn.Module:
        """Member ``m`` as a plain module (a copy of its weights)."""
        net = copy.deepcopy(self._base).to_empty(device=self.device)
        net.load_state_dict({**{k: v[m] for k, v in self.params.items()}, **{k: v[m] for k, v in self.buffers.items()}})
        return net.eval()

    def set_member(self, m: int, net: torch.nn.Module) -> None:
        with torch.no_grad():
            for name, value in net.state_dict().items():
                (self.params if name in self.params else self.buffers)[name][m] = value

    def forward(self, inputs: torch.Tensor, params=None, shared: bool = True) -> torch.Tensor:
        """Every member's output: ``inputs`` ``(B, C, H, W)`` shared by all members (``shared``), or
        ``(M, B, C, H, W)``, one batch each. Returns ``(M, B, H, W)``."""
        call = vmap(lambda p, b, x: functional_call(self._base, (p, b), (x,)),
                    in_dims=(0, 0, None if shared else 0), randomness="different")
        return call(self.params if params is None else params, self.buffers, inputs)

    def predict(self, images, masks, *, label_scale: float = STRESS_SCALE_KPA, batch_size: int = 64) -> np.ndarray:
        """Every member's prediction in label units (kPa), ``(M, N, H, W)``, on the CPU."""
        inputs = target_input(self.input_mode, images, masks, self.mask_classes)
        self._base.eval()
        with torch.no_grad():
            out = torch.cat([self.forward(inputs[i:i + batch_size].to(self.device)).cpu()
                             for i in range(0, len(inputs), batch_size)], dim=1)
        return (out * label_scale).numpy()


def batch_schedule(n: int, members: int, steps: int, batch_size: int, seed: int) -> torch.Tensor:
    """Sample indices ``(members, steps, B)``: each member walks its own sequence of epochs (permutations).

    ``B = min(batch_size, n)``; a batch that straddles two epochs may repeat a sample.
    """
    batch = min(int(batch_size), int(n))
    epochs = -(-steps * batch // n)
    generator = torch.Generator().manual_seed(int(seed))
    orders = [torch.cat([torch.randperm(n, generator=generator) for _ in range(epochs)])[:steps * batch]
              for _ in range(members)]
    return torch.stack(orders).view(members, steps, batch)


def fit_ensemble(ensemble: TargetEnsemble, images, masks, labels, *, recipe: FitRecipe, seed: int, loss=None,
                 label_scale: float = STRESS_SCALE_KPA, batched: bool = True) -> np.ndarray:
    """Train every member by ``recipe`` for ``recipe.max_steps`` steps on the same labelled samples,
    each with its own batches and D4 draws.

    ``batched=True`` takes one vmapped step for all members; ``False`` trains
    the members one after another (same batches, same draws, same result up to
    rounding). Returns the mean loss of each member over its last
    ``min(max_steps, 10)`` steps, ``(M,)``.
    """
    loss = loss or WeightedMSE()
    device = ensemble.device
    inputs = target_input(ensemble.input_mode, images, masks, ensemble.mask_classes)
    if len(inputs) == 0:
        raise ValueError("no labelled samples to train the ensemble on")
    targets = torch.as_tensor(np.asarray(labels, np.float32)) / label_scale
    m = torch.as_tensor(np.asarray(masks, np.int64))
    steps = recipe.max_steps
    schedule = batch_schedule(len(inputs), ensemble.members, steps, recipe.batch_size, seed)
    # D4 element of every drawn sample (identity without augmentation), shared by both paths
    elements = (torch.randint(D4_ORDER, schedule.shape, generator=torch.Generator().manual_seed(int(seed) + 1))
                if recipe.augment == "d4" else torch.zeros_like(schedule))
    batches = _Batches(inputs, targets, m, device)
    # training needs autograd even when the caller scores under no_grad: the loop trains a round's
    # ensemble lazily, on its first use, which may be a label-free hardness score of the seeds
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(int(seed))  # dropout draws from the global generator
        if batched:
            history = _fit_batched(ensemble, batches, schedule, elements, recipe, loss)
        else:
            history = np.stack([_fit_one(ensemble, j, batches, schedule[j], elements[j], recipe, loss)
                                for j in range(ensemble.members)], axis=1)
    return history[-min(steps, 10):].mean(axis=0)


class _Batches:
    """Rows of the prepared tensors, D4-transformed per sample, on the ensemble's device."""

    def __init__(self, inputs, targets, masks, device):
        self.inputs, self.targets, self.masks, self.device = inputs, targets, masks, device

    def __call__(self, index: torch.Tensor, elements: torch.Tensor) -> tuple:
        flat = index.flatten()
        # d4_batch turns label maps with the image and leaves per-sample labels alone
        x, y, mb = d4_batch(elements.flatten(), self.inputs[flat], self.targets[flat], self.masks[flat])
        shape = tuple(index.shape)
        return tuple(t.view(shape + t.shape[1:]).to(self.device) for t in (x, y, mb))


def _fit_batched(ensemble, batches, schedule, elements, recipe, loss) -> np.ndarray:
    params = {name: value.requires_grad_(True) for name, value in ensemble.params.items()}
    optimiser = recipe.optimiser(params.values())
    scheduler = recipe.scheduler(optimiser)
    ensemble._base.train()
    history = []
    for step in range(schedule.shape[1]):
        x, y, mb = batches(schedule[:, step], elements[:, step])  # (M, B, ...)
        out = ensemble.forward(x, params, shared=False)
        per_sample = loss(out.flatten(0, 1), y.flatten(0, 1), mb.flatten(0, 1)).view(x.shape[:2])
        per_member = per_sample.mean(dim=1)
        optimiser.zero_grad()
        per_member.sum().backward()  # member m's weights get member m's gradient only
        optimiser.step()
        scheduler.step()
        history.append(per_member.detach().cpu().numpy())
    for value in params.values():
        value.requires_grad_(False).grad = None
    ensemble._base.eval()
    return np.stack(history)


def _fit_one(ensemble, j, batches, schedule, elements, recipe, loss) -> np.ndarray:
    net = ensemble.member(j).train()
    optimiser = recipe.optimiser(net.parameters())
    scheduler = recipe.scheduler(optimiser)
    history = []
    for index, drawn in zip(schedule, elements):
        x, y, mb = batches(index, drawn)
        value = loss(net(x), y, mb).mean()
        optimiser.zero_grad()
        value.backward()
        optimiser.step()
        scheduler.step()
        history.append(value.item())
    ensemble.set_member(j, net)
    return np.asarray(history)


def train_ensemble(prototype: torch.nn.Module, images, masks, labels, *, members: int = 5, recipe: FitRecipe,
                   seed: int, loss=None, label_scale: float = STRESS_SCALE_KPA,
                   batched: bool = True) -> TargetEnsemble:
    """A :class:`TargetEnsemble` of ``prototype``'s architecture, on its device, trained by :func:`fit_ensemble`."""
    ensemble = TargetEnsemble(prototype, members, seed)
    fit_ensemble(ensemble, images, masks, labels, recipe=recipe, seed=seed, loss=loss, label_scale=label_scale,
                 batched=batched)
    return ensemble
