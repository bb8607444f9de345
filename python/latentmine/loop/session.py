"""Runs backed by files: datasets on disk or a task's generated data, a VAE checkpoint and a named labeller.

What the CLI uses. A run records its sources (data paths or the generator
settings, the VAE, the labeller name and the task) in ``config.json``, so
:func:`open_run` can rebuild it after a kill.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from ..tasks import DEFAULT_TASK, load_task
from .config import LoopConfig
from .core import SuggestiveLoop
from .rendering import with_cohort_renderer
from .samples import Samples, as_samples

#: Labeller names the CLI accepts besides ``MODULE:FACTORY``.
LABELLERS = ("fea", "task", "none")


def make_labeller(name: str, pixel_size_mm: float, *, task=None, data=None):
    """``"fea"``: the finite-element tool; ``"task"``: the task's default tool for ``data``;
    ``"none"``: label by hand; ``"MODULE:FACTORY"``: ``FACTORY()``."""
    if name == "none":
        return None
    if name == "fea":
        from ..fea import Labeller
        return Labeller(pixel_size_mm)
    if name == "task":
        task = load_task(task or DEFAULT_TASK)
        if task.default_labeller is None:
            raise ValueError(f"task {task.name!r} has no default labeller; pass --labeller MODULE:FACTORY or none")
        return task.default_labeller(data)
    module, sep, attr = name.partition(":")
    if not sep:
        raise ValueError(f"labeller must be one of {LABELLERS} or MODULE:FACTORY, got {name!r}")
    try:
        return getattr(importlib.import_module(module), attr)()
    except (ImportError, AttributeError) as error:
        raise ValueError(f"labeller {name!r} could not be loaded: {error}") from None


def _load(path, what: str):
    from ..data import load_dataset

    if not Path(path).exists():
        raise FileNotFoundError(f"{what} dataset {path} does not exist")
    return as_samples(load_dataset(path), what)


def create_run(run_dir, *, pool, test, vae, config: LoopConfig, labeller: str = "fea", plots: bool = True,
               task: str = DEFAULT_TASK):
    """A run over the datasets at ``pool`` and ``test`` with the VAE checkpoint ``vae``; sources are recorded."""
    from ..models import load_vae

    pool_samples, test_samples = _load(pool, "pool"), _load(test, "test")
    sources = {"pool": str(Path(pool).resolve()), "test": str(Path(test).resolve()),
               "vae": str(Path(vae).resolve()), "labeller": labeller, "task": task}
    pixel = pool_samples.pixel_size_mm
    generator = with_cohort_renderer(load_vae(vae), config.render, config.seed)
    return SuggestiveLoop(generator, make_labeller(labeller, pixel, task=task, data=pool_samples),
                          pool=pool_samples, test=test_samples, config=config, run_dir=run_dir, sources=sources,
                          plots=plots, task=task)


def generated_run(run_dir, *, task: str, config: LoopConfig, n_pool: int = 200, n_test: int = 50, size: int = 32,
                  vae_epochs: int = 20, latent_dim: int = 16, labeller: str = "task", plots: bool = True):
    """A run on ``task``'s built-in data (``n_pool + n_test`` samples of ``size``², seed ``config.seed``).

    The VAE is trained once into ``run_dir/vae/`` and reused when the run is reopened.
    """
    from ..models import load_vae, train_vae
    from ..models.training import VAE_CHECKPOINT

    spec, task_object = task, load_task(task)
    if task_object.generate is None:
        raise ValueError(f"task {task_object.name!r} has no data generator; pass --pool, --test and --vae")
    data = task_object.generate(n_pool + n_test, size, config.seed)
    pixel = getattr(data, "pixel_size_mm", None)
    pool = Samples(data.images[:n_pool], data.masks[:n_pool], list(data.ids[:n_pool]), pixel_size_mm=pixel)
    test = Samples(data.images[n_pool:], data.masks[n_pool:], list(data.ids[n_pool:]), pixel_size_mm=pixel)
    vae_path = Path(run_dir) / "vae" / VAE_CHECKPOINT
    if vae_path.exists():
        vae = load_vae(vae_path)
    else:
        vae = train_vae(pool.images, pool.masks, latent_dim=latent_dim, width=8, epochs=vae_epochs, seed=config.seed,
                        mask_classes=task_object.vae_mask_classes, out_dir=vae_path.parent)
    sources = {"generate": {"n_pool": n_pool, "n_test": n_test, "size": size, "vae_epochs": vae_epochs,
                            "latent_dim": latent_dim}, "vae": str(vae_path.resolve()), "labeller": labeller,
               "task": spec}
    return SuggestiveLoop(vae, make_labeller(labeller, pixel, task=task_object, data=data), pool=pool, test=test,
                          config=task_object.configure(config), run_dir=run_dir, sources=sources, plots=plots,
                          task=task_object)


def open_run(run_dir, *, labeller: str | None = None, plots: bool = True, device: str = "cpu") -> SuggestiveLoop:
    """Reopen a run made by :func:`create_run` or :func:`generated_run` from its ``config.json``
    (``labeller`` overrides the recorded one)."""
    from .store import RunStore

    snapshot = RunStore(run_dir).read_config()
    if snapshot is None:
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    sources = snapshot.get("sources") or {}
    config = LoopConfig.from_dict({**snapshot["config"], "device": device})
    task = sources.get("task", DEFAULT_TASK)
    if "generate" in sources:
        return generated_run(run_dir, task=task, config=config, labeller=labeller or sources["labeller"], plots=plots,
                             **sources["generate"])
    if not {"pool", "test", "vae"} <= set(sources):
        raise ValueError(f"{run_dir}/config.json does not name its pool, test and vae (made from Python?)")
    return create_run(run_dir, pool=sources["pool"], test=sources["test"], vae=sources["vae"], config=config,
                      labeller=labeller or sources.get("labeller", "fea"), plots=plots, task=task)


def summary_table(rows: list[dict], metrics=("mae", "pss_error")) -> str:
    """The per-round metrics as an aligned text table, with the ``test_`` columns of ``metrics``."""
    columns = [("round", "{}"), ("strategy", "{}"), ("n_train", "{}"), ("rejected", "{}"),
               *((f"test_{m}", "{:.4g}" if m not in ("mae", "pss_error") else "{:.2f}") for m in metrics),
               ("label_seconds", "{:.2f}"), ("t_train", "{:.2f}")]
    table = [[name for name, _ in columns]] + [[fmt.format(row[name]) for name, fmt in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in table)
