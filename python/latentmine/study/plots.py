"""Learning-curve figure: mean ± one standard deviation over repeats, per strategy."""
from __future__ import annotations

import io

import numpy as np

from ..storage import atomic_write_bytes
from .summary import headline_of, metric_info

#: The panels of stress studies written before tasks existed.
PANELS = ("mse_kpa2", "accuracy")


def plot_learning_curves(summary: dict, path) -> None:
    """Write a PNG with one panel per metric of the summary's ``panels`` against the training-set size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = np.asarray(summary["sizes"], dtype=float)
    panels, info, head = summary.get("panels", PANELS), metric_info(summary), headline_of(summary)
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.0), squeeze=False)
    for axis, metric in zip(axes[0], panels):
        for name, by_metric in summary["curves"].items():
            mean = np.asarray(by_metric[metric]["mean"], dtype=float)
            std = np.asarray(by_metric[metric]["std"], dtype=float)
            (line,) = axis.plot(sizes, mean, marker="o", markersize=3.5, label=name,
                                linewidth=2.2 if name == summary["method"] else 1.4)
            axis.fill_between(sizes, mean - std, mean + std, color=line.get_color(), alpha=0.18,
                              linewidth=0)
        if metric == head["metric"]:
            axis.axhline(head["target"], color="0.4", linestyle=":", linewidth=1,
                         label=f"{summary['baseline']} final {head['short']}")
        axis.set_xscale("log")
        axis.set_xticks(sizes, [str(int(s)) for s in sizes])
        axis.minorticks_off()
        axis.set_xlabel("labelled training samples")
        axis.set_ylabel(info[metric][0])
        axis.grid(True, alpha=0.3)
    n = max(c[panels[0]]["n"] for c in summary["curves"].values())
    axes[0][0].legend(fontsize=8)
    figure.suptitle(f"study '{summary['config']['name']}': mean ± std over {n} repeats", fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
