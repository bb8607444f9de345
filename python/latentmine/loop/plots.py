"""Figures of a run: sample grids and the learning curve (matplotlib, Agg backend)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .. import storage


def _figure_bytes(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_pair_grid(path, rows, *, stress=None, label_title: str = "stress (kPa)", label_cmap: str = "magma") -> Path:
    """Rows of images with their masks: ``rows`` = [(images, masks or None, title), ...].

    ``stress``: an optional row of label maps (``label_title``, colour map ``label_cmap``).
    """
    plt = _pyplot()
    n = max(len(images) for images, _, _ in rows)
    panels = [(images, "gray", (0, 1), f"{title}: image") for images, _, title in rows]
    panels += [(masks, "tab10", (0, 9), f"{title}: mask") for _, masks, title in rows if masks is not None]
    if stress is not None:
        panels.append((stress, label_cmap, (0, max(float(np.max(stress)), 1e-9)), label_title))
    fig, axes = plt.subplots(len(panels), n, figsize=(1.3 * n, 1.4 * len(panels)), squeeze=False)
    for row, (arrays, cmap, (low, high), title) in enumerate(panels):
        for col in range(n):
            ax = axes[row, col]
            ax.axis("off")
            if col < len(arrays):
                ax.imshow(arrays[col], cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
        axes[row, 0].set_title(title, fontsize=7, loc="left")
    data = _figure_bytes(fig)
    plt.close(fig)
    return storage.atomic_write_bytes(path, data)


#: The IVUS stress task's panels: (metric row column, axis label).
STRESS_PANELS = (("test_mae", "test MAE (kPa)"), ("test_pss_error", "PSS error (kPa)"))


def compare_learning_curves(path, runs: dict, title: str = "", panels=STRESS_PANELS) -> Path:
    """Learning curves of several runs ``{name: metric rows}`` on shared axes, one panel per ``(column, label)``."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3), squeeze=False)
    axes = axes[0]
    for name, rows in runs.items():
        n = [row["n_train"] for row in rows]
        for ax, (column, _) in zip(axes, panels):
            ax.plot(n, [row[column] for row in rows], "o-", label=name)
    for ax, (_, label) in zip(axes, panels):
        ax.set_xlabel("labelled training samples")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    data = _figure_bytes(fig)
    plt.close(fig)
    return storage.atomic_write_bytes(path, data)

