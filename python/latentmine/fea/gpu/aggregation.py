"""Per-mask aggregates for smoothed aggregation, for a whole batch at once.

Aggregates must follow the tissues: a coarse basis function spread over stiff
wall and a void or a soft lipid pool is a poor coarse space. Aggregates shared
by every mask of a grid (built on a homogeneous wall) cost 314 CG iterations
on the 256^2 plaque against 60 for these (``docs/gpu.md``).

The work is split by where it is cheap:

* :func:`node_strength` (device, array-generic): the symmetric strength of
  connection of Vaněk, Mandel and Brezina (Computing 56, 1996) between 2 x 2
  nodal blocks, ``||A_ij||_F >= theta sqrt(||A_ii||_F ||A_jj||_F)``, from two
  sparse products over the batch;
* :func:`batch_tentative_prolongators` (host, pyamg's C++ kernels):
  ``standard_aggregation`` and ``fit_candidates`` on the block-diagonal graph of
  the batch, level after level on the aggregate graphs ``Agg^T G Agg``. No edge
  joins two systems, so no aggregate spans two masks. Each system's aggregates
  are padded to the batch's largest count (empty columns, zero coarse rows) so
  that every level stays a :class:`BlockDiagonal` with equal blocks.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .arrays import is_device_array
from .block_diagonal import BlockDiagonal

__all__ = ["node_strength", "batch_tentative_prolongators"]


def node_strength(A: BlockDiagonal, theta: float, block_size: int = 2) -> sp.csr_matrix:
    """Host CSR graph of the strong connections between the nodes of every system.

    Parameters
    ----------
    A : BlockDiagonal
        The batch, ``block_size`` consecutive unknowns per node.
    theta : float
        Strength threshold in ``[0, 1)``.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(count * nodes, count * nodes)``, 1 on strong connections (and on the
        diagonal of nodes that have any entry).
    """
    xp = A.xp
    nodes = A.block_shape[0] // block_size
    collapse = sp.kron(sp.eye(nodes), np.ones((block_size, 1)), format="csr")  # unknowns -> nodes
    collapse = BlockDiagonal.repeat(collapse, A.count, xp)
    frobenius_sq = collapse.transpose() @ A.with_data(A.matrix.data ** 2) @ collapse
    csr = frobenius_sq.matrix
    diag = csr.diagonal()
    row = xp.searchsorted(csr.indptr, xp.arange(csr.nnz), side="right") - 1
    # ||A_ij||^2 >= theta^2 ||A_ii|| ||A_jj||, all in squared norms
    strong = (csr.data >= theta ** 2 * xp.sqrt(diag[row] * diag[csr.indices])) & (csr.data > 0)
    graph = frobenius_sq.with_data(strong.astype(csr.data.dtype)).matrix
    graph = graph.get() if is_device_array(graph) else graph
    graph = sp.csr_matrix(graph)
    graph.eliminate_zeros()
    return graph


def batch_tentative_prolongators(graph, count: int, near_null, *, max_coarse=300, max_levels=10):
    """Tentative prolongators of every level, block-diagonal over the batch.

    Parameters
    ----------
    graph : scipy.sparse.csr_matrix
        Strong-connection graph of the batch's nodes (:func:`node_strength`).
    count : int
        Systems in the batch; ``graph`` has ``count`` equal diagonal blocks.
    near_null : ndarray, shape (unknowns, c)
        Near-null-space candidates of *one* system (rigid-body modes), the same
        for every mask of the grid.
    max_coarse, max_levels : int
        Stop when a system's coarse level has at most ``max_coarse`` unknowns.

    Returns
    -------
    list of scipy.sparse.csr_matrix
        Host ``T_l`` of shape ``(count * n_l, count * n_{l+1})``; every system's
        block has the same shape.
    """
    from pyamg.aggregation.aggregate import standard_aggregation
    from pyamg.aggregation.tentative import fit_candidates

    candidates = np.tile(near_null, (count, 1))
    tentative = []
    for _ in range(max_levels - 1):
        aggregates = standard_aggregation(graph)[0].tocsr()
        T, coarse_candidates = fit_candidates(aggregates, candidates)
        aggregates, T, coarse_candidates = _pad_per_system(aggregates, sp.csr_matrix(T), coarse_candidates,
                                                           count, graph.shape[0] // count)
        tentative.append(T)
        coarse_size = T.shape[1] // count
        if coarse_size <= max_coarse or T.shape[1] >= T.shape[0]:
            break
        graph = (aggregates.T @ graph @ aggregates).tocsr()
        graph.data[:] = 1.0
        candidates = coarse_candidates
    return tentative


def _pad_per_system(aggregates, T, coarse_candidates, count, nodes_per_system):
    """Renumber aggregates so that system ``s`` owns columns ``s * width .. (s + 1) * width``.

    A renumbering of columns only: every row keeps its entries, and as a node
    belongs to one aggregate, whose ``k`` columns stay consecutive, sorted rows
    stay sorted. So the CSR arrays are reused with new column indices.
    """
    member_rows = np.repeat(np.arange(aggregates.shape[0]), np.diff(aggregates.indptr))
    system_of_aggregate = np.zeros(aggregates.shape[1], np.int64)
    system_of_aggregate[aggregates.indices] = member_rows // nodes_per_system
    order = np.argsort(system_of_aggregate, kind="stable")
    per_system = np.bincount(system_of_aggregate, minlength=count)
    width = int(per_system.max())
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size) - np.repeat(np.cumsum(per_system) - per_system, per_system)
    new_aggregate = system_of_aggregate * width + rank
    k = coarse_candidates.shape[1]
    columns = (new_aggregate[:, None] * k + np.arange(k)).ravel()  # old column a*k+j -> new
    padded_T = sp.csr_matrix((T.data, columns[T.indices], T.indptr), shape=(T.shape[0], count * width * k))
    padded_aggregates = sp.csr_matrix((aggregates.data, new_aggregate[aggregates.indices], aggregates.indptr),
                                      shape=(aggregates.shape[0], count * width))
    padded_candidates = np.zeros((count * width * k, k))
    padded_candidates[columns] = coarse_candidates
    return padded_aggregates, padded_T, padded_candidates
