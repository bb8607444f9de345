"""Print the README's one-line-per-strategy table from a study's ``summary.json``.

Usage: ``python scripts/strategy_table.py docs/study-peers/summary.json``

Rows are sorted by the area under the test-MSE curve, the baseline first; the columns are the
MSE at the two largest sizes, the labels needed to reach the baseline's final MSE, the AUC with
its paired test against the baseline, the paired test at the two largest sizes and the PSS
error at the largest size. Generated, so the README never drifts from the committed JSON.
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


def table(summary: dict) -> str:
    base, sizes = summary["baseline"], summary["sizes"]
    shown = [len(sizes) - 2, len(sizes) - 1]
    names = sorted(summary["config"]["strategies"],
                   key=lambda n: (n != base, summary["auc"][n][METRIC]["mean"]))
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


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/strategy_table.py SUMMARY_JSON")
    with open(sys.argv[1]) as f:
        print(table(json.load(f)))
