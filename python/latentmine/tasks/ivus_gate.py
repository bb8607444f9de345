"""The IVUS stress task's validity gate: which proposed masks the finite-element tool may label.

A decoded mask must be a plaque the finite-element tool can solve (closed
lumen, a wall around it, no floating islands, no corner hinges: see
:func:`latentmine.fea.validate.mask_problems`) and, here, have a wall at
least ``min_wall_px`` pixels thick everywhere around the lumen: a decoder can
produce walls one pixel thick, whose stresses a pixel mesh cannot resolve.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
from scipy import ndimage

from ..fea.validate import mask_problems
from ..labels import Label

#: Short keys counted in the metrics, matched against the problem sentences in order.
REASONS = (("no lumen", "no-lumen"), ("lumen is open", "open-lumen"), ("not closed", "open-wall"),
           ("island", "island"), ("corner", "hinge"), ("no material", "no-material"),
           ("wall is thinner", "thin-wall"), ("label", "bad-labels"))


def wall_thickness(mask: np.ndarray) -> float:
    """Smallest distance, in pixels, from a lumen pixel to the nearest OUTSIDE pixel, minus one.

    That is the number of wall pixels crossed on the shortest way out of the
    lumen; ``inf`` without OUTSIDE pixels, 0 without a lumen.
    """
    lumen = mask == Label.LUMEN
    if not lumen.any():
        return 0.0
    outside = mask == Label.OUTSIDE
    if not outside.any():
        return float("inf")
    return float(ndimage.distance_transform_edt(~outside)[lumen].min()) - 1.0


def gate_problems(mask: np.ndarray, min_wall_px: int = 2) -> list[str]:
    """Problems of one mask for the labelling tool (empty when it passes the gate)."""
    problems = mask_problems(mask)
    if not problems and min_wall_px > 0:
        thickness = wall_thickness(np.asarray(mask))
        if thickness < min_wall_px:
            problems.append(f"the wall is thinner than {min_wall_px} px: {thickness:.1f} px at its thinnest")
    return problems


def reason_key(problem: str) -> str:
    for fragment, key in REASONS:
        if fragment in problem:
            return key
    return "other"


def gate(masks: np.ndarray, min_wall_px: int = 2) -> tuple[np.ndarray, Counter]:
    """``(passed, reasons)``: a boolean per mask and the count of each rejection reason."""
    passed, reasons = np.ones(len(masks), bool), Counter()
    for i, mask in enumerate(masks):
        problems = gate_problems(mask, min_wall_px)
        if problems:
            passed[i] = False
            reasons.update({reason_key(p) for p in problems})
    return passed, reasons
