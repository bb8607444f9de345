"""The study's two kinds of task: prepare a cohort, and run one (strategy, repeat) cell.

Both are pure functions of their arguments that write their results
atomically into the study folder, so that any executor (a process pool, Dask
workers) can run them, and a finished one is never run again.

Per repeat, or once per study with ``shared_cohort`` (:func:`prepare_cohort`):
an in-silico IVUS cohort (:func:`latentmine.phantoms.generate`) split into an
unlabelled pool, a labelled validation split (for tuning) and a labelled test
split (for the report only), and a VAE trained on the pool. Every strategy
of the repeat uses these. Pool labels are computed here too but only
revealed to a strategy that acquires the sample (:class:`PoolLabels`).

Per cell (:func:`run_cell`): a :class:`latentmine.loop.SuggestiveLoop` with the
cell's strategy acquires ``max(sizes)`` labelled samples in rounds of
``per_round`` (its own F, warm-started and trained by the study's recipe for
at most ``acquisition_steps`` per round with early stopping on the validation
split, guides the gradient and uncertainty strategies). Then, for every size
of the schedule, a fresh F is trained from scratch on the first ``size``
acquired samples by the study's recipe (:meth:`StudyConfig.recipe`, early
stopping on the validation split), from the same initial weights and seeds
for every strategy, and scored on the test and validation splits
(:mod:`latentmine.study.metrics`). The test split is never used for a choice.
Strategies of one repeat share their first ``sizes[0]`` samples, so the F of
that size is trained once per repeat and its scores are reused
(:func:`shared_point`).
"""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import replace
from time import perf_counter, sleep
from types import SimpleNamespace

import numpy as np

from ..parallel.threads import cap_threads
from ..storage import atomic_write_bytes, atomic_write_json
from ..tasks import DEFAULT_TASK
from ..units import DEFAULT_PIXEL_SIZE_MM
from .design import BASELINE, StudyConfig
from .runner import cell_path, cohort_dir, cohort_marker, read_result, shared_dir

COHORT_FILE = "cohort.npz"
SPLITS = ("pool", "validation", "test")
# Strategies whose proposals do not depend on F: their loop trains no F.
_F_FREE = ("random", "latent-random", "typiclust")


def prepare_cohort(config: StudyConfig, cohort: int, out) -> None:
    """Cohort ``cohort``: pool, labelled validation and test splits, and the VAE.

    Cohort ``i`` belongs to repeat ``i``; with ``config.shared_cohort`` only
    cohort 0 exists and every repeat uses it.
    """
    from ..models import train_vae

    cap_threads(config.threads)
    task = config.study_task()
    seed, folder = config.repeat_seed(cohort), cohort_dir(out, cohort)
    began = perf_counter()
    cohort_data = task.generate(config.pool_size + config.validation_size + config.test_size,
                                config.image_size, seed)
    order = np.random.default_rng(seed).permutation(len(cohort_data.ids))
    cuts = np.cumsum([config.pool_size, config.validation_size])
    parts = dict(zip(SPLITS, np.split(order, cuts)))
    labeller = task.default_labeller(cohort_data)
    pixel = getattr(cohort_data, "pixel_size_mm", None) or DEFAULT_PIXEL_SIZE_MM
    arrays = {"pixel_size_mm": np.float64(pixel)}
    for split, index in parts.items():
        arrays[f"{split}_images"] = cohort_data.images[index]
        arrays[f"{split}_masks"] = cohort_data.masks[index]
        arrays[f"{split}_ids"] = np.asarray(cohort_data.ids)[index]
        arrays[f"{split}_labels"], arrays[f"{split}_label_seconds"] = _label(
            task, labeller, cohort_data.images[index], cohort_data.masks[index], arrays[f"{split}_ids"])
    start = perf_counter()
    vae = train_vae(arrays["pool_images"], arrays["pool_masks"], latent_dim=config.latent_dim,
                    width=config.vae_width, epochs=config.vae_epochs, seed=seed,
                    out_dir=folder / "vae", progress=False, mask_classes=task.vae_mask_classes)
    vae_seconds = perf_counter() - start
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(folder / COHORT_FILE, buffer.getvalue())
    diagnostics = vae_diagnostics(vae, arrays["validation_images"], arrays["validation_masks"], seed=seed,
                                  task=task, settings=loop_config(config, BASELINE, cohort))
    atomic_write_json(cohort_marker(out, cohort), {
        "config_digest": config.digest(), "cohort": cohort, "seed": seed, "diagnostics": diagnostics,
        "seconds": {"labels": float(sum(arrays[f"{s}_label_seconds"].sum() for s in SPLITS)),
                    "vae": vae_seconds,
                    "total": perf_counter() - began}})


def _label(task, labeller, images, masks, ids) -> tuple:
    """Labels (called and checked as ``task`` says) and per-sample labelling seconds (the tool's own
    report when it gives one)."""
    start = perf_counter()
    labels = task.call_labeller(labeller, images, masks, [str(i) for i in ids])
    wall = (perf_counter() - start) / max(len(masks), 1)
    seconds = getattr(getattr(labeller, "last_result", None), "seconds", None)
    return labels, np.asarray(seconds if seconds is not None else np.full(len(masks), wall), np.float64)


class PoolLabels:
    """The labelling tool, replaying the cohort's stored labels for samples of the pool.

    The tool is deterministic, so the label of a real pool sample is computed
    once per cohort (in :func:`prepare_cohort`) and replayed, with the seconds
    it took, whenever a strategy acquires that sample; any other sample (a
    decoded one) goes to the tool. Label counts and labelling seconds are what
    labelling every acquisition afresh would give. Pool samples are recognised
    by their mask for a tool called with masks alone (the IVUS task), else by id.
    """

    def __init__(self, labeller, masks, labels, seconds, *, task=None, ids=None):
        from ..tasks import DEFAULT_TASK, load_task

        task = load_task(DEFAULT_TASK if task is None else task)
        self.task, self.labeller = task, labeller
        self.version = getattr(labeller, "version", None) or type(labeller).__name__
        keys = masks if task.labeller_input == "masks" else ids
        self._known = {self._key(key): i for i, key in enumerate(keys)}
        self._labels, self._seconds = labels, seconds
        self.last_result = None

    @staticmethod
    def _key(value):
        return value.tobytes() if isinstance(value, np.ndarray) else str(value)

    def __call__(self, *samples):
        images, masks, ids = (None, samples[0], None) if len(samples) == 1 else samples
        masks = np.asarray(masks)
        keys = masks if ids is None else ids
        found = np.array([self._known.get(self._key(key), -1) for key in keys], np.int64)
        labels = np.empty((len(masks),) + self._labels.shape[1:], self._labels.dtype)
        seconds = np.empty(len(masks), np.float64)
        hit, miss = found >= 0, np.flatnonzero(found < 0)
        labels[hit], seconds[hit] = self._labels[found[hit]], self._seconds[found[hit]]
        if miss.size:
            labels[miss], seconds[miss] = _label(self.task, self.labeller,
                                                 None if images is None else np.asarray(images)[miss],
                                                 masks[miss], [ids[i] for i in miss] if ids else [""] * miss.size)
        self.last_result = SimpleNamespace(seconds=seconds)
        return labels


def vae_diagnostics(vae, images, masks, *, seed: int, task, settings, n_prior: int = 64) -> dict:
    """VAE quality on held-out pairs: reconstruction errors, and the validity gate's rejection
    rate (``task``'s gate under the loop ``settings``) of their reconstructions and of
    ``n_prior`` samples ``G(z), z ~ N(0, I)``."""
    import torch

    from ..models import decode_pairs
    from ..sampling import Proposals

    def gate(images_, masks_):
        return task.passes(Proposals.make(images_, masks_, latent_dim=vae.latent_dim), settings)

    with torch.no_grad():
        mu, _ = vae.encode(torch.from_numpy(np.asarray(images, np.float32)),
                           torch.from_numpy(np.asarray(masks, np.int64)))
    rec_images, rec_masks = decode_pairs(vae, mu)
    prior = torch.randn(n_prior, vae.latent_dim, generator=torch.Generator().manual_seed(seed))
    prior_images, prior_masks = decode_pairs(vae, prior)
    prior_passed, _ = gate(prior_images.numpy(), prior_masks.numpy())
    rec_passed, _ = gate(rec_images.numpy(), rec_masks.numpy())
    return {"vae_image_mse": float(np.mean((rec_images.numpy() - images) ** 2)),
            "vae_mask_error": float(np.mean(rec_masks.numpy() != masks)),
            "vae_reconstruction_rejection": float(1.0 - np.mean(rec_passed)),
            "vae_prior_rejection": float(1.0 - np.mean(prior_passed))}


def load_cohort(out, cohort: int) -> dict:
    with np.load(cohort_dir(out, cohort) / COHORT_FILE, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def loop_config(config: StudyConfig, strategy: str, repeat: int):
    """The :class:`~latentmine.loop.LoopConfig` of one cell; ``config.loop`` overrides the rest."""
    from ..loop import LoopConfig

    settings = dict(
        strategy=strategy, initial=config.sizes[0], per_round=config.per_round,
        rounds=(config.sizes[-1] - config.sizes[0]) // config.per_round,
        # The loop's F guides the acquisition: trained like the study's F from fresh weights in
        # round 0, then warm-started and fine-tuned for ``acquisition_steps`` per round.
        fit_steps=0 if strategy in _F_FREE else config.acquisition_steps,
        fresh_fit_steps=0 if strategy in _F_FREE else config.f_max_steps,
        batch_size=config.batch_size, lr=config.learning_rate, schedule=config.f_schedule,
        weight_decay=config.f_weight_decay, augment=config.f_augment, eval_every=config.f_eval_every,
        patience=config.f_patience, width=config.f_width, seed=config.repeat_seed(repeat))
    return config.study_task().configure(LoopConfig.from_dict({**settings, **config.loop}))


def run_cell(config: StudyConfig, strategy: str, repeat: int, out) -> None:
    """Acquire with ``strategy`` in repeat ``repeat``, then score F at every size of the schedule."""
    from ..loop import Samples, SuggestiveLoop
    from ..loop.rendering import with_cohort_renderer
    from ..models import load_vae
    from ..models.training import VAE_CHECKPOINT

    cap_threads(config.threads)
    cohort = config.cohort_of(repeat)
    prepared = read_result(cohort_marker(out, cohort), config.digest())
    if prepared is None:
        raise RuntimeError(f"cohort {cohort} of {out} is not prepared (run prepare_cohort first)")
    data = load_cohort(out, cohort)
    # The pool goes to the loop unlabelled: a strategy sees a label only once it acquires the sample.
    splits = {name: Samples(data[f"{name}_images"], data[f"{name}_masks"],
                            [str(i) for i in data[f"{name}_ids"]],
                            None if name == "pool" else data[f"{name}_labels"], float(data["pixel_size_mm"]))
              for name in SPLITS}
    settings = loop_config(config, strategy, repeat)
    run_dir = cell_path(out, strategy, repeat).with_suffix("")
    began = perf_counter()
    task = config.study_task()
    # The tool behind the replayed pool labels, for decoded samples (an oracle knows only the pool).
    tool = task.default_labeller(SimpleNamespace(ids=splits["pool"].ids, truth=data["pool_labels"],
                                                 pixel_size_mm=float(data["pixel_size_mm"])))
    labeller = PoolLabels(tool, data["pool_masks"], data["pool_labels"], data["pool_label_seconds"], task=task,
                          ids=splits["pool"].ids)
    generator = with_cohort_renderer(load_vae(cohort_dir(out, cohort) / "vae" / VAE_CHECKPOINT), settings.render,
                                     settings.seed)
    loop = SuggestiveLoop(generator, labeller, pool=splits["pool"], test=splits["validation"],
                          validation=splits["validation"], config=settings, run_dir=run_dir, plots=False, task=task)
    rows = loop.run(progress=False)
    acquisition_seconds = perf_counter() - began
    train, provenance = loop.train_set, loop.provenance
    if len(train) < config.sizes[-1]:
        raise RuntimeError(f"{strategy} repeat {repeat} acquired only {len(train)} valid samples of "
                           f"{config.sizes[-1]} (gate rejections: see {run_dir}/metrics.csv)")
    # Labelling counts at the tool's seconds, replayed pool labels included.
    round_seconds = [sum(row[k] for k in ("t_propose", "t_gate", "label_seconds", "t_train", "t_eval"))
                     for row in rows]
    points, training_seconds = [], 0.0
    for size in config.sizes:
        start = perf_counter()
        scores = shared_point(config, out, repeat, size, train, splits, settings,
                              generated=[row["pool_index"] < 0 for row in provenance])
        training_seconds += perf_counter() - start
        done = next(i for i, row in enumerate(rows) if row["n_train"] >= size)
        points.append({"size": size, **scores,
                       "label_seconds": float(sum(p["label_seconds"] or 0.0 for p in provenance[:size])),
                       "wall_seconds": float(sum(round_seconds[:done + 1]))})
    atomic_write_json(cell_path(out, strategy, repeat), {
        "config_digest": config.digest(), "strategy": strategy, "repeat": repeat,
        "loop_config": settings.to_dict(), "points": points,
        **_test_scale(task, splits["test"]),
        "acquisition_f_steps": [int(row.get("f_steps", 0)) for row in rows],
        "rounds": [{"labelled": row["n_train"],
                    "seconds": {"propose": row["t_propose"] + row["t_gate"], "label": row["label_seconds"],
                                "train_f": row["t_train"], "validate": row["t_eval"]}} for row in rows],
        "seconds": {"acquisition": acquisition_seconds, "evaluation_training": training_seconds},
        "diagnostics": {**prepared["diagnostics"],
                        **acquisition_diagnostics(rows, provenance)}})


def shared_point(config: StudyConfig, out, repeat: int, size: int, train, splits: dict, settings,
                 generated=None) -> dict:
    """Scores of a fresh F on the first ``size`` samples of ``train`` (see :func:`train_fresh_target`).

    F depends only on its training samples and the (repeat, size) seeds, so the
    scores are stored under a fingerprint of those samples and reused by every
    cell that trains on the same ones: the strategies of a repeat share their
    initial samples, and with them the F of the first size.
    """
    fingerprint = hashlib.sha256()
    for part in (train.ids[:size], train.labels[:size]):
        fingerprint.update(np.asarray(part).tobytes())
    path = shared_dir(out) / f"r{repeat}-n{size}-{fingerprint.hexdigest()[:16]}.json"
    stored = _claim_or_wait(path, config.digest())
    if stored is not None:
        return stored["scores"]
    try:
        model, fit = train_fresh_target(config, repeat, size, train, splits["validation"], settings, generated)
        scores = {"iterations": fit.steps, "best_step": fit.best_step,
                  **score(config.study_task(), model, splits["test"], settings),
                  **{f"val_{k}": v for k, v in score(config.study_task(), model, splits["validation"],
                                                     settings).items()}}
        atomic_write_json(path, {"config_digest": config.digest(), "scores": scores})
    finally:
        path.with_suffix(".lock").unlink(missing_ok=True)
    return scores


def _claim_or_wait(path, digest: str, poll_seconds: float = 2.0):
    """The stored result at ``path``, or ``None`` once this process holds its lock and must compute it.

    A cell that finds another cell computing the same F waits for its result
    instead of training it twice; when that cell fails (its lock vanishes
    without a result), this one takes over. The runner removes stale locks
    before a study starts (:func:`latentmine.study.runner.clear_locks`).
    """
    lock = path.with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        stored = read_result(path, digest)
        if stored is not None:
            return stored
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return read_result(path, digest)  # finished between the check and the claim
        except FileExistsError:
            sleep(poll_seconds)


def train_fresh_target(config: StudyConfig, repeat: int, size: int, train, validation, settings, generated=None):
    """F trained from scratch on the first ``size`` samples; identical start for every strategy.

    Every F follows the study's recipe (:meth:`StudyConfig.recipe`): at most
    ``f_max_steps`` steps, early stopping on the validation split with the
    best weights restored. Initial weights, batches and augmentation draws
    depend only on (repeat, size). Returns the model and its
    :class:`~latentmine.models.FitResult` (steps run, best step). ``generated``
    flags the decoded samples of ``train`` (for the mixed-training settings).
    """
    import torch

    from ..models import fit_target

    task = config.study_task()
    seed = int(np.random.SeedSequence([config.repeat_seed(repeat), size]).generate_state(1)[0])
    torch.manual_seed(seed)
    model = task.make_target(settings)
    # the loop's mixed-training settings (``loop.generated_share`` ...) apply to the scored F as well
    recipe = replace(config.recipe(), **settings.mixed_training())
    fit = fit_target(model, train.images[:size], train.masks[:size], train.labels[:size], recipe=recipe,
                     seed=seed, validation=validation, loss=task.make_loss(settings), label_scale=task.scale(settings),
                     generated=None if generated is None else np.asarray(generated[:size], bool))
    return model, fit


def _test_scale(task, test) -> dict:
    """The stress task's test-split mean PSS (the scale of its PSS error); nothing for other tasks."""
    if task.name != DEFAULT_TASK:
        return {}
    from .metrics import label_pss_mean

    return {"test_pss_mean_kpa": label_pss_mean(test.labels, test.masks, test.pixel_size_mm)}


def score(task, model, split, settings) -> dict:
    """``task``'s study metrics of ``model`` on a labelled split."""
    from ..models import predict

    return task.metrics(predict(model, split.images, split.masks, label_scale=task.scale(settings)), split)


def acquisition_diagnostics(rows: list, provenance: list) -> dict:
    """Gate rejection rate of the acquisition rounds and the share of synthetic samples."""
    later = [row for row in rows if row["round"] > 0]
    proposed = sum(row["rejected"] + row["n_acquired"] for row in later)
    return {"gate_rejection": sum(row["rejected"] for row in later) / proposed if proposed else 0.0,
            "synthetic_share": float(np.mean([p["pool_index"] < 0 for p in provenance]))}
