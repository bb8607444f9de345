"""Stiffness matrix and load vector of a mask, one square Q4 element per pixel.

The element maths lives in ``csrc/include/latentmine/fea_element.hpp``
(shared with the CUDA kernels) and the structured-grid assembly in
``fea_grid.hpp``; this module chooses what is assembled.

Two layouts are offered:

* ``full_grid=False`` (default): only material pixels are elements and only
  their nodes are unknowns (about 58k DOFs for a 256 x 256 plaque). The CSR
  pattern depends on the mask and is built in C++ for every mask (about 2 ms
  at 256^2, less than the value pass).
* ``full_grid=True``: every pixel is an element, voids (OUTSIDE, LUMEN) get an
  ersatz material ``ERSATZ_FRACTION`` times the fibrous modulus, as in
  topology optimisation (Sigmund, "A 99 line topology optimization code",
  Struct Multidisc Optim 21, 2001). All masks of one size then share one
  pattern (cached per size by :func:`grid_pattern`), as batched GPU solves
  want, at 2.3 times the DOFs.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import ndimage

from ..backend import core
from ..labels import TISSUES, Label
from .materials import lame_parameters
from .ordering import Dissection, dissection

#: Ersatz modulus of void pixels in the full-grid layout, as a fraction of
#: the fibrous modulus.
ERSATZ_FRACTION = 1e-6
_CODES = 256  # the C++ tables are indexed by any uint8 label code
_EDGE_NEIGHBOURS = ndimage.generate_binary_structure(2, 1)


def element_stiffness(lam: float, mu: float, *, selective: bool = True) -> np.ndarray:
    """8 x 8 plane-strain stiffness of one square pixel (independent of its side).

    ``selective=True`` integrates the volumetric part at the centre only
    (selective reduced integration, free of volumetric locking); ``False`` is
    the plain 2 x 2 Gauss Q4, which locks as nu -> 1/2.
    """
    return core().fea_element_stiffness(float(lam), float(mu), bool(selective))


def lame_tables(materials) -> tuple[np.ndarray, np.ndarray]:
    """Per-label-code Lamé parameters ``(lam, mu)`` (zero for non-tissues)."""
    lam, mu = np.zeros(_CODES), np.zeros(_CODES)
    for label in TISSUES:
        lam[label], mu[label] = lame_parameters(*materials[label])
    return lam, mu


def stiffness_table(materials, *, selective: bool = True, full_grid: bool = False) -> np.ndarray:
    """(256, 64) table of element stiffness rows indexed by label code."""
    lam, mu = lame_tables(materials)
    if full_grid:
        young, poisson = materials[Label.FIBROUS]
        for void in (Label.OUTSIDE, Label.LUMEN):
            lam[void], mu[void] = lame_parameters(ERSATZ_FRACTION * young, poisson)
    table = np.zeros((_CODES, 64))
    for code in np.flatnonzero(mu):
        table[code] = element_stiffness(lam[code], mu[code], selective=selective).ravel()
    return table


@dataclass(frozen=True)
class Pattern:
    """Node numbering and CSR pattern of a set of active pixels.

    ``node_id`` (H+1, W+1) gives each kept grid node its number k (DOFs 2k,
    2k+1) or -1; ``indptr``/``indices`` are the CSR pattern (int32);
    ``dissection`` is the separator tree when the nodes are numbered by
    nested dissection.
    """

    node_id: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    dissection: Dissection | None = None

    @property
    def dofs(self) -> int:
        return len(self.indptr) - 1

    def element_slots(self, active: np.ndarray) -> np.ndarray:
        """(H*W, 64) int32: CSR position of local entry A*8+B of each element, -1 if inactive."""
        return core().fea_element_slots(active, self.node_id, self.indptr)


def pattern_of(active: np.ndarray, node_id: np.ndarray | None = None) -> Pattern:
    """Pattern of the elements where ``active`` (H, W) is non-zero.

    Nodes are numbered in grid order, or as ``node_id`` (H+1, W+1) says (the
    columns of a row are then not sorted).
    """
    return Pattern(*core().fea_grid_pattern(np.ascontiguousarray(active, dtype=np.uint8), node_id))


def dissected_pattern_of(active: np.ndarray) -> Pattern:
    """Pattern of ``active`` with nodes in nested-dissection order and its tree, for the sparse Cholesky."""
    tree = dissection(active)
    return Pattern(*core().fea_grid_pattern(np.ascontiguousarray(active, dtype=np.uint8), tree.node_id), tree)


@functools.lru_cache(maxsize=8)
def grid_pattern(height: int, width: int) -> Pattern:
    """The full-grid pattern of an ``height`` x ``width`` image (cached per size).

    Every pixel is an element; GPU code reuses it with
    ``grid_pattern(H, W).element_slots(np.ones((H, W), np.uint8))``.
    """
    return pattern_of(np.ones((height, width), np.uint8))


@dataclass
class System:
    """Assembled linear system of one mask: ``stiffness @ u = load``."""

    stiffness: sp.csr_matrix
    load: np.ndarray
    pattern: Pattern
    material: np.ndarray     # (H, W) uint8: pixels that carry tissue
    components: np.ndarray   # (H+1, W+1) int: body (>= 1) each kept node belongs to, 0 if none


def assemble(mask: np.ndarray, table: np.ndarray, *, pixel_size_mm: float, pressure_kpa: float,
             full_grid: bool = False, dissect: bool = False) -> System:
    """Stiffness (from ``table``, see :func:`stiffness_table`) and pressure load of one valid mask.

    ``dissect`` numbers the nodes of the material-only system in
    nested-dissection order (for the sparse Cholesky) instead of grid order.
    """
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    height, width = mask.shape
    material = np.isin(mask, TISSUES).astype(np.uint8)
    lumen = (mask == Label.LUMEN).astype(np.uint8)
    active = np.ones_like(material) if full_grid else material
    if full_grid:
        pattern = grid_pattern(height, width)
    else:
        pattern = dissected_pattern_of(material) if dissect else pattern_of(material)
    native = core()
    data = native.fea_fill_values(active, mask, table, pattern.node_id, pattern.indptr)
    stiffness = sp.csr_matrix((data, pattern.indices, pattern.indptr), shape=(pattern.dofs, pattern.dofs))
    stiffness.has_sorted_indices = not dissect or full_grid
    load = native.fea_pressure_load(material, lumen, pattern.node_id, pattern.dofs // 2, float(pressure_kpa),
                                    float(pixel_size_mm))
    return System(stiffness, load, pattern, material, _node_components(active))


def _node_components(active: np.ndarray) -> np.ndarray:
    """Edge-connected body of every grid node (0 where no active pixel touches it).

    Valid masks have no corner-only contacts, so the (up to four) pixels
    around a node all belong to one body.
    """
    bodies, _ = ndimage.label(active, structure=_EDGE_NEIGHBOURS)
    padded = np.pad(bodies, 1)
    return np.maximum.reduce([padded[:-1, :-1], padded[:-1, 1:], padded[1:, :-1], padded[1:, 1:]])
