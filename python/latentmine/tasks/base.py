"""The Task: everything the suggestive-labelling loop and the study need to know about one problem.

The loop of Mo et al. ("Efficient Deep Representation Learning by Adaptive
Latent Space Sampling", arXiv 2004.02757) is the same for any labelling
tool: propose samples, keep the valid ones, label them, train F, evaluate.
What differs from one problem to the next lives in a :class:`Task`:

* the conditioning: how many mask classes the generator and F may see
  (``mask_classes``; ``None`` for images without masks);
* the label kind (:data:`LABEL_KINDS`) and how the labelling tool is called
  (:meth:`Task.call_labeller`, whose result is checked against the kind);
* the validity gate (a callable over proposals, or ``None``);
* F's default architecture and loss;
* the metrics, the study's headline metric and the plots.

The loop, the strategies and the study talk to a Task only. Built-in tasks
are registered by name (:func:`register_task`, :func:`get_task`);
:func:`load_task` also accepts ``MODULE:FACTORY`` for a user's own.
"""
from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

#: Label kinds: a map per pixel (``dense``, float), a class code per pixel
#: (``segmentation``), a float vector per sample (``vector``), a class per sample (``class``).
LABEL_KINDS = ("dense", "segmentation", "vector", "class")
#: How a labelling tool is called: with the samples ``(images, masks, ids)``, or with the masks alone.
LABELLER_INPUTS = ("samples", "masks")


def no_gate(proposals, config) -> tuple[np.ndarray, Counter]:
    """A gate that passes every proposal."""
    return np.ones(len(proposals), bool), Counter()


@dataclass(frozen=True)
class Task:
    """One problem for the loop: labels, F, loss, gate, metrics (see the module docstring).

    Parameters
    ----------
    name : str
        Names the task in errors, run folders and reports.
    label_kind : {"dense", "segmentation", "vector", "class"}
        What the labelling tool returns per sample: an ``(H, W)`` float map, an
        ``(H, W)`` map of class codes, a ``label_shape`` float vector, or one class code.
    make_target : callable ``LoopConfig -> torch.nn.Module``
        F's default architecture. F takes ``(B, C, H, W)`` (the image, plus the
        one-hot mask for ``input_mode`` "mask"/"both") and returns its prediction
        in label units divided by :meth:`scale`.
    make_loss : callable ``LoopConfig -> loss``
        F's default per-sample loss ``loss(pred, target, masks) -> (B,)``; targets are
        the labels divided by :meth:`scale` (class codes arrive as floats).
    metrics : callable ``(pred, samples) -> dict``
        Test metrics of F's predictions ``pred`` (label units) against
        ``samples.labels`` (``samples`` also has ``masks`` and ``pixel_size_mm``).
    loop_metrics : callable ``(pred, samples) -> dict`` or None
        What the loop reports per round (as ``test_NAME`` columns); default ``metrics``.
    metric_info : dict
        ``name -> (axis label, lower is better)`` for every metric of ``metrics``
        and ``loop_metrics``.
    headline : str
        The metric the study's verdict is about (a key of ``metric_info``).
    mask_classes : int or None
        Number of mask classes the generator and F are conditioned on; ``None``:
        images without masks (masks are all zeros and carry nothing).
    classes : int or None
        Number of classes of ``segmentation`` and ``class`` labels.
    label_shape : tuple
        Per-sample shape of ``vector`` labels.
    label_scale : float or None
        Label units per unit of F's output; ``None`` takes ``LoopConfig.label_scale``.
    labeller_input : {"samples", "masks"}
        ``labeller(images, masks, ids)`` or ``labeller(masks)``.
    default_labeller : callable ``data -> labeller`` or None
        The labelling tool for data made by ``generate`` (or loaded): e.g. an oracle
        that knows the ground truth of the generated samples.
    gate : callable ``(proposals, config) -> (passed, reasons)`` or None
        Which proposals the labelling tool may label: a boolean per proposal and a
        :class:`collections.Counter` of rejection reasons. ``None``: every proposal passes.
    generate : callable ``(n, size, seed) -> data`` or None
        The task's built-in data: an object with ``images``, ``masks``, ``ids``,
        ``pixel_size_mm`` (and whatever ``default_labeller`` needs).
    loop_settings : dict
        LoopConfig values this task requires (e.g. ``input_mode="image"`` without masks).
    study_strategies : tuple
        Strategies the study compares by default (baseline first).
    panels, loop_panels : tuple
        Metrics plotted by the study's learning-curve figure and by a run's
        ``plots/learning_curve.png`` (default: the headline). The study also
        integrates the ``panels`` and tests them against the baseline.
    compared : tuple
        Further metrics the study integrates and tests against the baseline
        without plotting them (the stress task's high-risk subset).
    uncertainty_scores : dict
        ``name -> score(predictions (M, N, ...), masks) -> (N,)``: how much an ensemble's
        members disagree on a sample, for ``LoopConfig.ensemble_score`` (besides "mean").
    label_title, label_cmap : str
        Title and matplotlib colour map of map labels in a run's figures of acquired samples.
    about : str
        One line on what the task is, for listings.
    """

    name: str
    label_kind: str
    make_target: Callable
    make_loss: Callable
    metrics: Callable
    metric_info: dict
    headline: str
    mask_classes: int | None = None
    classes: int | None = None
    label_shape: tuple = ()
    label_scale: float | None = 1.0
    labeller_input: str = "samples"
    default_labeller: Callable | None = None
    gate: Callable | None = None
    generate: Callable | None = None
    loop_settings: dict = field(default_factory=dict)
    study_strategies: tuple = ("random", "gradient")
    panels: tuple = ()
    compared: tuple = ()
    loop_metrics: Callable | None = None
    loop_panels: tuple = ()
    uncertainty_scores: dict = field(default_factory=dict)
    label_title: str = "label"
    label_cmap: str = "viridis"
    about: str = ""

    def __post_init__(self):
        if self.label_kind not in LABEL_KINDS:
            raise ValueError(f"task {self.name!r}: label_kind must be one of {LABEL_KINDS}, got {self.label_kind!r}")
        if self.labeller_input not in LABELLER_INPUTS:
            raise ValueError(f"task {self.name!r}: labeller_input must be one of {LABELLER_INPUTS}, "
                             f"got {self.labeller_input!r}")
        if self.label_kind in ("segmentation", "class") and not (isinstance(self.classes, int) and self.classes >= 2):
            raise ValueError(f"task {self.name!r}: {self.label_kind} labels need classes >= 2, got {self.classes!r}")
        if self.mask_classes is not None and not (isinstance(self.mask_classes, int) and self.mask_classes >= 1):
            raise ValueError(f"task {self.name!r}: mask_classes must be an integer >= 1 or None, "
                             f"got {self.mask_classes!r}")
        if self.headline not in self.metric_info:
            raise ValueError(f"task {self.name!r}: headline {self.headline!r} is not one of its metrics "
                             f"{sorted(self.metric_info)}")
        object.__setattr__(self, "label_shape", tuple(int(s) for s in self.label_shape))
        object.__setattr__(self, "panels", tuple(self.panels) or (self.headline,))
        object.__setattr__(self, "loop_panels", tuple(self.loop_panels) or (self.headline,))
        object.__setattr__(self, "compared", tuple(self.compared))
        unknown = [m for m in self.panels + self.loop_panels + self.compared if m not in self.metric_info]
        if unknown:
            raise ValueError(f"task {self.name!r}: plotted or compared metrics {unknown} are not in metric_info")
        object.__setattr__(self, "loop_settings", dict(self.loop_settings))

    # -- labels -----------------------------------------------------------------
    def scale(self, config) -> float:
        """Label units per unit of F's output (:attr:`label_scale`, else ``config.label_scale``)."""
        return float(config.label_scale if self.label_scale is None else self.label_scale)

    def expected_labels(self, n: int, frame: tuple) -> str:
        """What :meth:`check_labels` accepts, in words (used in error messages)."""
        shape = {"dense": (n, *frame), "segmentation": (n, *frame), "vector": (n, *self.label_shape),
                 "class": (n,)}[self.label_kind]
        what = {"dense": "finite float map", "segmentation": f"integer class codes 0..{(self.classes or 0) - 1}",
                "vector": "finite float vector", "class": f"integer class codes 0..{(self.classes or 0) - 1}"}
        return f"{self.label_kind} labels: {what[self.label_kind]}, shape {shape}"

    def label_array_shape(self, n: int, frame: tuple) -> tuple:
        """Shape of the labels of ``n`` samples of ``frame`` = (H, W)."""
        if self.label_kind in ("dense", "segmentation"):
            return (n, *frame)
        return (n, *self.label_shape) if self.label_kind == "vector" else (n,)

    def check_labels(self, labels, n: int, frame: tuple, *, source: str = "the labeller") -> np.ndarray:
        """``labels`` as stored (float32 or int64), or a ValueError naming the task, the kind and what came."""
        def refuse(problem):
            raise ValueError(f"task {self.name!r}: {source} returned {problem}; expected "
                             f"{self.expected_labels(n, tuple(frame))}")

        if labels is None:
            refuse("None")
        array = np.asarray(labels)
        if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            refuse(f"{type(labels).__name__} of dtype {array.dtype}")
        want = self.label_array_shape(n, tuple(frame))
        if array.shape != want:
            refuse(f"shape {array.shape} ({array.dtype})")
        if self.label_kind in ("segmentation", "class"):
            if not np.issubdtype(array.dtype, np.integer):
                refuse(f"dtype {array.dtype}, not integer class codes")
            bad = np.unique(array[(array < 0) | (array >= self.classes)])
            if bad.size:
                refuse(f"class codes {bad[:10].tolist()} outside 0..{self.classes - 1}")
            return array.astype(np.int64)
        if not np.isfinite(array).all():
            refuse("NaN or infinite values")
        return array.astype(np.float32)

    def call_labeller(self, labeller, images, masks, ids) -> np.ndarray:
        """Label samples with ``labeller`` as this task calls it, checked by :meth:`check_labels`."""
        masks = np.asarray(masks)
        out = labeller(masks) if self.labeller_input == "masks" else labeller(np.asarray(images), masks, list(ids))
        return self.check_labels(out, len(masks), masks.shape[1:])

    def evaluate(self, pred, samples) -> dict:
        """The loop's metrics of predictions ``pred`` on labelled ``samples``."""
        return dict((self.loop_metrics or self.metrics)(pred, samples))

    # -- gate and F -----------------------------------------------------------------
    def passes(self, proposals, config) -> tuple[np.ndarray, Counter]:
        """``(passed, reasons)`` of the task's gate (everything passes without one)."""
        passed, reasons = (self.gate or no_gate)(proposals, config)
        passed = np.asarray(passed, bool)
        if passed.shape != (len(proposals),):
            raise ValueError(f"task {self.name!r}: the gate returned {passed.shape} verdicts for "
                             f"{len(proposals)} proposals")
        return passed, Counter(reasons)

    def without_gate(self) -> "Task":
        """The same task with every proposal passing (the gate bypass)."""
        return replace(self, gate=None)

    def check_config(self, config) -> None:
        """Refuse LoopConfig values this task cannot run with (names the field)."""
        for key, value in self.loop_settings.items():
            if getattr(config, key) != value:
                raise ValueError(f"task {self.name!r} needs LoopConfig.{key}={value!r}, got {getattr(config, key)!r}")
        if self.mask_classes is None and config.input_mode != "image":
            raise ValueError(f"task {self.name!r} has no masks: LoopConfig.input_mode must be 'image', "
                             f"got {config.input_mode!r}")

    def configure(self, config):
        """``config`` with this task's required settings applied."""
        return replace(config, **self.loop_settings) if self.loop_settings else config

    @property
    def vae_mask_classes(self) -> int:
        """Mask channels of the generator: 0 for images without masks."""
        return self.mask_classes or 0

    def describe(self) -> dict:
        """JSON-able identity of the task (recorded in run folders and study summaries)."""
        return {"name": self.name, "label_kind": self.label_kind, "mask_classes": self.mask_classes,
                "classes": self.classes, "label_shape": list(self.label_shape), "headline": self.headline}


_REGISTRY: dict[str, Callable[[], Task]] = {}


def register_task(name: str, factory: Callable[[], Task] | None = None, *, replace: bool = False):
    """Register ``factory`` (a callable returning a :class:`Task`) under ``name``; usable as a decorator."""
    def add(f):
        if name in _REGISTRY and not replace:
            raise ValueError(f"task {name!r} is already registered (pass replace=True)")
        _REGISTRY[name] = f
        return f
    return add if factory is None else add(factory)


def available_tasks() -> list[str]:
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    """A registered task by name."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(available_tasks())} "
                         "(or MODULE:FACTORY for your own)")
    return _REGISTRY[name]()


def load_task(spec: Any) -> Task:
    """A :class:`Task` from a Task, a registered name, or ``"MODULE:FACTORY"`` (``FACTORY()`` returns a Task)."""
    if isinstance(spec, Task):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"a task is a Task, a registered name or MODULE:FACTORY, got {type(spec).__name__}")
    module, sep, attr = spec.partition(":")
    if not sep:
        return get_task(spec)
    try:
        task = getattr(importlib.import_module(module), attr)()
    except (ImportError, AttributeError) as error:
        raise ValueError(f"task {spec!r} could not be loaded: {error}") from None
    if not isinstance(task, Task):
        raise ValueError(f"task {spec!r}: {attr}() returned {type(task).__name__}, not a latentmine Task")
    return task
