"""Element-value fill, luminal load and stress recovery for a batch of masks.

:class:`BatchKernels` passes pointers and sizes to one native module, chosen by
the array module (:func:`native_module`): the CUDA kernels of ``latentmine._cuda``
(``csrc/cuda/fea_kernels.cu``) on CuPy arrays, on CuPy's current stream, or their
CPU twins in ``latentmine._core.cuda_twin`` on NumPy arrays. Both run the work-item
functions of ``latentmine/fea_batch.hpp`` on the full grid of
:mod:`~latentmine.fea.gpu.grid`, so the wrappers and the solver above them are
one code path, tested on the CPU against the CPU solver's assembled CSR path.

The fine-level operator of the solve is matrix-free (:class:`MatrixFreeStiffness`):
``K u`` from the element table and the 1-byte labels, without reading the 12
bytes per nonzero of the CSR matrix on every product.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import backend
from .arrays import pointer
from ...labels import TISSUES, Label
from .. import assembly
from ..materials import resolve_materials

__all__ = ["LabelTables", "label_tables", "kernels_for", "native_module", "BatchKernels", "MatrixFreeStiffness"]


@dataclass(frozen=True)
class LabelTables:
    """Per-label-code (256-entry) lookup tables of the element kernels."""
    ke_table: np.ndarray     # (256, 64) float64: 8 x 8 element stiffness, row-major
    lam: np.ndarray          # (256,) float64
    mu: np.ndarray           # (256,) float64
    is_material: np.ndarray  # (256,) uint8
    is_lumen: np.ndarray     # (256,) uint8

    def to(self, xp) -> "LabelTables":
        return LabelTables(*(xp.asarray(getattr(self, f)) for f in self.__dataclass_fields__))


def label_tables(materials=None, *, selective=True, full_grid=False) -> LabelTables:
    """Lookup tables of the CPU path (:mod:`latentmine.fea.assembly`) for ``materials``.

    ``full_grid=False`` (the CPU default): void labels carry no stiffness;
    ``True``: they carry the CPU path's ersatz material.
    """
    table = resolve_materials(materials)
    lam, mu = assembly.lame_tables(table)
    ke_table = assembly.stiffness_table(table, selective=selective, full_grid=full_grid)
    is_material = np.zeros(256, np.uint8)
    is_material[[int(t) for t in TISSUES]] = 1
    is_lumen = np.zeros(256, np.uint8)
    is_lumen[int(Label.LUMEN)] = 1
    return LabelTables(ke_table, lam, mu, is_material, is_lumen)


def native_module(xp):
    """The kernels for ``xp``'s arrays: ``latentmine._cuda`` for CuPy, its CPU twins for NumPy.

    The twins (``latentmine._core.cuda_twin``, ``csrc/core/twin_bindings.cpp``)
    take the same arguments as the CUDA entry points, with host pointers, and run
    the same work-item functions; so :class:`BatchKernels` is one code path.
    """
    if xp is np:
        return backend.core().cuda_twin
    module = backend.cuda_module()
    if module is None:
        raise RuntimeError("latentmine._cuda was not built: rebuild with LATENTMINE_CUDA=ON (needs nvcc)")
    return module


def stream_of(xp) -> int:
    """The handle of CuPy's current stream; 0 (ignored by the twins) for NumPy."""
    return 0 if xp is np else xp.cuda.get_current_stream().ptr


class BatchKernels:
    """Value fill, luminal load, matrix-free ``K u`` and stress recovery for a batch of masks.

    One launch per kernel for the whole batch: the CUDA kernels for CuPy arrays,
    their CPU twins for NumPy arrays, through the same calls.
    """

    def __init__(self, xp, pattern, tables: LabelTables):
        self.xp, self.module = xp, native_module(xp)
        self.pattern, self.tables = pattern, tables.to(xp)
        self.slot_ptr, self.contrib = xp.asarray(pattern.slot_ptr), xp.asarray(pattern.contrib)

    def _labels(self, masks):
        p = self.pattern
        masks = self.xp.ascontiguousarray(masks, dtype=self.xp.uint8)
        if masks.ndim != 3 or masks.shape[1:] != (p.rows, p.cols):
            raise ValueError(f"masks must have shape (N, {p.rows}, {p.cols}), got {masks.shape}")
        return masks

    def _vectors(self, array, count):
        array = self.xp.ascontiguousarray(array, dtype=self.xp.float64)
        if array.shape != (count, self.pattern.dofs):
            raise ValueError(f"expected ({count}, {self.pattern.dofs}) float64 displacements, got {array.shape}")
        return array

    def fill_values(self, masks):
        p, masks = self.pattern, self._labels(masks)
        values = self.xp.empty((len(masks), p.nnz), dtype=self.xp.float64)
        self.module.fea_fill_values(pointer(masks), p.rows * p.cols, pointer(self.tables.ke_table),
                                    pointer(self.slot_ptr), pointer(self.contrib), p.nnz, len(masks),
                                    pointer(values), stream_of(self.xp))
        return values

    def pressure_load(self, masks, pressure, h):
        p, t, masks = self.pattern, self.tables, self._labels(masks)
        f = self.xp.empty((len(masks), p.dofs), dtype=self.xp.float64)
        self.module.fea_pressure_load(pointer(masks), p.rows, p.cols, pointer(t.is_material), pointer(t.is_lumen),
                                      float(pressure), float(h), len(masks), pointer(f), stream_of(self.xp))
        return f

    def stiffness_operator(self, labels, void_diagonal):
        """Matrix-free ``K u`` of the batch ``labels`` (equal to the assembled batch's ``matvec``)."""
        return MatrixFreeStiffness(self, self._labels(labels), float(void_diagonal))

    def recover_stress(self, masks, displacements, h):
        p, t, masks = self.pattern, self.tables, self._labels(masks)
        displacements = self._vectors(displacements, len(masks))
        out = self.xp.empty((len(masks), 6, p.rows, p.cols), dtype=self.xp.float32)
        self.module.fea_recover_stress(pointer(masks), p.rows, p.cols, pointer(t.is_material), pointer(t.lam),
                                       pointer(t.mu), pointer(displacements), float(h), len(masks), pointer(out),
                                       stream_of(self.xp))
        return out


class MatrixFreeStiffness:
    """The stiffness batch of ``labels`` as a batched operator (``matvec``/``take``)."""

    def __init__(self, kernels: BatchKernels, labels, void_diagonal: float):
        self.kernels, self.labels, self.void_diagonal = kernels, labels, void_diagonal
        self.count = len(labels)
        self.block_shape = (kernels.pattern.dofs, kernels.pattern.dofs)
        self.xp = kernels.xp

    def matvec(self, X):
        k, p = self.kernels, self.kernels.pattern
        X = k._vectors(X, self.count)
        Y = self.xp.empty_like(X)
        k.module.fea_apply_stiffness(pointer(self.labels), p.rows, p.cols, pointer(k.tables.ke_table),
                                     self.void_diagonal, pointer(X), self.count, pointer(Y), stream_of(self.xp))
        return Y

    def take(self, keep):
        keep = self.xp.asarray(keep)
        return MatrixFreeStiffness(self.kernels, self.xp.ascontiguousarray(self.labels[keep]), self.void_diagonal)


def kernels_for(xp, pattern, tables: LabelTables) -> BatchKernels:
    """:class:`BatchKernels` on ``xp`` (``cupy``: the CUDA kernels; NumPy: their CPU twins)."""
    return BatchKernels(xp, pattern, tables)
