"""Nested-dissection numbering of the grid nodes and its separator tree, for the sparse Cholesky.

Geometric nested dissection (George, "Nested dissection of a regular finite
element mesh", SIAM J Numer Anal 10, 1973), in C++
(``csrc/include/latentmine/fea_dissection.hpp``): split the nodes of a part
along a grid line, number the two halves recursively and the line last. An
element couples nodes at most one row and one column apart, so the line
separates the halves; on a 2D grid this bounds the fill of the factor by
O(n log n). The line is the one with the fewest nodes among those that leave
at least ``BALANCE`` of the part on each side; every part is one supernode of
the tree that :mod:`latentmine.fea.cholesky` factorises along.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import core

#: Parts at most this large are not split (one dense front each). 8 and 16
#: gave the fewest flops on the 256^2 plaque (594M and 630M) and 16 the
#: faster factorisation at 64^2, with half the supernodes (docs/fea.md).
LEAF_NODES = 16
#: Smallest share of a part left on each side of its separator.
BALANCE = 0.4


@dataclass(frozen=True)
class Dissection:
    """Nested-dissection numbering and separator tree of the kept nodes.

    ``node_id`` (H+1, W+1) int32 gives each kept node its elimination rank
    (-1 elsewhere); supernode s owns the node ids ``first[s]`` to
    ``first[s+1] - 1`` and ``parent[s]`` is its parent (-1 at a root);
    children precede parents.
    """

    node_id: np.ndarray
    first: np.ndarray
    parent: np.ndarray


def kept_nodes(active: np.ndarray) -> np.ndarray:
    """(H+1, W+1) bool: grid nodes touched by an active pixel."""
    padded = np.pad(active.astype(bool), 1)
    return padded[:-1, :-1] | padded[:-1, 1:] | padded[1:, :-1] | padded[1:, 1:]


def dissection(active: np.ndarray, leaf: int = LEAF_NODES, balance: float = BALANCE) -> Dissection:
    """Nested dissection of the nodes touched by the non-zero pixels of ``active`` (H, W)."""
    return Dissection(*core().fea_nested_dissection(np.ascontiguousarray(active, dtype=np.uint8), int(leaf),
                                                    float(balance)))
