"""Preconditioned conjugate gradients over a batch of independent systems.

Each system ``A_s x_s = b_s`` of the batch runs its own CG recurrence
(Hestenes and Stiefel, J. Res. NBS 49, 1952), with its own ``alpha`` and
``beta``: the inner products are per-row reductions of ``(k, n)`` arrays, so one
sparse product per iteration serves the whole batch while no system waits for
another's scalars. A system whose residual meets the tolerance is frozen at
once (its step becomes zero); the frozen systems leave the arrays and the
operators (:meth:`BlockDiagonal.take`) as soon as they make up half of what is
stored, which bounds the work spent on them by a factor of two and the number
of compactions by ``log2(k)``.

The code is array-module generic: NumPy/SciPy on the CPU (where it is tested)
and CuPy/cupyx on a GPU. :func:`cg` solves one system with the signature of
:func:`scipy.sparse.linalg.cg` and :func:`cupyx.scipy.sparse.linalg.cg`.
"""
from __future__ import annotations

import numpy as np

from .arrays import array_module, rowdot, to_host

__all__ = ["batched_cg", "cg"]


def batched_cg(A, B, X0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None,
               compact_fraction=0.5):
    """Solve ``A_s x_s = b_s`` for every system ``s`` of a batch with preconditioned CG.

    Parameters
    ----------
    A : batched operator
        ``A.matvec(X)`` maps ``(k, n)`` to ``(k, n)`` (row ``s`` by system ``s``)
        and ``A.take(keep)`` returns the operator of the systems ``keep``, for
        example a :class:`~latentmine.fea.gpu.block_diagonal.BlockDiagonal`.
        Each system must be symmetric positive (semi-)definite; a singular
        system must be consistent (``b_s`` in its range).
    B : ndarray, shape (N, n)
        Right-hand sides, NumPy or CuPy.
    X0 : ndarray, shape (N, n), optional
        Starting guesses; zeros by default.
    rtol, atol : float
        System ``s`` has converged when ``||b_s - A_s x_s|| <= max(rtol ||b_s||, atol)``,
        SciPy's criterion.
    maxiter : int, optional
        Iteration limit per system; ``10 n`` by default.
    M : batched operator, optional
        Preconditioner with the same ``matvec``/``take`` protocol, approximating
        each ``A_s^{-1}``; symmetric positive definite.
    callback : callable, optional
        Called after each iteration as ``callback(X)`` with the ``(N, n)`` iterate.
    compact_fraction : float
        Drop the frozen systems from the arrays once the live ones are at most
        this fraction of those stored.

    Returns
    -------
    X : ndarray, shape (N, n)
    info : numpy.ndarray of int, shape (N,)
        0 for a converged system, else ``maxiter`` (SciPy's convention).
    iterations : numpy.ndarray of int, shape (N,)
        Iterations each system took.
    """
    xp = array_module(B)
    count, n = B.shape
    maxiter = 10 * n if maxiter is None else int(maxiter)
    X = xp.zeros_like(B) if X0 is None else xp.array(X0, dtype=B.dtype, copy=True)
    info = np.full(count, maxiter, dtype=np.int64)
    iterations = np.zeros(count, dtype=np.int64)
    b_norm = xp.sqrt(rowdot(B, B))
    zero_rhs = to_host(b_norm == 0)
    X[xp.asarray(zero_rhs)] = 0  # SciPy returns x = 0 for b = 0
    info[zero_rhs] = 0
    systems = np.flatnonzero(~zero_rhs)
    if systems.size == 0:
        return X, info, iterations
    if systems.size < count:
        A, M = A.take(systems), (M.take(systems) if M is not None else None)
    tol_sq = xp.maximum(rtol * b_norm[xp.asarray(systems)], atol) ** 2
    Xs = X[xp.asarray(systems)]
    R = B[xp.asarray(systems)] - A.matvec(Xs)
    P = rz = None
    for it in range(maxiter + 1):
        live_device = rowdot(R, R) > tol_sq
        live = to_host(live_device)
        just_converged = systems[~live & (info[systems] != 0)]
        info[just_converged], iterations[just_converged] = 0, it
        iterations[systems[live]] = it
        if not live.any() or it == maxiter:
            break
        if live.sum() <= compact_fraction * live.size:
            X[xp.asarray(systems)] = Xs
            keep = np.flatnonzero(live)
            keep_device = xp.asarray(keep)
            systems, live_device = systems[keep], live_device[keep_device]
            Xs, R, tol_sq = Xs[keep_device], R[keep_device], tol_sq[keep_device]
            if P is not None:
                P, rz = P[keep_device], rz[keep_device]
            A, M = A.take(keep), (M.take(keep) if M is not None else None)
        Z = M.matvec(R) if M is not None else R
        rz_new = rowdot(R, Z)
        if P is None:
            P = Z.copy()
        else:
            P = Z + _ratio(rz_new, rz, live_device)[:, None] * P
        AP = A.matvec(P)
        alpha = _ratio(rz_new, rowdot(P, AP), live_device)
        Xs += alpha[:, None] * P
        R -= alpha[:, None] * AP
        rz = rz_new
        if callback is not None:
            X[xp.asarray(systems)] = Xs
            callback(X)
    X[xp.asarray(systems)] = Xs
    return X, info, iterations


def _ratio(numerator, denominator, live):
    """``numerator / denominator`` on live systems, 0 on frozen ones (which may hold 0 / 0)."""
    xp = array_module(numerator)
    safe = xp.where(live & (denominator != 0), denominator, 1)
    return xp.where(live, numerator / safe, 0)


class _OneSystem:
    """A matrix, ``LinearOperator`` or callable seen as a batch of one system."""

    def __init__(self, operator):
        self.operator = operator

    def matvec(self, X):
        op = self.operator
        y = op.matvec(X[0]) if hasattr(op, "matvec") else op @ X[0]
        return y.reshape(1, -1)

    def take(self, keep):
        return self


def cg(A, b, x0=None, *, rtol=1e-5, atol=0.0, maxiter=None, M=None, callback=None):
    """Conjugate gradients for one system, with SciPy's signature and result.

    ``A`` and ``M`` may be dense or sparse matrices or ``LinearOperator`` s of
    SciPy or cupyx; ``b`` of shape ``(n,)`` or ``(n, 1)``. Returns ``(x, info)``:
    ``info`` is 0 on convergence, else the iteration limit. The batched
    recurrence of :func:`batched_cg` with a batch of one.
    """
    b = b.reshape(-1)
    X, info, _ = batched_cg(_OneSystem(A), b[None, :], None if x0 is None else x0.reshape(1, -1), rtol=rtol,
                            atol=atol, maxiter=maxiter, M=None if M is None else _OneSystem(M),
                            callback=None if callback is None else (lambda X: callback(X[0])))
    return X[0], int(info[0])
