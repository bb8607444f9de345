"""From cell results to the study's table (``results.csv``) and summary (``summary.json``).

A cell result is the JSON a cell writes: ``strategy``, ``repeat``, ``points``
(one dict per training-set size: ``size`` and one value per metric of
:data:`~latentmine.study.design.METRICS`, plus ``val_*`` validation metrics),
``rounds`` (one dict per acquisition round: ``labelled`` and ``seconds`` per
phase) and ``diagnostics`` (scalars, such as the VAE reconstruction error).
"""
from __future__ import annotations

import csv
import io
import math

import numpy as np

from ..storage import atomic_write_text
from .design import BASELINE, COST_METRICS, METHOD, METRICS, StudyConfig
from .stats import area_under_curve, labels_to_reach, mean_std, paired_wilcoxon

GOAL_FRACTION = 0.6
GOAL_SMALLEST = 3


def result_rows(cells: list) -> list:
    """One row per (strategy, size, repeat, metric), in a stable order."""
    rows = []
    for cell in sorted(cells, key=lambda c: (c["strategy"], c["repeat"])):
        for point in cell["points"]:
            for metric in sorted(k for k in point if k != "size"):
                rows.append({"strategy": cell["strategy"], "size": int(point["size"]),
                             "repeat": int(cell["repeat"]), "metric": metric,
                             "value": float(point[metric])})
    return rows


def write_results_csv(path, cells: list) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["strategy", "size", "repeat", "metric", "value"],
                            lineterminator="\n")
    writer.writeheader()
    for row in result_rows(cells):
        writer.writerow({**row, "value": repr(row["value"])})
    atomic_write_text(path, buffer.getvalue())


def curves(cells: list, strategy: str, metric: str, sizes) -> np.ndarray:
    """``(repeats, sizes)`` values of ``metric`` for ``strategy``, rows ordered by repeat."""
    rows = []
    for cell in sorted((c for c in cells if c["strategy"] == strategy), key=lambda c: c["repeat"]):
        by_size = {int(p["size"]): p[metric] for p in cell["points"]}
        missing = [s for s in sizes if s not in by_size]
        if missing:
            raise ValueError(f"cell {strategy} repeat {cell['repeat']} lacks sizes {missing}")
        rows.append([float(by_size[s]) for s in sizes])
    return np.asarray(rows, dtype=float)


def summarise(config: StudyConfig, cells: list, *, command: str = "") -> dict:
    """Every number the report quotes, as JSON-ready data."""
    sizes = list(config.sizes)
    strategies = list(config.strategies)
    task = config.study_task()
    info = {**task.metric_info, **COST_METRICS}
    headline, lower = task.headline, info[task.headline][1]
    panels = list(task.panels)  # tested, integrated and plotted
    method = METHOD if METHOD in strategies else next((s for s in strategies if s != BASELINE), None)
    data = {name: {m: curves(cells, name, m, sizes) for m in _metric_names(cells, info)} for name in strategies}
    # tested and integrated; cells written before a compared metric existed simply lack it
    compared = panels + [m for m in task.compared if m not in panels and m in data[BASELINE]]
    summary = {"command": command, "config": config.to_dict(), "digest": config.digest(),
               "sizes": sizes, "baseline": BASELINE, "method": method, "task": task.describe(),
               "metrics": {k: list(v) for k, v in info.items()}, "panels": panels,
               "curves": {}, "auc": {}, "wilcoxon": {}, "labels_to_reach": {},
               "timing": {}, "diagnostics": {}}
    for name in strategies:
        summary["curves"][name] = {}
        for metric, values in data[name].items():
            mean, std = mean_std(values)
            summary["curves"][name][metric] = {"mean": mean.tolist(), "std": std.tolist(),
                                               "n": int(len(values))}
        summary["auc"][name] = {}
        for metric in compared:
            per_repeat = [area_under_curve(sizes, row) for row in data[name][metric]]
            mean, std = mean_std(np.asarray(per_repeat)[:, None])
            summary["auc"][name][metric] = {"mean": float(mean[0]), "std": float(std[0]),
                                            "per_repeat": per_repeat}
        summary["timing"][name] = _timing(c for c in cells if c["strategy"] == name)
        summary["diagnostics"][name] = _diagnostics(c for c in cells if c["strategy"] == name)
        loop = next((c.get("loop_config") for c in cells if c["strategy"] == name), None)
        if loop:  # the acquisition settings, the same in every repeat but for the seed
            summary.setdefault("loop_config", {})[name] = {k: v for k, v in loop.items() if k != "seed"}

    baseline_final = data[BASELINE][headline][:, -1]
    target = float(baseline_final.mean())
    summary["headline"] = {"metric": headline, "label": info[headline][0], "lower_is_better": lower,
                           "target": target}
    if headline == "mse_kpa2":  # the key every stress study has carried
        summary["target_mse_kpa2"] = target
    for name in strategies:
        mean_curve = data[name][headline].mean(axis=0)
        labels = labels_to_reach(sizes, mean_curve, target, lower_is_better=lower)
        per_repeat = [labels_to_reach(sizes, row, goal, lower_is_better=lower)
                      for row, goal in zip(data[name][headline], baseline_final)]
        summary["labels_to_reach"][name] = {
            "labels": labels, "fraction_of_baseline": None if labels is None else labels / sizes[-1],
            "per_repeat": per_repeat}
        if name != BASELINE:
            summary["wilcoxon"][name] = {
                metric: [{"size": size, **paired_wilcoxon(data[name][metric][:, k],
                                                          data[BASELINE][metric][:, k],
                                                          lower_is_better=info[metric][1])}
                         for k, size in enumerate(sizes)]
                for metric in compared}
        if name != BASELINE:  # the whole curve, paired: one number per repeat and strategy
            for metric, row in summary["auc"][name].items():
                row["vs_baseline"] = paired_wilcoxon(row["per_repeat"],
                                                     summary["auc"][BASELINE][metric]["per_repeat"],
                                                     lower_is_better=info[metric][1])
    if method is not None:
        summary["goal"] = _goal(summary, sizes, method)
    summary.update(_training_and_quality(cells, data, sizes))
    return _finite(summary)


def _training_and_quality(cells: list, data: dict, sizes: list) -> dict:
    """Steps F trained per size, the test split's mean PSS, and whether the study could discriminate.

    The baseline's slope (mean test MSE change per label from the smallest to
    the largest size) and its F quality (MSE, PSS error against the test PSS)
    tell whether F learned from more data at all: a flat baseline curve
    leaves no room for any strategy to show an effect.
    """
    steps = {}
    for name, metrics in data.items():
        if "iterations" in metrics:
            values = metrics["iterations"]
            steps[name] = {"mean": values.mean(axis=0).tolist(), "min": values.min(axis=0).tolist(),
                           "max": values.max(axis=0).tolist()}
            if "best_step" in metrics:  # the evaluation whose weights were kept
                steps[name]["best_mean"] = metrics["best_step"].mean(axis=0).tolist()
    by_repeat = {int(c["repeat"]): float(c["test_pss_mean_kpa"]) for c in cells if "test_pss_mean_kpa" in c}
    pss = {"per_repeat": [by_repeat[r] for r in sorted(by_repeat)],
           "mean": float(np.mean(list(by_repeat.values()))) if by_repeat else None}
    if "mse_kpa2" not in data[BASELINE]:  # the stress task's quality check
        return {"steps_per_size": steps}
    mse = data[BASELINE]["mse_kpa2"].mean(axis=0)
    quality = {"sizes": [sizes[0], sizes[-1]], "mse_kpa2": [float(mse[0]), float(mse[-1])],
               "slope_kpa2_per_label": (float(mse[-1] - mse[0]) / (sizes[-1] - sizes[0])
                                        if len(sizes) > 1 else None)}
    if "pss_abs_err_kpa" in data[BASELINE] and pss["mean"]:
        error = data[BASELINE]["pss_abs_err_kpa"].mean(axis=0)
        quality["pss_abs_err_kpa"] = [float(error[0]), float(error[-1])]
        quality["pss_error_share"] = [float(error[0]) / pss["mean"], float(error[-1]) / pss["mean"]]
    return {"steps_per_size": steps, "test_pss_mean_kpa": pss, "baseline_quality": quality}


def _metric_names(cells: list, info: dict) -> list:
    names = set.intersection(*({k for p in c["points"] for k in p if k != "size"} for c in cells))
    return sorted(names, key=lambda m: (m.startswith("val_"), list(info).index(m.removeprefix("val_"))
                                        if m.removeprefix("val_") in info else len(info), m))


def metric_info(summary: dict) -> dict:
    """``name -> (label, lower is better)`` of a summary's metrics (stress metrics for summaries
    written before tasks existed)."""
    return {k: tuple(v) for k, v in summary.get("metrics", METRICS).items()}


def headline_of(summary: dict) -> dict:
    """The summary's headline metric: ``metric``, ``label``, ``short`` name, ``unit``, ``lower_is_better``, ``target``."""
    head = summary.get("headline") or {"metric": "mse_kpa2", "label": METRICS["mse_kpa2"][0],
                                       "lower_is_better": True, "target": summary.get("target_mse_kpa2")}
    name, _, unit = head["label"].partition(" (")
    return {**head, "short": name.removeprefix("test "), "name": name, "unit": unit.rstrip(")")}


def _timing(cells) -> dict:
    """Mean seconds per acquisition round and phase, plus each cell's totals."""
    phases, rounds, totals = {}, [], {}
    for cell in cells:
        rounds.append(len(cell["rounds"]))
        for record in cell["rounds"]:
            for phase, seconds in record["seconds"].items():
                phases.setdefault(phase, []).append(float(seconds))
        for key, seconds in cell.get("seconds", {}).items():
            totals.setdefault(key, []).append(float(seconds))
    return {"rounds_per_cell": float(np.mean(rounds)) if rounds else 0.0,
            "per_round_seconds": {p: float(np.mean(v)) for p, v in sorted(phases.items())},
            "cell_seconds": {k: float(np.mean(v)) for k, v in sorted(totals.items())}}


def _diagnostics(cells) -> dict:
    values = {}
    for cell in cells:
        for key, value in cell.get("diagnostics", {}).items():
            values.setdefault(key, []).append(float(value))
    return {k: {"mean": float(np.mean(v)), "std": float(np.std(v))} for k, v in sorted(values.items())}


def _goal(summary: dict, sizes: list, method_name: str) -> dict:
    """The issue's success criterion for the method against the random baseline, on the headline metric."""
    head = summary["headline"]
    fraction = summary["labels_to_reach"][method_name]["fraction_of_baseline"]
    method = summary["curves"][method_name][head["metric"]]["mean"]
    baseline = summary["curves"][BASELINE][head["metric"]]["mean"]
    smallest = sizes[:GOAL_SMALLEST]
    beats = [bool(method[k] < baseline[k] if head["lower_is_better"] else method[k] > baseline[k])
             for k in range(len(smallest))]
    fraction_ok = fraction is not None and fraction <= GOAL_FRACTION
    return {"fraction_of_labels": fraction, "fraction_required": GOAL_FRACTION,
            "fraction_ok": fraction_ok, "smallest_sizes": smallest, "beats_at_smallest": beats,
            "met": bool(fraction_ok and all(beats))}


def _finite(obj):
    """NaN and infinities become ``None`` so that ``summary.json`` is strict JSON."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
