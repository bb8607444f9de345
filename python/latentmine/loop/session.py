"""Runs backed by files: datasets on disk, a VAE checkpoint and a named labeller (what the CLI uses)."""
from __future__ import annotations

import importlib
from pathlib import Path

from .config import LoopConfig
from .core import SuggestiveLoop
from .rendering import with_cohort_renderer
from .samples import as_samples

#: Labeller names the CLI accepts besides ``MODULE:FACTORY``.
LABELLERS = ("fea", "none")


def make_labeller(name: str, pixel_size_mm: float):
    """``"fea"``: the finite-element tool; ``"none"``: label by hand; ``"MODULE:FACTORY"``: ``FACTORY()``."""
    if name == "none":
        return None
    if name == "fea":
        from ..fea import Labeller
        return Labeller(pixel_size_mm)
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


def create_run(run_dir, *, pool, test, vae, config: LoopConfig, labeller: str = "fea", plots: bool = True):
    """A run over the datasets at ``pool`` and ``test`` with the VAE checkpoint ``vae``; sources are recorded."""
    from ..models import load_vae

    pool_samples, test_samples = _load(pool, "pool"), _load(test, "test")
    sources = {"pool": str(Path(pool).resolve()), "test": str(Path(test).resolve()),
               "vae": str(Path(vae).resolve()), "labeller": labeller}
    pixel = pool_samples.pixel_size_mm
    generator = with_cohort_renderer(load_vae(vae), config.render, config.seed)
    return SuggestiveLoop(generator, make_labeller(labeller, pixel), pool=pool_samples, test=test_samples,
                          config=config, run_dir=run_dir, sources=sources, plots=plots)


def open_run(run_dir, *, labeller: str | None = None, plots: bool = True, device: str = "cpu") -> SuggestiveLoop:
    """Reopen a run made by :func:`create_run` from its ``config.json`` (``labeller`` overrides the recorded one)."""
    from .store import RunStore

    snapshot = RunStore(run_dir).read_config()
    if snapshot is None:
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    sources = snapshot.get("sources") or {}
    if not {"pool", "test", "vae"} <= set(sources):
        raise ValueError(f"{run_dir}/config.json does not name its pool, test and vae (made from Python?)")
    return create_run(run_dir, pool=sources["pool"], test=sources["test"], vae=sources["vae"],
                      config=LoopConfig.from_dict({**snapshot["config"], "device": device}),
                      labeller=labeller or sources.get("labeller", "fea"), plots=plots)


def summary_table(rows: list[dict]) -> str:
    """The per-round metrics as an aligned text table."""
    columns = [("round", "{}"), ("strategy", "{}"), ("n_train", "{}"), ("rejected", "{}"),
               ("test_mae", "{:.2f}"), ("test_pss_error", "{:.2f}"), ("label_seconds", "{:.2f}"),
               ("t_train", "{:.2f}")]
    table = [[name for name, _ in columns]] + [[fmt.format(row[name]) for name, fmt in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in table)
