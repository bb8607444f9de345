"""Per-mask aggregates for smoothed aggregation, for a whole batch at once.

Aggregates must follow the tissues: a coarse basis function spread over stiff
wall and a void or a soft lipid pool is a poor coarse space. Aggregates shared
by every mask of a grid (built on a homogeneous wall) cost 314 CG iterations
on the 256^2 plaque, against 58 for these (``docs/gpu.md``).

The finest level, which holds nearly all the work, is aggregated on the device
(array-generic): :func:`geometric_aggregates` groups the nodes of each
``block x block`` square of the grid by tissue class (stiff, soft, none;
:func:`node_classes`), and :func:`fit_candidates_batch` orthonormalises the
rigid-body modes on every aggregate, as pyamg's ``fit_candidates`` does
(Vaněk, Mandel and Brezina, Computing 56, 1996). On the 256^2 plaque, 3 x 3
blocks give 58 iterations against 60 with pyamg's strength-based aggregation.

The coarser levels, 9 times smaller and more, go to the host:
:func:`node_strength` (device) is the symmetric strength of connection between
2 x 2 nodal blocks, ``||A_ij||_F >= theta sqrt(||A_ii||_F ||A_jj||_F)``; its
aggregate graph is downloaded and :func:`batch_tentative_prolongators` runs
pyamg's ``standard_aggregation`` and ``fit_candidates`` on the block-diagonal
graph of the batch, level after level. No edge joins two systems, so no
aggregate spans two masks. Each system's aggregates are padded to the batch's
largest count (empty columns, zero coarse rows), so that every level stays a
:class:`BlockDiagonal` with equal blocks.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .arrays import array_module, is_device_array, sparse_module
from .block_diagonal import BlockDiagonal
from .dense import sym3_eigh

#: Class of a node: the stiffest tissue class among its (up to four) pixels.
VOID, SOFT, STIFF = 0, 1, 2


def node_classes(labels, class_of_label):
    """``(count, (H+1) * (W+1))`` class of every grid node of ``(count, H, W)`` label masks.

    ``class_of_label`` maps the 256 label codes to VOID, SOFT or STIFF. Nodes
    that no material touches are VOID and stay out of every aggregate (their
    rows are decoupled).
    """
    xp = array_module(labels)
    classes = class_of_label[labels.astype(xp.int64)]
    padded = xp.pad(classes, ((0, 0), (1, 1), (1, 1)))
    around = xp.maximum(xp.maximum(padded[:, :-1, :-1], padded[:, :-1, 1:]),
                        xp.maximum(padded[:, 1:, :-1], padded[:, 1:, 1:]))
    return around.reshape(len(labels), -1)


def geometric_aggregates(classes, rows: int, cols: int, block: int = 3) -> BlockDiagonal:
    """Node aggregates: the nodes of one class in one ``block x block`` square of the grid.

    Returns the batch of ``(nodes, width)`` aggregation matrices, ``width`` the
    largest aggregate count of the batch (the others padded with empty columns).
    """
    xp = array_module(classes)
    count, nodes = classes.shape
    i, j = xp.divmod(xp.arange(nodes), cols + 1)
    square = (i // block) * (-(-(cols + 1) // block)) + j // block
    key = square[None, :] * 3 + classes  # (count, nodes)
    member = classes != VOID
    present = xp.zeros((count, int(square.max()) * 3 + 3), bool)
    system = xp.broadcast_to(xp.arange(count)[:, None], key.shape)
    present[system[member], key[member]] = True
    rank = xp.cumsum(present, axis=1) - 1
    width = int(present.sum(axis=1).max())
    node = xp.flatnonzero(member.ravel())
    column = system[member] * width + rank[system[member], key[member]]
    matrix = sparse_module(xp).coo_matrix((xp.ones(node.size), (node, column)),
                                          shape=(count * nodes, count * width)).tocsr()
    return BlockDiagonal(matrix, count)


def fit_candidates_batch(aggregates: BlockDiagonal, candidates, tol=1e-7):
    """Tentative prolongator and coarse candidates of unknown-level ``aggregates``.

    On every aggregate ``a``, ``B_a = Q_a R_a`` with orthonormal ``Q_a``, by two
    passes of a Gram factorisation (``B_a^T B_a = V diag(w) V^T``, then
    ``Q = B_a V diag(w)^-1/2``): the second pass restores the orthogonality the
    first loses when ``B_a`` is ill-conditioned (rigid rotations about a far
    origin on a small aggregate), as in CholeskyQR2 (Fukaya et al., 2014). The
    3 x 3 eigenproblems (one per aggregate, 10^5 to 10^6 per chunk) are solved in
    closed form (:func:`.dense.sym3_eigh`), not by a batched library eigensolver.
    Directions with ``sqrt(w) <= tol sqrt(max w)`` are dropped (an aggregate of
    one node carries only the two translations). Same span as pyamg's
    QR-based ``fit_candidates``.

    Parameters
    ----------
    aggregates : BlockDiagonal
        ``(count * n, count * width)``, at most one entry per row.
    candidates : ndarray, shape (count * n, k)

    Returns
    -------
    T : BlockDiagonal
        ``(count * n, count * width * k)``.
    coarse_candidates : ndarray, shape (count * width * k, k)
    """
    xp = aggregates.xp
    k = candidates.shape[1]
    if k != 3:
        raise ValueError(f"fit_candidates_batch fits the 3 rigid-body modes of plane elasticity, got {k} candidates")
    csr = aggregates.matrix
    row = xp.searchsorted(csr.indptr, xp.arange(csr.nnz), side="right") - 1
    agg = csr.indices
    q = candidates[row]  # (members, k)
    r = xp.broadcast_to(xp.eye(k), (csr.shape[1], k, k))
    for _ in range(2):
        w, V = sym3_eigh(_gram(aggregates, row, q))
        keep = w > tol ** 2 * xp.maximum(xp.max(w, axis=1, keepdims=True), 0)
        root = xp.sqrt(xp.where(keep, w, 0.0))
        inverse_root = xp.where(keep, 1.0 / xp.where(keep, root, 1.0), 0.0)
        q = xp.einsum("ij,ijk->ik", q, V[agg]) * inverse_root[agg]
        r = (root[:, :, None] * xp.swapaxes(V, 1, 2)) @ r  # B_a = q r on every aggregate
    columns = agg[:, None] * k + xp.arange(k)[None, :]
    T = sparse_module(xp).coo_matrix((q.ravel(), (xp.repeat(row, k), columns.ravel())),
                                     shape=(csr.shape[0], csr.shape[1] * k)).tocsr()
    return BlockDiagonal(T, aggregates.count), r.reshape(-1, k)


def _gram(aggregates, row, values):
    """Per-aggregate ``values^T values`` (``(width_total, k, k)``) of the member rows ``values``."""
    xp = aggregates.xp
    k = values.shape[1]
    upper_p, upper_q = np.triu_indices(k)
    products = xp.zeros((aggregates.matrix.shape[0], upper_p.size))
    products[row] = values[:, upper_p] * values[:, upper_q]
    upper = aggregates.matrix.T @ products
    gram = xp.zeros((upper.shape[0], k, k))
    gram[:, upper_p, upper_q] = upper
    gram[:, upper_q, upper_p] = upper
    return gram


def finest_level(A: BlockDiagonal, labels, class_of_label, near_null, *, block=3, theta=0.1):
    """Device part of the setup: the finest tentative prolongator, and what the host needs next.

    Parameters
    ----------
    A : BlockDiagonal
        The batch on the full node grid (2 unknowns per node).
    labels : ndarray, shape (count, H, W)
        The masks, on ``A``'s device.
    class_of_label : ndarray, shape (256,)
        VOID, SOFT or STIFF for every label code.
    near_null : ndarray, shape (unknowns, k)
        Rigid-body modes of one grid, on ``A``'s device.

    Returns
    -------
    T : BlockDiagonal
        The finest tentative prolongator.
    coarse_graph : scipy.sparse.csr_matrix
        Strong connections between the finest aggregates (host).
    coarse_candidates : numpy.ndarray
        The candidates on those aggregates (host).
    """
    xp = A.xp
    count, rows, cols = labels.shape
    aggregates = geometric_aggregates(node_classes(labels, class_of_label), rows, cols, block)
    unknowns = unknowns_to_nodes(count, A.block_shape[0] // 2, 2, xp) @ aggregates
    T, coarse_candidates = fit_candidates_batch(unknowns, xp.tile(near_null, (count, 1)))
    coarse_graph = aggregates.transpose() @ node_strength(A, theta) @ aggregates
    coarse_candidates = coarse_candidates.get() if is_device_array(coarse_candidates) else coarse_candidates
    return T, to_host_graph(coarse_graph), coarse_candidates


def unknowns_to_nodes(count: int, nodes: int, block_size: int, xp) -> BlockDiagonal:
    """``(count * nodes * block_size, count * nodes)``: 1 where an unknown belongs to a node."""
    return BlockDiagonal.repeat(sp.kron(sp.eye(nodes), np.ones((block_size, 1)), format="csr"), count, xp)


def node_strength(A: BlockDiagonal, theta: float, block_size: int = 2) -> BlockDiagonal:
    """Graph of the strong connections between the nodes of every system, on ``A``'s device.

    Parameters
    ----------
    A : BlockDiagonal
        The batch, ``block_size`` consecutive unknowns per node.
    theta : float
        Strength threshold in ``[0, 1)``.

    Returns
    -------
    BlockDiagonal
        ``(count * nodes, count * nodes)``, 1 on strong connections, 0 elsewhere
        in the pattern (and 1 on the diagonal of nodes that have any entry).
    """
    xp = A.xp
    collapse = unknowns_to_nodes(A.count, A.block_shape[0] // block_size, block_size, xp)
    frobenius_sq = collapse.transpose() @ A.with_data(A.matrix.data ** 2) @ collapse
    csr = frobenius_sq.matrix
    diag = csr.diagonal()
    row = xp.searchsorted(csr.indptr, xp.arange(csr.nnz), side="right") - 1
    # ||A_ij||^2 >= theta^2 ||A_ii|| ||A_jj||, all in squared norms
    strong = (csr.data >= theta ** 2 * xp.sqrt(diag[row] * diag[csr.indices])) & (csr.data > 0)
    return frobenius_sq.with_data(strong.astype(csr.data.dtype))


def to_host_graph(graph: BlockDiagonal) -> sp.csr_matrix:
    """The graph on the host, unit weights on its edges only."""
    matrix = graph.matrix.get() if is_device_array(graph.matrix) else graph.matrix
    matrix = sp.csr_matrix(matrix)
    matrix.eliminate_zeros()
    matrix.data[:] = 1.0
    return matrix


def batch_tentative_prolongators(graph, count: int, candidates, *, max_coarse=300, max_levels=10):
    """Tentative prolongators of every level, block-diagonal over the batch.

    Parameters
    ----------
    graph : scipy.sparse.csr_matrix
        Strong-connection graph of the batch's nodes (:func:`to_host_graph`).
    count : int
        Systems in the batch; ``graph`` has ``count`` equal diagonal blocks.
    candidates : ndarray, shape (count * unknowns, c)
        Near-null-space candidates of the whole batch (rigid-body modes, or the
        coarse candidates of the level above), ``unknowns / nodes`` per node.
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
