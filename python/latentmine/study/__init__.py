"""Label-efficiency study: does gradient-guided sampling need fewer labels than random?

``latentmine study --preset NAME --out DIR`` (or :func:`run_study_outputs`) runs
every (strategy, repeat) cell of a :class:`StudyConfig`, resumably, and writes
into ``DIR``:

* ``results.csv`` — one row per (strategy, size, repeat, metric);
* ``summary.json`` — curves (mean, std), labels-to-reach, areas under the
  curves, paired Wilcoxon tests, time breakdown, the configuration;
* ``learning_curves.png`` — test MSE and accuracy against the training size;
* ``report.md`` — the verdict and tables, from ``summary.json``.

Design and metric definitions: :mod:`latentmine.study.design`,
:mod:`latentmine.study.cells`; documentation: ``docs/study.md``.
"""
from __future__ import annotations

from pathlib import Path

from ..storage import atomic_write_json
from .design import ALL_STRATEGIES, BASELINE, METHOD, METRICS, PRESETS, STRATEGY_SETS, StudyConfig, preset
from .plots import plot_learning_curves
from .report import write_report
from .runner import SerialExecutor, run_study
from .summary import summarise, write_results_csv

__all__ = ["StudyConfig", "PRESETS", "preset", "ALL_STRATEGIES", "STRATEGY_SETS", "BASELINE", "METHOD", "METRICS",
           "SerialExecutor", "run_study", "run_study_outputs", "write_outputs"]


def write_outputs(config: StudyConfig, out, cells: list, *, command: str = "") -> dict:
    """Write ``results.csv``, ``summary.json``, ``learning_curves.png`` and ``report.md``."""
    out = Path(out)
    write_results_csv(out / "results.csv", cells)
    summary = summarise(config, cells, command=command)
    atomic_write_json(out / "summary.json", summary)
    plot_learning_curves(summary, out / "learning_curves.png")
    write_report(summary, out / "report.md")
    return summary


def run_study_outputs(config: StudyConfig, out, *, executor=None, progress: bool = True,
                      command: str = "", cell_fn=None, prepare_fn=None) -> dict:
    """Run (or resume) the study into ``out`` and write its outputs; return the summary.

    ``cell_fn`` and ``prepare_fn`` default to the real cells of
    :mod:`latentmine.study.cells`; tests substitute cheap ones.
    """
    if cell_fn is None or prepare_fn is None:
        from . import cells
        cell_fn = cell_fn or cells.run_cell
        prepare_fn = prepare_fn or cells.prepare_cohort
    results = run_study(config, out, cell_fn=cell_fn, prepare_fn=prepare_fn, executor=executor,
                        progress=progress)
    return write_outputs(config, out, results, command=command)
