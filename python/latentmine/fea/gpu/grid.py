"""What every mask of one grid size shares: the full-grid CSR pattern and node numbering.

All ``(H + 1) x (W + 1)`` nodes are kept (the numbering of the CPU kernels with
every pixel active), so one sparsity pattern and one node numbering serve
every mask of that size, and a batch of masks is a batch of
value arrays on one pattern. Void pixels (OUTSIDE, LUMEN) carry the stiffness
the CPU path gives them (none, in the compact formulation); a node that no
material touches then has empty rows, which get a unit-scale diagonal so the
system stays solvable with a zero solution there, and the material nodes see
exactly the CPU path's equations.

Built once per grid size on the CPU and cached; :class:`GridPattern` holds
host arrays, which the solver copies to the device once per call.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .. import assembly

__all__ = ["GridPattern", "grid_pattern", "rigid_body_modes"]


@dataclass(frozen=True)
class GridPattern:
    """CSR pattern of the full node grid of an ``rows x cols`` mask.

    ``slot_ptr``/``contrib`` invert the CPU kernels' element-to-slot map: the
    entries ``contrib[slot_ptr[k]:slot_ptr[k + 1]]`` (``element * 64 + local``)
    add up to CSR slot ``k``, so a GPU thread per slot sums them in a fixed order,
    with no atomics. ``diagonal_slots`` locate the main diagonal.
    """
    rows: int
    cols: int
    node_id: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    slot_ptr: np.ndarray
    contrib: np.ndarray
    diagonal_slots: np.ndarray

    @property
    def dofs(self) -> int:
        return self.indptr.size - 1

    @property
    def nnz(self) -> int:
        return self.indices.size


@functools.lru_cache(maxsize=8)
def grid_pattern(rows: int, cols: int) -> GridPattern:
    """The cached :class:`GridPattern` of a grid size, from the CPU path's full-grid pattern."""
    full = assembly.grid_pattern(rows, cols)
    node_id, indptr, indices = full.node_id, full.indptr, full.indices
    slots = full.element_slots(np.ones((rows, cols), np.uint8)).ravel()
    order = np.argsort(slots, kind="stable").astype(np.int32)  # e * 64 + local, grouped by slot
    counts = np.bincount(slots, minlength=indices.size)
    slot_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    row_of_slot = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    diagonal_slots = np.flatnonzero(indices == row_of_slot).astype(np.int64)
    return GridPattern(rows, cols, node_id, indptr, indices, slot_ptr, order, diagonal_slots)


def rigid_body_modes(rows: int, cols: int) -> np.ndarray:
    """``(dofs, 3)``: x and y translations and the rotation ``(-y, x)`` at every grid node.

    The near-null space of plane elasticity that smoothed aggregation interpolates
    exactly (Vaněk, Mandel and Brezina 1996). Unit node spacing: only the span matters.
    """
    y, x = np.mgrid[0:rows + 1, 0:cols + 1].astype(np.float64)
    modes = np.zeros((2 * x.size, 3))
    modes[0::2, 0] = 1.0
    modes[1::2, 1] = 1.0
    modes[0::2, 2] = -y.ravel()
    modes[1::2, 2] = x.ravel()
    return modes
