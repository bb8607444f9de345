"""Print the README's one-line-per-strategy tables from a study's ``summary.json``.

Usage: ``python scripts/strategy_table.py docs/study-peers/summary.json [--high-risk]``

Rows are sorted by the area under the test-MSE curve, the baseline first; the columns are the
MSE at the two largest sizes, the labels needed to reach the baseline's final MSE, the AUC with
its paired test against the baseline, the paired test at the two largest sizes and the PSS
error at the largest size. ``--high-risk`` prints the metrics the task compares without
plotting them (``Task.compared``: for the stress task, the top-decile-PSS test cases) instead. Generated, so the README never drifts from the committed JSON.
"""
import json
import sys

METRIC = "mse_kpa2"


def _mean_std(curve: dict, index: int) -> str:
    return f"{curve['mean'][index]:.1f} ± {curve['std'][index]:.1f}"


def _test(result: dict | None) -> str:
    if result is None:
        return "–"
    return f"{result['wins']}/{result['n']}, {result['p']:.2g}"


def _ranked(summary: dict, metric: str) -> list:
    base = summary["baseline"]
    return sorted(summary["config"]["strategies"], key=lambda n: (n != base, summary["auc"][n][metric]["mean"]))


def table(summary: dict) -> str:
    base, sizes = summary["baseline"], summary["sizes"]
    shown = [len(sizes) - 2, len(sizes) - 1]
    names = _ranked(summary, METRIC)
    lines = ["| strategy | " + " | ".join(f"MSE at {sizes[i]}" for i in shown) + " | labels to reach | AUC | "
             "AUC vs random: wins, p | " + " | ".join(f"{sizes[i]}: wins, p" for i in shown)
             + f" | PSS error at {sizes[-1]} (kPa) |",
             "|---|" + "---:|" * (2 * len(shown) + 4)]
    for name in names:
        curve, auc = summary["curves"][name], summary["auc"][name][METRIC]
        reach = summary["labels_to_reach"][name]
        labels = ("not reached" if reach["labels"] is None
                  else f"{reach['labels']:.1f} ({100 * reach['fraction_of_baseline']:.0f}%)")
        tests = [None] * len(shown) if name == base else [summary["wilcoxon"][name][METRIC][i] for i in shown]
        lines.append(f"| {name} | " + " | ".join(_mean_std(curve[METRIC], i) for i in shown)
                     + f" | {labels} | {auc['mean']:.1f} ± {auc['std']:.1f} | {_test(auc.get('vs_baseline'))} | "
                     + " | ".join(_test(t) for t in tests)
                     + f" | {curve['pss_abs_err_kpa']['mean'][-1]:.1f} |")
    return "\n".join(lines)


def high_risk_table(summary: dict) -> str:
    """Per compared metric: the mean at each size but the first, with the paired test against the baseline."""
    base, sizes = summary["baseline"], summary["sizes"]
    compared = [m for m in summary["auc"][base] if m not in summary["panels"]]
    if not compared:
        sys.exit("the summary tests no metric beyond its panels; re-run the study to summarise them")
    short = {m: summary["metrics"][m][0].split(": ")[-1] for m in compared}  # drop the subset's name
    lines = ["| strategy | " + " | ".join(f"{short[m]} at {size}" for m in compared for size in sizes[1:])
             + " |", "|---|" + "---:|" * (len(compared) * (len(sizes) - 1))]
    for name in _ranked(summary, compared[0]):
        cells = []
        for metric in compared:
            mean = summary["curves"][name][metric]["mean"]
            tests = summary["wilcoxon"].get(name, {}).get(metric)
            cells += [f"{mean[i]:.1f}" + ("" if tests is None else f" ({_test(tests[i])})") for i in range(1, len(sizes))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] != "--high-risk"):
        sys.exit("usage: python scripts/strategy_table.py SUMMARY_JSON [--high-risk]")
    with open(sys.argv[1]) as f:
        summary = json.load(f)
    print(high_risk_table(summary) if sys.argv[2:] else table(summary))
