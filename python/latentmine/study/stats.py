"""Statistics of learning curves: bands, labels-to-reach, area under the curve, paired tests.

A learning curve is a metric as a function of the training-set size. Curves of
one strategy over the repeats form an array of shape ``(repeats, sizes)``.
"""
from __future__ import annotations

import math

import numpy as np


def mean_std(values) -> tuple:
    """Mean and sample standard deviation (``ddof=1``) along the first axis.

    With a single repeat the standard deviation is 0 rather than undefined, so
    a one-repeat smoke study still draws a (flat) band.
    """
    values = np.asarray(values, dtype=float)
    std = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros_like(values[0])
    return values.mean(axis=0), std


def labels_to_reach(sizes, curve, target: float, *, lower_is_better: bool = True):
    """The training-set size from which ``curve`` reaches ``target`` and stays there.

    Between two schedule sizes the curve is taken as linear in the size, so the
    crossing is interpolated: with MSE 10 at 100 labels and 6 at 200, the
    target 8 is reached at 150 labels. A curve that dips below the target and
    rises above it again counts from its last crossing, so that noise at a
    small size cannot claim the target. Returns ``None`` when the curve ends
    short of the target.
    """
    sizes = np.asarray(sizes, dtype=float)
    curve = np.asarray(curve, dtype=float)
    sign = 1.0 if lower_is_better else -1.0
    gap = sign * (curve - target)  # <= 0 where the target is reached
    short = np.flatnonzero(~(gap <= 0))  # NaN counts as not reached
    if short.size == 0:
        return float(sizes[0])
    k = int(short[-1]) + 1
    if k == len(sizes):
        return None
    fraction = gap[k - 1] / (gap[k - 1] - gap[k])
    return float(sizes[k - 1] + fraction * (sizes[k] - sizes[k - 1]))


def area_under_curve(sizes, curve, *, normalise: bool = True) -> float:
    """Trapezoidal area under ``curve`` over the size axis.

    With ``normalise`` the area is divided by the size range, giving the
    curve's average level over the schedule (in the metric's own unit), which
    is comparable between schedules.
    """
    sizes = np.asarray(sizes, dtype=float)
    curve = np.asarray(curve, dtype=float)
    area = float(np.sum(0.5 * (curve[1:] + curve[:-1]) * np.diff(sizes)))
    if normalise:
        span = sizes[-1] - sizes[0]
        return area / span if span > 0 else float(curve[0])
    return area


def paired_wilcoxon(a, b, *, lower_is_better: bool = True) -> dict:
    """Two-sided Wilcoxon signed-rank test of paired samples ``a`` and ``b``.

    Besides ``statistic`` and ``p`` it returns ``median_difference`` (of
    ``a - b``) and ``wins``, the number of pairs where ``a`` is better than ``b``.

    Uses :func:`scipy.stats.wilcoxon` (exact distribution for small samples).
    With ``n`` pairs the smallest attainable two-sided p-value is ``2 / 2**n``:
    0.0625 for five repeats, so five repeats can never reach p < 0.05.
    When every difference is zero the test is undefined and ``p`` is NaN.
    """
    from scipy.stats import wilcoxon

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples need equal 1-D shapes, got {a.shape} and {b.shape}")
    diff = a - b
    out = {"n": int(a.size), "median_difference": float(np.median(diff)) if a.size else math.nan,
           "wins": int(np.sum(diff < 0 if lower_is_better else diff > 0)), "min_p": 2.0 / 2 ** a.size if a.size else math.nan}
    if a.size == 0 or np.all(diff == 0):
        return {**out, "statistic": math.nan, "p": math.nan}
    result = wilcoxon(a, b, alternative="two-sided")
    return {**out, "statistic": float(result.statistic), "p": float(result.pvalue)}
