"""Small dense problems of the AMG setup, batched, valid for every size and checked.

The setup used to hand these to ``xp.linalg.eigh`` / ``eigvalsh``. On a GPU, a
batched CuPy ``eigh`` is cuSOLVER's ``syevjBatched``, documented for matrices up
to 32 x 32, and CuPy's linalg error state ignores non-convergence by default;
the coarse blocks are 40 to 300 wide. So each problem gets a method with no
size limit and no silent failure:

* :func:`sym3_eigh`: the closed-form 3 x 3 eigensolver of ``sym3_eigen.hpp``
  (a CUDA kernel, or its CPU twin), for the Gram matrices of the candidate fit;
* :func:`largest_tridiagonal_eigenvalue`: LAPACK on the host for the tiny
  Lanczos matrices of the ``rho(D^-1 A)`` estimate;
* :func:`semidefinite_inverse`: the Moore-Penrose inverse from a semi-definite
  Cholesky factorisation, written with batched array operations, for the
  coarsest level.

Each checks its result and raises :class:`FactorizationError` naming the blocks
that failed; the solver adds the chunk (``solver._ChunkContext``).
"""
from __future__ import annotations

import numpy as np

from .arrays import array_module, pointer, to_host

__all__ = ["FactorizationError", "sym3_eigh", "largest_tridiagonal_eigenvalue", "semidefinite_inverse"]


class FactorizationError(ArithmeticError):
    """A batched factorisation or eigen-decomposition of the setup failed on some blocks."""


def _raise_on_bad(bad, what):
    bad = np.flatnonzero(to_host(bad))
    if bad.size:
        shown = ", ".join(str(b) for b in bad[:8]) + (" ..." if bad.size > 8 else "")
        raise FactorizationError(f"{what} failed on {bad.size} block(s): {shown}")


def sym3_eigh(a):
    """Eigenvalues (ascending) and eigenvectors (columns) of ``(k, 3, 3)`` symmetric matrices.

    ``numpy.linalg.eigh``'s result layout. The closed form of
    ``latentmine/sym3_eigen.hpp``, one CUDA thread (or one loop iteration of the
    CPU twin) per matrix; only the upper triangles are read.

    Raises
    ------
    FactorizationError
        For blocks whose result is not finite (a NaN or infinite input).
    """
    from .kernels import native_module, stream_of

    xp = array_module(a)
    a = xp.ascontiguousarray(a, dtype=xp.float64)
    if a.ndim != 3 or a.shape[1:] != (3, 3):
        raise ValueError(f"sym3_eigh needs (k, 3, 3) matrices, got shape {a.shape}")
    w = xp.empty((len(a), 3))
    vectors = xp.empty((len(a), 3, 3))
    if len(a):
        native_module(xp).sym3_eigh(pointer(a), len(a), pointer(w), pointer(vectors), stream_of(xp))
    _raise_on_bad(~xp.isfinite(w).all(axis=1), "the 3 x 3 eigen-decomposition")
    return w, vectors


def largest_tridiagonal_eigenvalue(diagonal, off_diagonal):
    """Largest eigenvalue of every symmetric tridiagonal matrix of a batch.

    Parameters
    ----------
    diagonal : ndarray, shape (k, m)
    off_diagonal : ndarray, shape (k, m - 1)

    The matrices are the few-step Lanczos projections of the setup (``m`` about
    12), so they are downloaded (``k * (2m - 1)`` numbers, one transfer) and
    solved by LAPACK, which reports non-convergence; the result goes back to
    ``diagonal``'s device.

    Raises
    ------
    FactorizationError
        When LAPACK does not converge or a result is not finite.
    """
    xp = array_module(diagonal)
    d, e = to_host(diagonal), to_host(off_diagonal)
    k, m = d.shape
    tri = np.zeros((k, m, m))
    index = np.arange(m)
    tri[:, index, index] = d
    tri[:, index[:-1], index[1:]] = tri[:, index[1:], index[:-1]] = e
    bad = ~np.isfinite(tri).all(axis=(1, 2))
    _raise_on_bad(bad, "the Lanczos tridiagonal eigenvalue problem")
    try:
        largest = np.linalg.eigvalsh(tri)[:, -1]
    except np.linalg.LinAlgError as error:
        raise FactorizationError(f"the Lanczos tridiagonal eigenvalue problem: {error}") from error
    return xp.asarray(largest)


def semidefinite_inverse(blocks, scale=None, *, drop=1e-7, negative=1e-6, noise=1e-9):
    """Moore-Penrose inverse of every symmetric positive semi-definite block of a batch.

    The coarsest AMG level of a traction-only system is singular (rigid motions,
    one set per connected piece of tissue; padded, empty unknowns). Built from
    batched matrix products only, with no size limit and every pivot checked:

    1. A Cholesky factorisation without pivoting meets the rank deficiency as
       pivots that vanish (to rounding) relative to their column's diagonal;
       those columns are dropped (semi-definite Cholesky; Higham, "Accuracy and
       Stability of Numerical Algorithms", 2nd ed., 10.3). ``G = L^+T L^+`` is
       then a symmetric generalised inverse, ``A G A = A``.
    2. The dropped columns give a basis ``V`` of the null space (``L^T v = 0``
       by back substitution), and ``Pi = I - V (V^T V)^-1 V^T`` projects onto the
       range; ``A^+ = Pi G Pi``.

    Step 2 matters: ``G`` alone adds null-space (rigid) motion of the size of
    ``||G||`` to every coarse correction; CG then lost accuracy to rounding and
    needed twice the iterations on 32^2 plaques. A shifted inverse
    ``(A + s I)^-1`` was worse: it amplifies the residual's rounding along the
    null space by ``1 / s``, and CG stalled at a relative residual of 1e-6.

    Parameters
    ----------
    blocks : ndarray, shape (k, m, m)
    scale : ndarray, shape (k,), optional
        The size of each system's operator (the solver passes the fine level's
        largest diagonal entry); by default the block's own. A coarsest block can
        be all null space, its entries rounding noise of either sign, which says
        nothing about scale.
    drop : float
        A pivot at most ``drop`` times its column's diagonal is treated as zero.
        On the 32^2 test plaques the rounding pivots were at most 2e-10 of their
        diagonal and the genuine ones at least 3e-2.
    negative : float
        A pivot below ``-negative * scale`` means the block is not semi-definite:
        an error, not rounding.
    noise : float
        Pivots within ``noise * scale`` of zero are rounding, whatever their column.
        On a geometric-multigrid coarsest level with ersatz voids (E_min = 1e-6,
        ``benchmarks/prototype_gmg.py``) rounding reached 3e-11 of the scale, below
        columns whose diagonal is 1e-7 of it; genuine pivots of the aggregation
        hierarchy are far above.

    Raises
    ------
    FactorizationError
        For blocks with a pivot that is not finite or clearly negative.
    """
    xp = array_module(blocks)
    own = xp.max(xp.abs(xp.diagonal(blocks, axis1=1, axis2=2)), axis=1)
    scale = own if scale is None else xp.maximum(xp.asarray(scale), own)
    L, kept, bad = _semidefinite_cholesky(blocks, noise * scale, drop, negative * scale)
    _raise_on_bad(bad, "the Cholesky factorisation of the coarsest level")
    pseudo_L = _lower_pseudo_inverse(L, kept)
    G = xp.swapaxes(pseudo_L, 1, 2) @ pseudo_L
    V = _null_basis(L, kept)
    gram = xp.swapaxes(V, 1, 2) @ V  # zero rows and columns where a pivot was kept
    gram_scale = xp.max(xp.diagonal(gram, axis1=1, axis2=2), axis=1)
    gram_L, gram_kept, gram_bad = _semidefinite_cholesky(gram, noise * gram_scale, drop, negative * gram_scale)
    _raise_on_bad(gram_bad | (gram_kept == kept).any(axis=1), "the null-space basis of the coarsest level")
    gram_pseudo_L = _lower_pseudo_inverse(gram_L, gram_kept)
    W = V @ xp.swapaxes(gram_pseudo_L, 1, 2)  # orthonormal basis of the null space
    projector = xp.eye(blocks.shape[1]) - W @ xp.swapaxes(W, 1, 2)
    return projector @ G @ projector


def _semidefinite_cholesky(blocks, floor, drop, negative):
    """Left-looking Cholesky that drops vanishing pivots: ``(L, kept (k, m), bad (k,))``.

    ``floor`` (k,): pivots within it of zero are rounding; ``negative`` (k,): a pivot
    below ``-negative`` is an error.
    """
    xp = array_module(blocks)
    k, m, _ = blocks.shape
    diagonal = xp.diagonal(blocks, axis1=1, axis2=2)
    L = xp.zeros_like(blocks)
    kept = xp.zeros((k, m), dtype=bool)
    bad = xp.zeros(k, dtype=bool)
    for j in range(m):
        column = blocks[:, j:, j]
        if j:  # no empty products: zero inner dimensions are an edge case of batched GEMM libraries
            column = column - (L[:, j:, :j] @ L[:, j, :j, None])[:, :, 0]
        pivot, reference = column[:, 0], xp.abs(diagonal[:, j])
        bad |= ~xp.isfinite(pivot) | (pivot < -negative)
        kept[:, j] = (pivot > drop * reference) & (pivot > floor)
        root = xp.sqrt(xp.where(kept[:, j], pivot, 1.0))
        L[:, j:, j] = xp.where(kept[:, j, None], column / root[:, None], 0.0)
    return L, kept, bad


def _lower_pseudo_inverse(L, kept):
    """``L^+`` of a lower-triangular ``L`` whose dropped columns are zero: rows by forward substitution."""
    xp = array_module(L)
    m = L.shape[1]
    pseudo = xp.zeros_like(L)
    identity = xp.eye(m)
    for i in range(m):
        row = identity[i] - (L[:, i, None, :i] @ pseudo[:, :i, :])[:, 0, :] if i else identity[0]
        pivot = xp.where(kept[:, i], L[:, i, i], 1.0)
        pseudo[:, i, :] = xp.where(kept[:, i, None], row / pivot[:, None], 0.0)
    return pseudo


def _null_basis(L, kept):
    """Columns ``j`` (dropped) solving ``L^T v = 0`` with ``v_j = 1``; zero columns where kept."""
    xp = array_module(L)
    k, m, _ = L.shape
    V = xp.zeros_like(L)
    index = xp.arange(m)
    V[:, index, index] = ~kept
    for i in range(m - 2, -1, -1):
        solved = -(L[:, i + 1:, i][:, None, :] @ V[:, i + 1:, :])[:, 0, :] / xp.where(kept[:, i], L[:, i, i],
                                                                                       1.0)[:, None]
        V[:, i, :] = xp.where(kept[:, i, None], solved, V[:, i, :])
    return V
