"""Settings of one suggestive-labelling run."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..models.recipe import FitRecipe
from ..models.priors import parse_priors
from ..models.target import INPUT_MODES, STRESS_SCALE_KPA

LABEL_TARGETS = ("seed", "decoded")


@dataclass(frozen=True)
class LoopConfig:
    """Every knob of :class:`~latentmine.loop.SuggestiveLoop`; JSON-serialisable.

    Acquisition: ``strategy`` (a registered name), ``rounds``, ``per_round``
    samples per round, ``initial`` samples labelled before round 1 by
    ``initial_strategy`` (default: ``latent-random`` for ``gradient`` and
    ``latent-random``, as the method starts from random latent points, else
    ``random``). Budgets stop the run early: ``budget_samples`` acquired
    samples, ``budget_seconds`` of labeller time.

    Target network F: ``input_mode`` ("image", "mask", "both"), ``width``,
    ``levels``, ``dropout``, ``priors`` ("none", or prior channels of
    :mod:`latentmine.models.priors` joined by "+", e.g. "lame"); training:
    ``epochs`` per round, ``batch_size``, ``lr``, ``warm_start`` (continue from the previous round's weights, else
    retrain from scratch), ``fit_steps`` (the step budget of a round; None:
    ``epochs`` passes), ``fresh_fit_steps`` (the budget of a round whose F
    starts from fresh weights: round 0, or every round without
    ``warm_start``; None: as ``fit_steps``; a study gives the first F, which
    picks the first acquisitions, a full budget and warm rounds a short one),
    ``peak_weight`` (extra loss weight in the
    peri-luminal band), ``label_scale`` (kPa per unit of F's output).
    Mixed training (generated samples join the real ones, never replace
    them): ``generated_share`` caps their share of each batch,
    ``generated_weight`` scales their loss, ``finetune_steps`` steps at
    ``finetune_lr`` on the real samples end each training
    (:class:`~latentmine.models.FitRecipe`).

    Latent step (``gradient``, ``gradient-nn``): ``step_size`` eta, ``steps``,
    ``trust_radius`` (``||z' - z||`` bound), ``max_norm`` (``||z'||`` bound),
    ``noise_std``, ``label_target`` ("seed" or "decoded"); ``hardness`` the
    score the step ascends ("loss", or label-free "ensemble" / "mc-dropout"),
    ``seed_selection`` ("uniform" or "hardness": the hardest seeds first),
    ``reencode`` (``z <- mu_E(G(z))`` after every step, each step projected
    into ``trust_radius``), ``diversity`` ("none", "latent", "target": greedy
    k-centre keeps ``per_round`` of ``oversample`` times as many stepped
    seeds). ``render`` ("none", "bmode", "speckle"): the image of a decoded
    sample (``gradient``, ``latent-random``); "bmode" needs a generator with a
    renderer (:class:`~latentmine.models.RenderedGenerator`).
    ``uncertainty``: ``mc_samples`` dropout passes over at most ``candidates``
    pool samples, or the round's ensemble (``uncertainty_estimator="ensemble"``).
    ``ensemble``: ``ensemble_members`` F's trained ``ensemble_steps`` steps
    each, scored by ``ensemble_score`` ("material" or "pss") over at most
    ``candidates`` pool samples. ``coreset``: ``coreset_features`` ("target":
    F's bottleneck, or "latent": ``mu_E``). ``lcmd``: ``sketch_dim``
    dimensions of sketched last-layer gradients. ``typiclust``:
    ``typiclust_neighbours`` nearest neighbours for the typicality.

    Gate: ``min_wall_px`` minimum wall thickness; ``max_attempts`` proposal
    calls per round before giving up on a full round. ``label_chunk`` samples
    are labelled (and made durable) at a time. ``seed`` makes a CPU run
    reproducible. ``device`` ("cpu", "cuda", "cuda:N" or "auto") is where the
    generator and F run; it is not part of a run's identity, so a run may be
    resumed on another device.
    """

    strategy: str = "gradient"
    rounds: int = 5
    per_round: int = 16
    initial: int = 16
    initial_strategy: str | None = None
    budget_samples: int | None = None
    budget_seconds: float | None = None
    input_mode: str = "image"
    width: int = 16
    levels: int = 3
    dropout: float = 0.1
    priors: str = "none"
    epochs: int = 20
    fit_steps: int | None = None
    fresh_fit_steps: int | None = None
    batch_size: int = 16
    lr: float = 1e-3
    schedule: str = FitRecipe.schedule
    weight_decay: float = FitRecipe.weight_decay
    augment: str = FitRecipe.augment
    eval_every: int = FitRecipe.eval_every
    patience: int = FitRecipe.patience
    generated_share: float | None = FitRecipe.generated_share
    generated_weight: float = FitRecipe.generated_weight
    finetune_steps: int = FitRecipe.finetune_steps
    finetune_lr: float | None = FitRecipe.finetune_lr
    warm_start: bool = True
    peak_weight: float = 0.0
    label_scale: float = STRESS_SCALE_KPA
    step_size: float = 0.5
    steps: int = 1
    trust_radius: float | None = None
    max_norm: float | None = None
    noise_std: float = 0.0
    resample_noise: float = 0.25
    label_target: str = "seed"
    hardness: str = "loss"
    seed_selection: str = "uniform"
    reencode: bool = False
    diversity: str = "none"
    oversample: int = 4
    render: str = "none"
    mc_samples: int = 8
    candidates: int | None = 512
    uncertainty_estimator: str = "mc-dropout"
    ensemble_members: int = 5
    ensemble_steps: int = 300
    ensemble_score: str = "material"
    coreset_features: str = "target"
    sketch_dim: int = 512
    typiclust_neighbours: int = 20
    min_wall_px: int = 2
    max_attempts: int = 10
    label_chunk: int = 8
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self):
        from ..sampling import available_strategies
        from ..sampling.coreset import COVERAGE_FEATURES
        from ..sampling.ensemble import ENSEMBLE_SCORES
        from ..sampling.gradient import DIVERSITY
        from ..sampling.hardness import HARDNESS, SEED_SELECTIONS
        from ..sampling.realism import RENDERS

        names = available_strategies()
        for key, choices in (("uncertainty_estimator", ("mc-dropout", "ensemble")),
                             ("ensemble_score", ENSEMBLE_SCORES), ("coreset_features", COVERAGE_FEATURES),
                ("hardness", HARDNESS), ("seed_selection", SEED_SELECTIONS), ("diversity", DIVERSITY),
                ("render", RENDERS)):
            if getattr(self, key) not in choices:
                raise ValueError(f"LoopConfig.{key} must be one of {choices}, got {getattr(self, key)!r}")
        for key in ("strategy", "initial_strategy"):
            value = getattr(self, key)
            if value is not None and value not in names:
                raise ValueError(f"LoopConfig.{key}: unknown strategy {value!r}; registered: {', '.join(names)}")
        if self.input_mode not in INPUT_MODES:
            raise ValueError(f"LoopConfig.input_mode must be one of {sorted(INPUT_MODES)}, got {self.input_mode!r}")
        try:
            parse_priors(self.priors)
        except ValueError as error:
            raise ValueError(f"LoopConfig.{error}") from None
        if self.label_target not in LABEL_TARGETS:
            raise ValueError(f"LoopConfig.label_target must be one of {LABEL_TARGETS}, got {self.label_target!r}")
        for key in ("rounds", "initial", "epochs", "min_wall_px"):
            _at_least(self, key, 0)
        for key in ("per_round", "batch_size", "steps", "mc_samples", "max_attempts", "label_chunk", "width",
                    "levels", "ensemble_steps", "sketch_dim", "typiclust_neighbours", "oversample"):
            _at_least(self, key, 1)
        _at_least(self, "ensemble_members", 2)
        for key in ("fit_steps", "fresh_fit_steps"):
            if getattr(self, key) is not None:
                _at_least(self, key, 0)
        try:
            self.recipe(1)
        except ValueError as error:  # name the loop's field, not the recipe's
            raise ValueError(f"LoopConfig.{str(error).removeprefix('FitRecipe.')}") from None
        for key in ("lr", "label_scale", "step_size"):
            if not getattr(self, key) > 0:
                raise ValueError(f"LoopConfig.{key} must be > 0, got {getattr(self, key)!r}")
        for key in ("noise_std", "resample_noise", "peak_weight"):
            if not getattr(self, key) >= 0:
                raise ValueError(f"LoopConfig.{key} must be >= 0, got {getattr(self, key)!r}")
        for key in ("trust_radius", "max_norm", "budget_seconds", "budget_samples", "candidates"):
            value = getattr(self, key)
            if value is not None and not value > 0:
                raise ValueError(f"LoopConfig.{key} must be > 0 or None, got {value!r}")
        if not (self.device in ("cpu", "auto") or self.device.split(":")[0] == "cuda"):
            raise ValueError(f"LoopConfig.device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {self.device!r}")
        if not isinstance(self.reencode, bool):
            raise ValueError(f"LoopConfig.reencode must be true or false, got {self.reencode!r}")
        if self.hardness == "mc-dropout" and not self.dropout > 0:
            raise ValueError("LoopConfig.hardness='mc-dropout' needs LoopConfig.dropout > 0 (F has no dropout)")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"LoopConfig.dropout must be in [0, 1), got {self.dropout!r}")

    def steps_per_round(self, n_train: int, fresh: bool = False) -> int:
        """F's optimiser-step budget in a round that trains on ``n_train`` samples, from fresh
        weights (``fresh``) or warm-started from the previous round's."""
        if fresh and self.fresh_fit_steps is not None:
            return self.fresh_fit_steps
        if self.fit_steps is not None:
            return self.fit_steps
        return self.epochs * -(-n_train // self.batch_size)

    def recipe(self, n_train: int, fresh: bool = False):
        """The :class:`~latentmine.models.FitRecipe` of a round on ``n_train`` samples (at least 1 step)."""
        return FitRecipe(max_steps=max(self.steps_per_round(n_train, fresh), 1), batch_size=self.batch_size,
                         lr=self.lr, schedule=self.schedule, weight_decay=self.weight_decay,
                         augment=self.augment, eval_every=self.eval_every, patience=self.patience,
                         **self.mixed_training())

    def mixed_training(self) -> dict:
        """The mixed-training settings of F's recipe (generated samples capped, weighted, fine-tune on real)."""
        return {"generated_share": self.generated_share, "generated_weight": self.generated_weight,
                "finetune_steps": self.finetune_steps, "finetune_lr": self.finetune_lr}

    @property
    def first_strategy(self) -> str:
        """The strategy that picks the ``initial`` samples."""
        if self.initial_strategy is not None:
            return self.initial_strategy
        return "latent-random" if self.strategy in ("gradient", "latent-random") else "random"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "LoopConfig":
        """A config from :meth:`to_dict` output (e.g. a run's ``config.json``); unknown keys are an error."""
        valid = sorted(f.name for f in fields(cls))
        if set(values) - set(valid):
            raise ValueError(f"unknown LoopConfig field(s) {sorted(set(values) - set(valid))}; valid: {', '.join(valid)}")
        return cls(**values)


def _at_least(config, key, low):
    value = getattr(config, key)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"LoopConfig.{key} must be an integer >= {low}, got {value!r}")
