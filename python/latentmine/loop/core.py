"""The suggestive-labelling loop: propose, gate, label, acquire, train, evaluate; resumable."""
from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from time import perf_counter

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import PoolExhausted
from ..models.training import fit_target, predict
from ..sampling import Context, Proposals, get_strategy
from ..sampling.realism import check_renderer
from ..tasks import DEFAULT_TASK, load_task, stress_target
from ..units import DEFAULT_PIXEL_SIZE_MM
from . import acquired
from .config import LoopConfig
from .plots import compare_learning_curves, save_pair_grid
from .proposing import propose_gated
from .samples import Samples, as_samples
from .store import RunStore

#: LoopConfig fields a resumed run may change: when to stop, and where to compute.
_NOT_IDENTITY = ("rounds", "budget_samples", "budget_seconds", "device")
_DEFAULTS = LoopConfig().to_dict()
_PROPOSAL_ARRAYS = ("images", "masks", "pool_index", "z", "z_new", "grad_norm", "step_size")


class LabelsPending(RuntimeError):
    """The loop waits for labels of the given ids (no labeller: use ``suggest`` and ``ingest``)."""


#: The IVUS stress task's F (:func:`latentmine.tasks.stress_target`), under its historical name.
default_target = stress_target


def labeller_version(labeller) -> str:
    return str(getattr(labeller, "version", None) or type(labeller).__name__)


class SuggestiveLoop:
    """One suggestive-labelling run (see :mod:`latentmine.loop`)."""

    def __init__(self, generator, labeller, *, pool, test, config: LoopConfig | None = None, run_dir=None,
                 target=None, loss=None, sources: dict | None = None, plots: bool | None = None,
                 validation=None, task=None):
        self.config = config if config is not None else LoopConfig()
        if not isinstance(self.config, LoopConfig):
            raise ValueError(f"config must be a LoopConfig, got {type(self.config).__name__}")
        self.task = load_task(DEFAULT_TASK if task is None else task)
        self.task.check_config(self.config)
        self.label_scale = self.task.scale(self.config)
        self.device = _resolve_device(self.config.device)
        self.generator = generator
        if isinstance(generator, torch.nn.Module):
            generator.to(self.device).eval().requires_grad_(False)  # gradients flow to z only
        check_renderer(generator, self.config.render)  # render="bmode" without a renderer: refuse, never fall back
        self.labeller = labeller
        self.pool = as_samples(pool, "pool")
        self.test = as_samples(test, "test")
        # Labelled samples for F's early stopping (never the test set); without them F trains its full budget.
        self.validation = None if validation is None else as_samples(validation, "validation", need_labels=True)
        size = getattr(generator, "image_size", None)
        for name, part in (("pool", self.pool), ("test", self.test)):
            if size is not None and part.images.shape[1:] != (size, size):
                raise ValueError(f"{name} images are {part.images.shape[1:]}, the generator makes {size}x{size}")
        self._tmp = tempfile.TemporaryDirectory(prefix="latentmine-run-") if run_dir is None else None
        self.run_dir = Path(run_dir if run_dir is not None else self._tmp.name)
        self.store = RunStore(self.run_dir)
        self.plots = run_dir is not None if plots is None else plots
        self.loss = loss if loss is not None else self.task.make_loss(self.config)
        self._target_factory = target if target is not None else self.task.make_target
        self._cache: dict = {}
        self._snapshot(sources or {})
        self._label_test_set()
        self._restore()

    # -- public API -------------------------------------------------------------
    @property
    def train_set(self) -> Samples:
        """Every labelled sample acquired so far (initial set included), labels in the task's units."""
        return self._train

    @property
    def provenance(self) -> list[dict]:
        """One row per acquired sample (see :data:`latentmine.loop.acquired.PROVENANCE_FIELDS`)."""
        return list(self._provenance)

    @property
    def metrics(self) -> list[dict]:
        """One row per completed round."""
        return list(self._rows)

    @property
    def target(self) -> torch.nn.Module:
        """The target network F after the last completed round."""
        return self._model

    @property
    def rounds_done(self) -> int:
        """Acquisition rounds completed (round 0, the initial set, not counted)."""
        return sum(1 for row in self._rows if row["round"] > 0)

    def run(self, rounds: int | None = None, progress: bool = True) -> list[dict]:
        """Run (or resume) until ``rounds`` acquisition rounds are complete (default ``config.rounds``).

        Returns the metric rows of every completed round. Stops early when a
        budget is spent or the pool is exhausted (with a warning); raises
        :class:`latentmine.errors.Starvation` when a round can acquire nothing.
        """
        total = self.config.rounds if rounds is None else rounds
        if not isinstance(total, int) or total < 0:
            raise ValueError(f"rounds must be an integer >= 0, got {rounds!r}")
        first = 0 if self.config.initial else 1
        with tqdm(range(first, total + 1), desc=f"loop {self.config.strategy}", unit="round",
                  disable=not progress) as bar:
            shown = self.task.loop_panels[0]
            for r in bar:
                if self.store.stage_of(r) == 0 and self._request(r) == 0:
                    break
                try:
                    self.run_round(r)
                except PoolExhausted as stop:
                    warnings.warn(f"{stop}; the run stops after round {r - 1}", stacklevel=2)
                    break
                row = self._rows[-1]
                bar.set_postfix({"n": row["n_train"], shown: f"{row['test_' + shown]:.3g}"})
        return self.metrics

    def run_round(self, r: int) -> dict:
        """Complete round ``r`` from its last durable stage; returns its metric row."""
        stage = self.store.stage_of(r)
        if stage == 0:
            self._propose(r)
        if stage < 2:
            self._label(r)
        if stage < 3:
            self._acquire(r)
        # A round marked done whose metrics row is gone (its checkpoint was corrupt and
        # the previous one was loaded) is retrained from that previous checkpoint.
        if stage < 4 or not any(row["round"] == r for row in self._rows):
            self._train_and_evaluate(r)
        return next(row for row in self._rows if row["round"] == r)

    def next_round(self) -> int:
        state = self.store.state()
        if state is None:
            return 0 if self.config.initial else 1
        return state[0] + 1 if state[1] == "done" else state[0]

    def propose_next(self) -> tuple[int, Proposals, list[str]]:
        """Propose (or reload the pending proposals of) the next round, for labelling by hand."""
        r = self.next_round()
        if self.store.stage_of(r) == 0:
            if self._request(r) == 0:
                raise ValueError("the budget is spent or the pool is exhausted: nothing to suggest")
            self._propose(r)
        arrays, meta = self.store.load_proposals(r)
        return r, _proposals(arrays, meta), meta["ids"]

    def ingest(self, labels: dict, *, seconds: dict | None = None, version: str = "human") -> dict:
        """Add labels ``{id: (H, W) array}`` for the pending proposals and finish their round."""
        r = self.next_round()
        if self.store.stage_of(r) != 1:
            raise ValueError(f"round {r} has no proposals waiting for labels (run `latentmine suggest` first)")
        arrays, meta = self.store.load_proposals(r)
        ids = meta["ids"]
        missing, unknown = sorted(set(ids) - set(labels)), sorted(set(labels) - set(ids))
        if missing or unknown:
            raise ValueError(f"labels do not match the suggestions of round {r}: missing {missing[:5]}"
                             f"{'...' if len(missing) > 5 else ''}, unknown {unknown[:5]}")
        frame = arrays["masks"].shape[1:]
        checked = {key: self.task.check_labels(np.asarray(labels[key])[None], 1, frame, source=f"label {key!r}")[0]
                   for key in ids}
        seconds = seconds or {}
        for c, start in enumerate(range(0, len(ids), self.config.label_chunk)):
            chunk = ids[start:start + self.config.label_chunk]
            if self.store.load_label_chunk(r, c) is None:
                self.store.save_label_chunk(r, c, np.stack([checked[i] for i in chunk]),
                                            np.array([seconds.get(i, np.nan) for i in chunk], np.float32),
                                            version, 0.0)
        self.store.set_state(r, "labelled")
        return self.run_round(r)

    # -- stages -------------------------------------------------------------------
    def _rng(self, r: int, stage: int) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, r, stage])

    def _request(self, r: int) -> int:
        """Samples to ask for in round ``r`` (0 when a budget is spent)."""
        k = self.config.initial if r == 0 else self.config.per_round
        if self.config.budget_samples is not None:
            k = min(k, self.config.budget_samples - len(self._train))
        spent = sum(row["label_seconds"] for row in self._rows)
        if self.config.budget_seconds is not None and spent >= self.config.budget_seconds:
            return 0
        return max(k, 0)

    def _context(self, r: int) -> Context:
        t = self._train
        return Context(self.generator, self._model, self.loss, self.label_scale, self.pool.images,
                       self.pool.masks, self.pool.ids, self._available.copy(), t.images, t.masks, t.labels,
                       t.ids, self.config, self.labeller, r, self._cache, task=self.task)

    def _propose(self, r: int) -> None:
        name = self.config.first_strategy if r == 0 else self.config.strategy
        gated = propose_gated(get_strategy(name), self._context(r), self.task, self.config, self._request(r),
                              self._rng(r, 0), where=f"round {r}, strategy {name!r}")
        chosen = gated.chosen if gated.chosen is not None else self._no_proposals()
        ids = [self.pool.ids[i] if i >= 0 else f"{name}-r{r:03d}-{j:03d}" for j, i in enumerate(chosen.pool_index)]
        meta = {"round": r, "strategy": name, "ids": ids, "parent_ids": chosen.parent_ids,
                "requested": self._request(r), "rejected": gated.rejected,
                "reasons": dict(sorted(gated.reasons.items())), "rejected_real": gated.rejected_real,
                "attempts": gated.attempts, "seconds": dict(gated.seconds)}
        self.store.save_proposals(r, {key: getattr(chosen, key) for key in _PROPOSAL_ARRAYS}, meta)
        self.store.set_state(r, "proposed")

    def _no_proposals(self) -> Proposals:
        shape = (0,) + self.pool.images.shape[1:]
        return Proposals.make(np.zeros(shape, np.float32), np.zeros(shape, np.uint8),
                              latent_dim=int(self.generator.latent_dim))

    def _label(self, r: int) -> None:
        arrays, meta = self.store.load_proposals(r)
        chunk = self.config.label_chunk
        for c, start in enumerate(range(0, len(meta["ids"]), chunk)):
            if self.store.load_label_chunk(r, c) is not None:
                continue  # made durable before a kill: never label twice
            if self.labeller is None:
                raise LabelsPending(f"round {r}: {len(meta['ids'])} suggestion(s) wait for labels "
                                    f"(export them with `latentmine suggest`, read labels with `latentmine ingest`)")
            masks = arrays["masks"][start:start + chunk]
            began = perf_counter()
            labels = self.task.call_labeller(self.labeller, arrays["images"][start:start + chunk], masks,
                                             meta["ids"][start:start + chunk])
            wall = perf_counter() - began
            seconds = np.asarray(getattr(getattr(self.labeller, "last_result", None), "seconds",
                                         np.full(len(masks), wall / len(masks))), np.float32)
            self.store.save_label_chunk(r, c, labels, seconds.reshape(len(masks)),
                                        labeller_version(self.labeller), wall)
        self.store.set_state(r, "labelled")

    def _acquire(self, r: int) -> None:
        arrays, meta = self.store.load_proposals(r)
        chunks = self._label_chunks(r, meta)
        labels = np.concatenate([c["labels"] for c in chunks]) if chunks else self._no_labels()
        seconds = np.concatenate([c["seconds"] for c in chunks]) if chunks else []
        versions = [str(c["version"]) for c in chunks for _ in range(len(c["labels"]))]
        rows = [{"id": key, "parent_id": meta["parent_ids"][j], "round": r, "strategy": meta["strategy"],
                 "pool_index": int(arrays["pool_index"][j]), "z": _floats(arrays["z"][j]),
                 "z_new": _floats(arrays["z_new"][j]), "grad_norm": _float(arrays["grad_norm"][j]),
                 "step_size": _float(arrays["step_size"][j]), "labeller_version": versions[j],
                 "label_seconds": _float(seconds[j]), "gate": "passed"} for j, key in enumerate(meta["ids"])]
        acquired.append_round(self.run_dir, arrays["images"], arrays["masks"], labels, rows,
                              pixel_size_mm=self.pool.pixel_size_mm or DEFAULT_PIXEL_SIZE_MM,
                              maps=self.task.label_kind == "dense")
        self._restore_data()
        self.store.set_state(r, "acquired")

    def _label_chunks(self, r: int, meta: dict) -> list[dict]:
        return [self.store.load_label_chunk(r, c) for c in range(-(-len(meta["ids"]) // self.config.label_chunk))]

    def _train_and_evaluate(self, r: int) -> None:
        checkpoint = self.store.load_checkpoint()
        if checkpoint is None or checkpoint["round"] != r:  # else: trained before a kill, only the state is missing
            cfg, previous = self.config, self._rows
            model, optimiser_state = self._new_model(r), None
            fresh = not (cfg.warm_start and checkpoint is not None)
            if not fresh:  # weights only: each round runs a fresh schedule
                model.load_state_dict(checkpoint["model"])
            start, train_loss, steps = perf_counter(), float("nan"), 0
            n = len(self._train)
            if n and cfg.steps_per_round(n, fresh):
                generated = np.array([row["pool_index"] < 0 for row in self._provenance], bool)
                fit = fit_target(model, self._train.images, self._train.masks, self._train.labels,
                                 generated=generated,
                                 recipe=cfg.recipe(n, fresh), seed=int(self._rng(r, 2).integers(2 ** 62)),
                                 validation=self.validation, loss=self.loss, label_scale=self.label_scale)
                train_loss, optimiser_state, steps = fit.train_loss, fit.optimiser_state, fit.steps
            train_seconds, start = perf_counter() - start, perf_counter()
            scores = self.task.evaluate(predict(model, self.test.images, self.test.masks,
                                                label_scale=self.label_scale), self.test)
            row = {**self._row(r, train_loss, scores, train_seconds, perf_counter() - start), "f_steps": steps}
            self.store.save_checkpoint({"round": r, "model": model.state_dict(), "optimiser": optimiser_state,
                                        "rows": previous + [row]})
            checkpoint = self.store.load_checkpoint()
        self._model.load_state_dict(checkpoint["model"])
        self._rows = checkpoint["rows"]
        self.store.write_metrics(self._rows)
        if self.plots:
            self._save_plots(r)
        self.store.set_state(r, "done")

    def _row(self, r, train_loss, scores, train_seconds, eval_seconds) -> dict:
        _, meta = self.store.load_proposals(r)
        chunks = self._label_chunks(r, meta)
        label_seconds = float(np.nansum([c["seconds"].sum() for c in chunks])) if chunks else 0.0
        return {"round": r, "strategy": meta["strategy"], "n_train": len(self._train), "n_acquired": len(meta["ids"]),
                "requested": meta["requested"], "rejected": meta["rejected"],
                "rejected_real": len(meta.get("rejected_real", [])),
                "reject_reasons": json.dumps(meta["reasons"], sort_keys=True), "attempts": meta["attempts"],
                "train_loss": train_loss, **{f"test_{k}": float(v) for k, v in scores.items()},
                "label_seconds": label_seconds,
                "t_propose": meta["seconds"].get("propose", 0.0), "t_gate": meta["seconds"].get("gate", 0.0),
                "t_label": float(sum(float(c["wall"]) for c in chunks)), "t_train": train_seconds,
                "t_eval": eval_seconds}

    def _save_plots(self, r: int) -> None:
        task = self.task
        compare_learning_curves(self.run_dir / "plots" / "learning_curve.png", {self.config.strategy: self._rows},
                                f"{self.run_dir.name}: seed {self.config.seed}",
                                panels=[(f"test_{m}", task.metric_info[m][0]) for m in task.loop_panels])
        mine = [i for i, row in enumerate(self._provenance) if row["round"] == r][:8]
        if mine:
            t, maps = self._train, task.label_kind in ("dense", "segmentation")
            title = f"round {r}" if maps else f"round {r}, labels {t.labels[mine].tolist()}"
            save_pair_grid(self.run_dir / "plots" / f"r{r:03d}_acquired.png",
                           [(t.images[mine], t.masks[mine] if task.mask_classes else None, title)],
                           stress=t.labels[mine] if maps else None, label_title=task.label_title,
                           label_cmap=task.label_cmap)

    # -- set-up and restore --------------------------------------------------------
    def _new_model(self, r: int) -> torch.nn.Module:
        torch.manual_seed(self.config.seed if self.config.warm_start else int(self._rng(r, 3).integers(2 ** 62)))
        model = self._target_factory(self.config)
        if not hasattr(model, "input_mode"):
            model.input_mode = self.config.input_mode
        return model.to(self.device).eval()

    def _snapshot(self, sources: dict) -> None:
        snapshot = {"config": self.config.to_dict(), "sources": sources, "task": self.task.describe(),
                    "pool": {"n": len(self.pool), "shape": list(self.pool.images.shape[1:])},
                    "test": {"n": len(self.test), "shape": list(self.test.images.shape[1:])},
                    "generator": {"type": type(self.generator).__name__,
                                  "latent_dim": int(self.generator.latent_dim)}}
        if self.validation is not None:
            snapshot["validation"] = {"n": len(self.validation), "shape": list(self.validation.images.shape[1:])}
        snapshot = json.loads(json.dumps(snapshot))
        existing = self.store.read_config()
        if existing is not None:
            def identity(part):  # stopping rules and the device may change between sessions
                # a setting added since the run was made counts at its default
                return {k: v for k, v in {**_DEFAULTS, **part["config"]}.items() if k not in _NOT_IDENTITY}

            existing.setdefault("task", load_task(DEFAULT_TASK).describe())  # runs made before tasks existed
            changed = sorted(key for key in ("task", "pool", "test", "validation", "generator")
                             if existing.get(key) != snapshot.get(key))
            diff = [f"{k}: {existing['config'].get(k)!r} -> {v!r}" for k, v in identity(snapshot).items()
                    if identity(existing).get(k) != v]
            if changed or diff:
                raise ValueError(f"{self.run_dir} holds a run with a different {', '.join(changed) or 'config'} "
                                 f"({'; '.join(diff[:6]) or 'data or generator'}); use a new run folder")
            snapshot["sources"] = sources or existing.get("sources", {})
        if snapshot != existing:
            self.store.write_config(snapshot)

    def _label_test_set(self) -> None:
        test = self.test
        if test.labels is not None:
            test.labels = self.task.check_labels(test.labels, len(test), test.images.shape[1:], source="the test set")
            return
        cached = self.store.test_labels()
        if cached is None:
            if self.labeller is None:
                raise ValueError("the test set has no labels and there is no labeller to label it")
            cached = self.task.call_labeller(self.labeller, test.images, test.masks, test.ids)
            self.store.save_test_labels(cached)
        test.labels = cached

    def _no_labels(self) -> np.ndarray:
        shape = self.task.label_array_shape(0, self.pool.images.shape[1:])
        return np.zeros(shape, np.float32 if self.task.label_kind in ("dense", "vector") else np.int64)

    def _restore_data(self) -> None:
        train, self._provenance = acquired.load_all(self.run_dir)
        if train is None:
            empty = np.zeros((0,) + self.pool.images.shape[1:], np.float32)
            train = Samples(empty, empty.astype(np.uint8), [], self._no_labels())
        self._train = train
        self._available = np.ones(len(self.pool), bool)
        used = [row["pool_index"] for row in self._provenance if row["pool_index"] >= 0]
        self._available[used] = False

    def _restore(self) -> None:
        self._restore_data()
        self._model = self._new_model(0)
        checkpoint = self.store.load_checkpoint()
        self._rows = checkpoint["rows"] if checkpoint else []
        if checkpoint:
            self._model.load_state_dict(checkpoint["model"])


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"LoopConfig.device={name!r}, but torch sees no CUDA device")
    return torch.device(name)


def _proposals(arrays: dict, meta: dict) -> Proposals:
    return Proposals(**{key: arrays[key] for key in _PROPOSAL_ARRAYS}, parent_ids=list(meta["parent_ids"]))


def _float(value) -> float | None:
    return None if not np.isfinite(value) else float(value)


def _floats(values) -> list | None:
    return None if not np.isfinite(values).all() else [float(v) for v in values]
