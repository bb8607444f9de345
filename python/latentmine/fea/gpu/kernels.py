"""Element-value fill, luminal load and stress recovery for a batch of masks.

Two implementations of one interface, chosen by the array module:

* :class:`DeviceKernels` launches the CUDA kernels of ``latentmine._cuda``
  (``csrc/cuda/fea_kernels.cu``) on CuPy arrays, on CuPy's current stream: thin
  wrappers that pass pointers and sizes;
* :class:`HostKernels` loops over the masks with the CPU kernels of
  ``latentmine._core`` (the CPU solver's own), on NumPy arrays.

The fine-level operator of the solve is the assembled CSR batch on the host and
a matrix-free kernel on the device (:class:`MatrixFreeStiffness`): the same
``K u`` from the element table and the 1-byte labels, without reading the 12
bytes per nonzero of the CSR matrix on every product.

Both evaluate the element maths of ``latentmine/fea_element.hpp`` on the full
grid of :mod:`~latentmine.fea.gpu.grid`, so the solver above them is one code
path, tested on the CPU.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import backend
from ...labels import TISSUES, Label
from .. import assembly
from ..materials import resolve_materials

__all__ = ["LabelTables", "label_tables", "kernels_for", "HostKernels", "DeviceKernels", "MatrixFreeStiffness"]


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


class HostKernels:
    """The CPU solver's kernels, mask by mask, on NumPy arrays."""

    def __init__(self, pattern, tables: LabelTables):
        self.pattern, self.tables = pattern, tables
        self.core = backend.core()
        self.active = np.ones((pattern.rows, pattern.cols), np.uint8)

    def fill_values(self, masks):
        p = self.pattern
        return np.stack([self.core.fea_fill_values(self.active, m, self.tables.ke_table, p.node_id, p.indptr)
                         for m in masks])

    def pressure_load(self, masks, pressure, h):
        p, t = self.pattern, self.tables
        return np.stack([self.core.fea_pressure_load(t.is_material[m], t.is_lumen[m], p.node_id, p.dofs // 2,
                                                     pressure, h) for m in masks])

    def stiffness_operator(self, labels, assembled, void_diagonal):
        """The operator CG and the finest smoother apply: the assembled batch itself."""
        return assembled

    def recover_stress(self, masks, displacements, h):
        p, t = self.pattern, self.tables
        return np.stack([self.core.fea_recover_stress(t.is_material[m], m, t.lam, t.mu, p.node_id, u, h)
                         for m, u in zip(masks, displacements)])


class DeviceKernels:
    """CUDA launches on CuPy arrays: one launch per kernel for the whole batch."""

    def __init__(self, pattern, tables: LabelTables):
        import cupy

        self.cp = cupy
        self.module = backend.cuda_module()
        self.pattern, self.tables = pattern, tables.to(cupy)
        self.slot_ptr, self.contrib = cupy.asarray(pattern.slot_ptr), cupy.asarray(pattern.contrib)

    def _stream(self) -> int:
        return self.cp.cuda.get_current_stream().ptr

    def fill_values(self, masks):
        p = self.pattern
        values = self.cp.empty((len(masks), p.nnz), dtype=self.cp.float64)
        self.module.fea_fill_values(masks.data.ptr, p.rows * p.cols, self.tables.ke_table.data.ptr,
                                    self.slot_ptr.data.ptr, self.contrib.data.ptr, p.nnz, len(masks),
                                    values.data.ptr, self._stream())
        return values

    def pressure_load(self, masks, pressure, h):
        p, t = self.pattern, self.tables
        f = self.cp.empty((len(masks), p.dofs), dtype=self.cp.float64)
        self.module.fea_pressure_load(masks.data.ptr, p.rows, p.cols, t.is_material.data.ptr, t.is_lumen.data.ptr,
                                      float(pressure), float(h), len(masks), f.data.ptr, self._stream())
        return f

    def stiffness_operator(self, labels, assembled, void_diagonal):
        """Matrix-free ``K u`` of the batch ``labels``, equal to ``assembled.matvec``."""
        return MatrixFreeStiffness(self, labels, float(void_diagonal))

    def recover_stress(self, masks, displacements, h):
        p, t = self.pattern, self.tables
        displacements = self.cp.ascontiguousarray(displacements, dtype=self.cp.float64)
        out = self.cp.empty((len(masks), 6, p.rows, p.cols), dtype=self.cp.float32)
        self.module.fea_recover_stress(masks.data.ptr, p.rows, p.cols, t.is_material.data.ptr, t.lam.data.ptr,
                                       t.mu.data.ptr, displacements.data.ptr, float(h), len(masks), out.data.ptr,
                                       self._stream())
        return out


class MatrixFreeStiffness:
    """The stiffness batch of ``labels`` as a batched operator (``matvec``/``take``), on the device."""

    def __init__(self, kernels: DeviceKernels, labels, void_diagonal: float):
        self.kernels, self.labels, self.void_diagonal = kernels, labels, void_diagonal
        self.count = len(labels)
        self.block_shape = (kernels.pattern.dofs, kernels.pattern.dofs)
        self.xp = kernels.cp

    def matvec(self, X):
        k, p = self.kernels, self.kernels.pattern
        X = self.xp.ascontiguousarray(X, dtype=self.xp.float64)
        Y = self.xp.empty_like(X)
        k.module.fea_apply_stiffness(self.labels.data.ptr, p.rows, p.cols, k.tables.ke_table.data.ptr,
                                     self.void_diagonal, X.data.ptr, self.count, Y.data.ptr, k._stream())
        return Y

    def take(self, keep):
        keep = self.xp.asarray(keep)
        return MatrixFreeStiffness(self.kernels, self.xp.ascontiguousarray(self.labels[keep]), self.void_diagonal)


def kernels_for(xp, pattern, tables: LabelTables):
    """:class:`DeviceKernels` for ``xp = cupy``, :class:`HostKernels` for NumPy."""
    return HostKernels(pattern, tables) if xp is np else DeviceKernels(pattern, tables)
