"""``report.md``: the study's verdict, tables and configuration, written from ``summary.json``."""
from __future__ import annotations

import json

from ..storage import atomic_write_text
from .summary import headline_of, metric_info


def render_report(summary: dict) -> str:
    """Markdown text of the report; every number comes from ``summary``."""
    sections = [_header(summary), _verdict(summary), _scoreboard(summary), _quality(summary), _curves(summary),
                _labels(summary), _auc(summary), _wilcoxon(summary), _timing(summary), _diagnostics(summary),
                _configuration(summary)]
    return "\n\n".join(s for s in sections if s) + "\n"


def write_report(summary: dict, path) -> None:
    atomic_write_text(path, render_report(summary))


def _num(x, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    return f"{x:.{digits}g}" if abs(x) < 1e5 else f"{x:.3e}"


def _header(s: dict) -> str:
    cfg = s["config"]
    shared = ("one cohort, one labelled test set of {t} samples and one VAE serve every repeat"
              if cfg.get("shared_cohort") else
              "repeat *i* of every strategy shares its cohort, its labelled test set of {t} samples "
              "and its VAE").format(t=cfg["test_size"])
    lines = [f"# Study `{cfg['name']}`: labels needed by {', '.join(cfg['strategies'])}",
             "",
             f"Strategies {', '.join(f'`{n}`' for n in cfg['strategies'])} on training-set sizes "
             f"{', '.join(map(str, s['sizes']))}, {cfg['repeats']} paired repeats ({shared}). "
             f"At each size a fresh F is trained from the same initial weights and seeds for every "
             f"strategy on the first *size* acquired samples, by one recipe: at most "
             f"{cfg['f_max_steps']} steps of {cfg['batch_size']} samples drawn with replacement, "
             f"{cfg['f_schedule']} learning rate peaking at {cfg['learning_rate']:g}, weight decay "
             f"{cfg['f_weight_decay']:g}, augmentation {cfg['f_augment']}, early stopping on the "
             f"validation split (every {cfg['f_eval_every']} steps, patience {cfg['f_patience']}, best "
             "weights restored); it is then evaluated on the held-out test set, which no choice ever saw."]
    if s.get("command"):
        lines += ["", "Reproduce with:", "", "```", s["command"], "```"]
    return "\n".join(lines)


def _verdict(s: dict) -> str:
    goal = s.get("goal")
    if goal is None:
        return ""
    method, base, head = s["method"], s["baseline"], headline_of(s)
    unit = f" {head['unit']}" if head["unit"] else ""
    fraction = goal["fraction_of_labels"]
    reach = (f"needs {_num(s['labels_to_reach'][method]['labels'])} labels "
             f"({100 * fraction:.0f}% of the baseline's {s['sizes'][-1]})" if fraction is not None
             else f"never reaches it within {s['sizes'][-1]} labels")
    mse, metric = s["curves"], head["metric"]
    beats = ", ".join(
        f"{size}: {_num(mse[method][metric]['mean'][k])} vs {_num(mse[base][metric]['mean'][k])}"
        f" ({'better' if won else 'not better'})"
        for k, (size, won) in enumerate(zip(goal["smallest_sizes"], goal["beats_at_smallest"])))
    return "\n".join([
        "## Verdict", "",
        f"**Goal {'met' if goal['met'] else 'NOT met'}.** Goal: `{method}` reaches `{base}`'s final "
        f"mean {head['name']} ({_num(head['target'])}{unit}) with at most "
        f"{100 * goal['fraction_required']:.0f}% of its labels, and has a "
        f"{'lower' if head['lower_is_better'] else 'higher'} mean {head['name']} at each "
        "of the three smallest sizes.", "",
        f"- Labels: `{method}` {reach}.",
        f"- Smallest sizes, mean {head['name']}{' in' + unit if unit else ''} (`{method}` vs `{base}`): {beats}."])


def _scoreboard(s: dict) -> str:
    """One line per strategy against the baseline on the headline metric: the table a reader wants first."""
    base, head = s["baseline"], headline_of(s)
    metric, unit = head["metric"], f" {head['unit']}" if head["unit"] else ""
    others = [n for n in s["config"]["strategies"] if n != base]  # the run's order, also from a reloaded JSON
    if not others:
        return ""
    lines = [f"## Every strategy against `{base}`", "",
             f"On the {head['name']}: the labels needed to reach `{base}`'s final mean "
             f"({_num(head['target'])}{unit}; share of its {s['sizes'][-1]} labels), the area under the "
             "curve (mean ± std over repeats), and paired Wilcoxon tests against the baseline over the "
             "whole curve (the per-repeat areas) and at each size (*wins*/repeats, p).", "",
             f"| strategy | labels to reach | AUC{unit} | AUC vs `{base}` | "
             + " | ".join(f"{size} labels" for size in s["sizes"]) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(s["sizes"])]
    for name in [base, *others]:
        reach, auc = s["labels_to_reach"][name], s["auc"][name][metric]
        share = reach["fraction_of_baseline"]
        labels = "n/a" if reach["labels"] is None else f"{_num(reach['labels'])} ({100 * share:.0f}%)"
        vs = auc.get("vs_baseline")
        cells = ["–" for _ in s["sizes"]] if name == base else [
            f"{t['wins']}/{t['n']}, {_num(t['p'], 2)}" for t in s["wilcoxon"][name][metric]]
        lines.append(f"| {name} | {labels} | {_num(auc['mean'])} ± {_num(auc['std'], 2)} | "
                     + ("–" if vs is None else f"{vs['wins']}/{vs['n']}, {_num(vs['p'], 2)}") + " | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def _quality(s: dict) -> str:
    """Could the study discriminate? The baseline's slope, F's quality and the steps trained."""
    q = s.get("baseline_quality")
    if not q:
        return ""
    (first, last), (m0, m1) = q["sizes"], q["mse_kpa2"]
    lines = ["## Could this study discriminate?", "",
             f"- `{s['baseline']}`'s mean test MSE goes from {_num(m0)} kPa² at {first} labels to {_num(m1)} "
             f"kPa² at {last}: a slope of {_num(q['slope_kpa2_per_label'])} kPa² per label."]
    pss = s.get("test_pss_mean_kpa") or {}
    if q.get("pss_abs_err_kpa") and pss.get("mean"):
        e0, e1 = q["pss_abs_err_kpa"]
        lines.append(f"- Its mean absolute PSS error is {_num(e0)} kPa at {first} labels and {_num(e1)} kPa at "
                     f"{last}, {100 * q['pss_error_share'][0]:.0f}% and {100 * q['pss_error_share'][1]:.0f}% of "
                     f"the test split's mean PSS ({_num(pss['mean'])} kPa; per repeat "
                     f"{', '.join(_num(v) for v in pss['per_repeat'])}).")
    steps = s.get("steps_per_size") or {}
    if steps:
        lines += ["", "Optimiser steps F trained per size (early stopping; mean [min–max] over repeats; *best*: "
                  "mean step of the kept weights):", "",
                  "| size | " + " | ".join(steps) + " |", "|---:|" + "---:|" * len(steps)]
        for k, size in enumerate(s["sizes"]):
            lines.append(f"| {size} | " + " | ".join(
                f"{v['mean'][k]:,.0f} [{v['min'][k]:,.0f}–{v['max'][k]:,.0f}]"
                + (f", best {v['best_mean'][k]:,.0f}" if "best_mean" in v else "") for v in steps.values()) + " |")
    return "\n".join(lines)


def _curves(s: dict) -> str:
    names, info = list(s["curves"]), metric_info(s)
    lines = ["## Learning curves", "", "![learning curves](learning_curves.png)", "",
             "Mean ± sample standard deviation over repeats, test split."]
    for metric in info:  # the task's metrics in its order, then the costs
        if metric not in s["curves"][names[0]]:
            continue
        lines += ["", f"**{info[metric][0]}**", "", "| size | " + " | ".join(names) + " |",
                  "|---:|" + "---:|" * len(names)]
        for k, size in enumerate(s["sizes"]):
            cells = [f"{_num(s['curves'][n][metric]['mean'][k])} ± {_num(s['curves'][n][metric]['std'][k], 2)}"
                     for n in names]
            lines.append(f"| {size} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _labels(s: dict) -> str:
    head = headline_of(s)
    unit = f" {head['unit']}" if head["unit"] else ""
    lines = [f"## Labels needed to reach the baseline's final {head['short']}", "",
             f"Target: the `{s['baseline']}` baseline's mean {head['name']} at {s['sizes'][-1]} labels, "
             f"{_num(head['target'])}{unit}. Labels needed: the size from which a strategy's "
             f"mean curve stays at or {'below' if head['lower_is_better'] else 'above'} the target, "
             "interpolated linearly between schedule sizes; "
             "per-repeat values use that repeat's own curves. *n/a*: not reached within the schedule.", "",
             "| strategy | labels (mean curve) | share of baseline labels | per repeat |",
             "|---|---:|---:|---|"]
    for name, row in s["labels_to_reach"].items():
        share = row["fraction_of_baseline"]
        lines.append(f"| {name} | {_num(row['labels'])} | "
                     f"{'n/a' if share is None else f'{100 * share:.0f}%'} | "
                     f"{', '.join(_num(v) for v in row['per_repeat'])} |")
    return "\n".join(lines)


def _auc(s: dict) -> str:
    metrics = list(next(iter(s["auc"].values())))
    lines = ["## Area under the learning curve", "",
             "Trapezoidal area over the size axis divided by the size range (the curve's average "
             "level over the schedule), per repeat, then mean ± std. Lower is better for MSE, "
             "higher for accuracy.", "",
             "| strategy | " + " | ".join(metric_info(s)[m][0] for m in metrics) + " |",
             "|---|" + "---:|" * len(metrics)]
    for name, row in s["auc"].items():
        lines.append(f"| {name} | " + " | ".join(f"{_num(row[m]['mean'])} ± {_num(row[m]['std'], 2)}"
                                                 for m in metrics) + " |")
    return "\n".join(lines)


def _wilcoxon(s: dict) -> str:
    if not s["wilcoxon"]:
        return ""
    n = s["config"]["repeats"]
    lines = ["## Paired Wilcoxon signed-rank tests", "",
             f"Each strategy against `{s['baseline']}` at each size, pairing repeat *i* with repeat "
             f"*i* (`scipy.stats.wilcoxon`, two-sided, exact). With {n} repeats the smallest "
             f"attainable two-sided p-value is 2/2^{n} = {2 / 2 ** n:.4g}"
             + (", so no size can reach p < 0.05" if 2 / 2 ** n >= 0.05 else "")
             + ("; p = 0.0625 means that every repeat moved the same way, as strong as five repeats "
                "can show." if n == 5 else ".")
             + " *wins*: repeats where the strategy is better (lower MSE, higher accuracy)."]
    for name, by_metric in s["wilcoxon"].items():
        for metric, tests in by_metric.items():
            lines += ["", f"`{name}` vs `{s['baseline']}`, {metric_info(s)[metric][0]}:", "",
                      "| size | median difference | wins | p |", "|---:|---:|---:|---:|"]
            for t in tests:
                lines.append(f"| {t['size']} | {_num(t['median_difference'])} | {t['wins']}/{t['n']} | "
                             f"{_num(t['p'])} |")
    return "\n".join(lines)


def _timing(s: dict) -> str:
    phases = sorted({p for t in s["timing"].values() for p in t["per_round_seconds"]})
    totals = sorted({k for t in s["timing"].values() for k in t["cell_seconds"]})
    lines = ["## Time", "", "Mean seconds per acquisition round, by phase, and per cell in total.",
             "", "| strategy | rounds | " + " | ".join(f"{p} /round" for p in phases)
             + "".join(f" | {k}" for k in totals) + " |",
             "|---|---:|" + "---:|" * (len(phases) + len(totals))]
    for name, t in s["timing"].items():
        lines.append(f"| {name} | {_num(t['rounds_per_cell'])} | "
                     + " | ".join(_num(t["per_round_seconds"].get(p)) for p in phases)
                     + "".join(f" | {_num(t['cell_seconds'].get(k))}" for k in totals) + " |")
    return "\n".join(lines)


def _diagnostics(s: dict) -> str:
    keys = sorted({k for d in s["diagnostics"].values() for k in d})
    if not keys:
        return ""
    lines = ["## Diagnostics", "", "Mean (std) over repeats.", "",
             "| strategy | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for name, d in s["diagnostics"].items():
        lines.append(f"| {name} | " + " | ".join(
            f"{_num(d[k]['mean'])} ({_num(d[k]['std'], 2)})" if k in d else "" for k in keys) + " |")
    return "\n".join(lines)


def _configuration(s: dict) -> str:
    lines = ["## Configuration", "", f"Study settings (digest `{s['digest']}`):", "", "```json",
             json.dumps(s["config"], indent=2, sort_keys=True), "```"]
    if s.get("loop_config"):
        lines += ["", "Acquisition loop settings per strategy (`LoopConfig`; the seed is the repeat's):",
                  "", "```json", json.dumps(s["loop_config"], indent=2, sort_keys=True), "```"]
    return "\n".join(lines)
