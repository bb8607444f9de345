"""Study design: the configuration, its presets and the grid of cells.

A study compares acquisition strategies on an increasing training-set size
(the label-efficiency experiment of Mo et al., "Efficient Deep Representation
Learning by Adaptive Latent Space Sampling", arXiv 2004.02757, Sec. 4).

Design, chosen so that the comparison is fair:

* **Cells.** One cell is one (strategy, repeat) pair. It runs acquisition as
  rounds until ``max(sizes)`` samples are labelled, then, for every size in the
  schedule, trains a fresh target network F on the *first* ``size`` acquired
  samples with the same optimiser, number of iterations, batch size and
  architecture for every strategy, and evaluates it. Learning curves therefore
  measure the value of the acquired samples, not of a longer training run.
* **Paired repeats.** Repeat ``i`` of every strategy shares one cohort (pool,
  validation and test split) and one VAE, all derived from
  :meth:`StudyConfig.repeat_seed`; so strategies are compared on identical
  footing and the Wilcoxon test can pair them.
* **Held-out test set.** The test split is labelled once per repeat and never
  seen by any strategy; hyperparameters are chosen on the validation split.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from typing import Mapping

from ..models.recipe import FitRecipe
from ..tasks import DEFAULT_TASK, load_task
from ..tasks.stress_metrics import STRESS_METRIC_INFO

BASELINE = "random"
METHOD = "gradient"
ALL_STRATEGIES = ("random", "latent-random", "gradient", "gradient-nn", "uncertainty",
                  "ensemble", "coreset", "lcmd", "typiclust")
#: Named sets for ``strategies``: ``peers`` is what active-learning users compare against.
STRATEGY_SETS = {"peers": ("random", "uncertainty", "ensemble", "coreset", "lcmd", "typiclust",
                           "gradient", "gradient-nn")}

# Metrics each cell reports per training-set size: name -> (label, lower is better).
# Test-set metrics; the same names prefixed "val_" are measured on the validation split.
COST_METRICS = {"label_seconds": ("labelling time (s)", True), "wall_seconds": ("wall time (s)", True)}
METRICS = {**{name: STRESS_METRIC_INFO[name] for name in ("mse_kpa2", "mae_kpa", "rel_l2", "accuracy",
                                                          "pss_abs_err_kpa")}, **COST_METRICS}

# FitRecipe field -> the StudyConfig field that sets it.
_RECIPE_FIELDS = {"max_steps": "f_max_steps", "batch_size": "batch_size", "lr": "learning_rate",
                  "schedule": "f_schedule", "weight_decay": "f_weight_decay", "augment": "f_augment",
                  "eval_every": "f_eval_every", "patience": "f_patience"}

# Fields that only say *which* cells to run: a study folder may be resumed with
# more strategies or repeats, but not with a different experiment.
_GRID_FIELDS = ("strategies", "repeats")


@dataclass(frozen=True)
class StudyConfig:
    """Everything that defines a study; the same config always gives the same cells.

    Sizes count labelled samples; step counts are optimiser steps. Every F
    (the study's at each size, and the loop's acquisition F) is trained by
    one :class:`~latentmine.models.FitRecipe` (:meth:`recipe`): at most
    ``f_max_steps`` steps of ``batch_size`` samples drawn with replacement,
    peak ``learning_rate`` of the ``f_schedule``, ``f_weight_decay``,
    ``f_augment``, early stopping on the validation split every
    ``f_eval_every`` steps with ``f_patience``. The loop's F is warm-started
    each round and trains at most ``acquisition_steps`` steps.
    ``loop`` holds extra keyword arguments for :class:`latentmine.loop.LoopConfig`
    (sampler step size, number of steps, ...), so that the acquisition can be
    tuned without the study knowing every loop knob.
    """

    name: str = "custom"
    image_size: int = 64
    pool_size: int = 600
    validation_size: int = 100
    test_size: int = 150
    sizes: tuple = (25, 50, 100, 200, 400)
    strategies: tuple = (BASELINE, METHOD)
    repeats: int = 5
    shared_cohort: bool = False
    seed: int = 0
    per_round: int = 25
    acquisition_steps: int = 300
    f_max_steps: int = FitRecipe.max_steps
    batch_size: int = FitRecipe.batch_size
    learning_rate: float = FitRecipe.lr
    f_schedule: str = FitRecipe.schedule
    f_weight_decay: float = FitRecipe.weight_decay
    f_augment: str = FitRecipe.augment
    f_eval_every: int = FitRecipe.eval_every
    f_patience: int = FitRecipe.patience
    f_width: int = 16
    vae_epochs: int = 30
    vae_width: int = 16
    latent_dim: int = 32
    threads: int = 1
    loop: Mapping = field(default_factory=dict)
    task: str = DEFAULT_TASK

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        object.__setattr__(self, "strategies", tuple(self.strategies))
        object.__setattr__(self, "loop", dict(self.loop))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first inconsistent field."""
        if not self.sizes or any(s <= 0 for s in self.sizes):
            raise ValueError(f"sizes must be positive labelled-sample counts, got {self.sizes}")
        if list(self.sizes) != sorted(set(self.sizes)):
            raise ValueError(f"sizes must be strictly increasing, got {self.sizes}")
        if self.sizes[-1] > self.pool_size:
            raise ValueError(f"the largest size {self.sizes[-1]} exceeds pool_size {self.pool_size}: "
                             "the random baseline draws real samples from the pool")
        off_grid = [s for s in self.sizes if (s - self.sizes[0]) % max(int(self.per_round), 1)]
        if off_grid:
            raise ValueError(f"sizes {off_grid} are not reached by rounds of per_round={self.per_round} "
                             f"after the first {self.sizes[0]} samples")
        unknown = [s for s in self.strategies if s not in ALL_STRATEGIES]
        if unknown or not self.strategies:
            raise ValueError(f"unknown strategies {unknown}; choose from {', '.join(ALL_STRATEGIES)}")
        if BASELINE not in self.strategies:
            raise ValueError(f"strategies must include the {BASELINE!r} baseline, got {self.strategies}")
        if len(set(self.strategies)) != len(self.strategies):
            raise ValueError(f"strategies repeat a name: {self.strategies}")
        for name in ("image_size", "pool_size", "validation_size", "test_size", "repeats", "per_round",
                     "f_width", "vae_epochs", "vae_width", "latent_dim", "threads"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not isinstance(self.acquisition_steps, int) or self.acquisition_steps < 0:
            raise ValueError(f"acquisition_steps must be an integer >= 0, got {self.acquisition_steps!r}")
        try:
            self.recipe()
        except ValueError as error:  # name the study's field
            name = str(error).removeprefix("FitRecipe.").split(" ")[0]
            raise ValueError(f"{_RECIPE_FIELDS.get(name, name)}{str(error).split(name, 1)[1]}") from None

    def recipe(self) -> FitRecipe:
        """The :class:`~latentmine.models.FitRecipe` of every F of this study."""
        return FitRecipe(**{mine: getattr(self, theirs) for mine, theirs in _RECIPE_FIELDS.items()})

    def study_task(self):
        """The :class:`~latentmine.tasks.Task` this study runs (``task`` is a name or ``MODULE:FACTORY``)."""
        return load_task(self.task)

    def for_task(self, spec: str) -> "StudyConfig":
        """This study on task ``spec``: its required loop settings, and its strategies if these are the default."""
        task = load_task(spec)
        strategies = task.study_strategies if self.strategies == (BASELINE, METHOD) else self.strategies
        return replace(self, task=spec, strategies=strategies, loop={**self.loop, **task.loop_settings})

    def repeat_seed(self, repeat: int) -> int:
        """The seed shared by every strategy in repeat ``repeat`` (acquisition draws, F init)."""
        return self.seed * 1000 + repeat

    def cohort_of(self, repeat: int) -> int:
        """Which prepared cohort (splits and VAE) repeat ``repeat`` uses.

        Each repeat has its own unless ``shared_cohort``, which trains one VAE
        for the whole study (cheaper; repeats then differ only in the
        acquisition's and F's random draws, not in the data or the VAE).
        """
        return 0 if self.shared_cohort else repeat

    def cohorts(self) -> list:
        return sorted({self.cohort_of(r) for r in range(self.repeats)})

    def cells(self) -> list:
        """The (strategy, repeat) pairs of this study, repeat by repeat (baseline first in each).

        Repeat-major order finishes whole repeats first, so an interrupted
        study holds complete paired repeats that a run with fewer
        ``repeats`` can report.
        """
        return [(strategy, repeat) for repeat in range(self.repeats) for strategy in self.strategies]

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["sizes"] = list(self.sizes)
        out["strategies"] = list(self.strategies)
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "StudyConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown study settings: {', '.join(unknown)}")
        return cls(**data)

    def digest(self) -> str:
        """A fingerprint of the experiment, ignoring which cells are run."""
        data = {k: v for k, v in self.to_dict().items() if k not in _GRID_FIELDS}
        if data["task"] == DEFAULT_TASK:  # studies made before tasks existed keep their digest
            del data["task"]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def with_overrides(self, overrides: Mapping[str, str]) -> "StudyConfig":
        """Apply ``KEY=VALUE`` text overrides; ``loop.KEY`` goes to the loop settings."""
        changes, loop = {}, dict(self.loop)
        types = {f.name: f.type for f in fields(self)}
        for key, text in overrides.items():
            if key.startswith("loop."):
                loop[key[5:]] = _parse_scalar(text)
            elif key == "sizes":
                changes[key] = tuple(int(p) for p in text.split(",") if p)
            elif key == "strategies":  # names, or a set of STRATEGY_SETS
                changes[key] = tuple(name for part in text.split(",") if part
                                     for name in STRATEGY_SETS.get(part, (part,)))
            elif key in types and key not in ("loop", "name"):
                kind = {"int": int, "float": float, "bool": _parse_bool}.get(types[key], str)
                try:
                    changes[key] = kind(text)
                except ValueError:
                    raise ValueError(f"setting {key} expects {types[key]}, got {text!r}") from None
            else:
                raise ValueError(f"unknown study setting {key!r}; known: "
                                 f"{', '.join(sorted(types))} or loop.NAME")
        return replace(self, loop=loop, **changes)


def _parse_bool(text: str) -> bool:
    value = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text.lower())
    if value is None:
        raise ValueError(f"not a boolean: {text!r}")
    return value


def _parse_scalar(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


# Chosen on validation splits of cohorts no study scores (docs/study.md): every strategy starts
# from the same random real samples (seed 1); F sees the image and the mask, and the wall-depth
# and Lamé prior channels computed from the mask (seed 7).
_LOOP = {"initial_strategy": "random", "input_mode": "both", "priors": "depth+lame"}

PRESETS = {
    # Tests run this one end to end: seconds, not minutes.
    "smoke": StudyConfig(
        name="smoke", image_size=64, pool_size=100, validation_size=8, test_size=12,
        sizes=(8, 16, 24), per_round=8, acquisition_steps=4, repeats=2, shared_cohort=True,
        f_max_steps=10, f_eval_every=5, f_patience=2, batch_size=8, f_width=4, vae_epochs=40,
        vae_width=8, latent_dim=16, loop=_LOOP),
    # The committed real run on the 2-core CPU (docs/study.md): one cohort and VAE per repeat,
    # 6 paired repeats, F converged (a 2,000-step budget, chosen on a seed-7 validation split by
    # benchmarks/surrogate_quality.py); the grid, not the training, is cut to fit: three sizes
    # where strategies can differ.
    "default": StudyConfig(
        name="default", image_size=64, pool_size=300, validation_size=50, test_size=100,
        sizes=(25, 50, 100), per_round=25, acquisition_steps=100, repeats=6,
        f_max_steps=2000, f_eval_every=50, f_patience=4, batch_size=16, learning_rate=3e-3,
        f_width=8, vae_epochs=20, vae_width=8, latent_dim=32, loop=_LOOP),
    # The whole grid of the default cohort up to 400 labels: hours on the 2-core CPU.
    "full": StudyConfig(
        name="full", image_size=64, pool_size=500, validation_size=100, test_size=100,
        sizes=(25, 50, 75, 100, 150, 200, 300, 400), per_round=25, acquisition_steps=500,
        repeats=6, f_max_steps=2000, f_eval_every=50, f_patience=6, batch_size=16,
        learning_rate=3e-3, f_width=8, vae_epochs=30, vae_width=8, latent_dim=32, loop=_LOOP),
    # The paper-scale cohort of 1,200 slices at 128², one cohort and VAE per repeat: sized
    # for a large machine (hours of CPU; the F and VAE trainings are what a GPU would speed up).
    "paper": StudyConfig(
        name="paper", image_size=128, pool_size=800, validation_size=100, test_size=300,
        sizes=(25, 50, 100, 200, 400, 800), per_round=25, acquisition_steps=1000,
        f_max_steps=4000, f_eval_every=100, f_patience=6, batch_size=32, f_width=16,
        vae_epochs=100, vae_width=16, latent_dim=64, repeats=6, threads=4, loop=_LOOP),
}


def preset(name: str) -> StudyConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}") from None
