"""Smoothed-aggregation multigrid for a batch of systems on one grid.

Smoothed aggregation (Vaněk, Mandel and Brezina, Computing 56, 1996) builds a
tentative prolongator ``T`` from aggregates of nodes and the near-null space
(the rigid-body modes of elasticity), smooths it with one damped-Jacobi step,
``P = (I - omega / rho(D^-1 A) D^-1 A) T``, and forms the Galerkin coarse
operator ``P^T A P``.

Setup is split by where it runs best:

* the aggregates and ``T`` of every level come from pyamg's aggregation kernels
  on the host, for the whole batch at once (:mod:`.aggregation`);
* ``P`` and ``P^T A P`` are sparse products of the whole batch at once
  (:meth:`SmoothedAggregation.build`), on the device with cupyx.

The V-cycle (:meth:`SmoothedAggregation.matvec`) uses damped Jacobi or Chebyshev
smoothing (Adams, Brezina, Hu and Tuminaro, J. Comput. Phys. 188, 2003), which
need only sparse products and diagonal scalings, and a semi-definite Cholesky
generalised inverse on the coarsest level (the systems may be singular: traction-only elasticity;
:func:`.dense.semidefinite_inverse`, valid for every block size and checked). Equal
pre- and post-smoothing make it a symmetric positive definite preconditioner
for CG. All arrays are NumPy/SciPy or CuPy/cupyx alike.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arrays import array_module, rowdot
from .block_diagonal import BlockDiagonal
from .dense import largest_tridiagonal_eigenvalue, semidefinite_inverse

__all__ = ["SmoothedAggregation", "jacobi_spectral_radius"]


def jacobi_spectral_radius(A: BlockDiagonal, inv_diag, *, steps=12, safety=1.1):
    """Per-system estimate of ``rho(D^-1 A)`` from ``steps`` Lanczos steps, times ``safety``.

    Lanczos on the symmetric ``D^-1/2 A D^-1/2`` (Lanczos, J. Res. NBS 45, 1950)
    finds the largest eigenvalue in a few steps; pyamg's estimate is the same
    idea (Arnoldi). The safety factor keeps the estimate above the true radius,
    which the Chebyshev smoother needs to stay convergent.
    """
    xp = A.xp
    count, n = inv_diag.shape
    scale = xp.sqrt(inv_diag)
    # A quasi-random start (golden-angle phases) made on the device: no host RNG
    # and no transfer on the setup path, and no bias towards smooth modes.
    v = xp.broadcast_to(xp.cos(0.5 + 2.399963229728653 * xp.arange(n)), (count, n)) * xp.ones((count, 1))
    v /= xp.sqrt(rowdot(v, v))[:, None]
    v_prev = xp.zeros_like(v)
    beta = xp.zeros(count)
    alphas, betas = [], []
    for _ in range(min(steps, n)):
        w = scale * A.matvec(scale * v) - beta[:, None] * v_prev
        alpha = rowdot(w, v)
        w -= alpha[:, None] * v
        beta = xp.sqrt(rowdot(w, w))
        alphas.append(alpha)
        betas.append(beta)
        v_prev, v = v, w / xp.where(beta > 0, beta, 1.0)[:, None]
    # Largest Ritz value of the small (count, steps, steps) tridiagonal matrices.
    return safety * largest_tridiagonal_eigenvalue(xp.stack(alphas, axis=1), xp.stack(betas[:-1], axis=1))


def _inverse_diagonal(A: BlockDiagonal):
    xp = A.xp
    diag = A.diagonal()
    return xp.where(diag > 0, 1.0 / xp.where(diag > 0, diag, 1.0), 0.0)


@dataclass
class _Level:
    A: BlockDiagonal
    P: BlockDiagonal
    R: BlockDiagonal
    inv_diag: object  # (k, n) array
    rho: object       # (k,) array, estimate of rho(D^-1 A)

    def take(self, keep, keep_device):
        return _Level(self.A.take(keep), self.P.take(keep), self.R.take(keep), self.inv_diag[keep_device],
                      self.rho[keep_device])


class SmoothedAggregation:
    """A batched smoothed-aggregation V-cycle, usable as ``M`` in :func:`batched_cg`.

    Parameters
    ----------
    levels : list of _Level
    coarse_inverse : ndarray, shape (k, m, m)
    smoother : {"jacobi", "chebyshev"}
    sweeps : int
        Jacobi sweeps, or the Chebyshev degree, before and after the coarse correction.
    """

    def __init__(self, levels, coarse_inverse, *, smoother="chebyshev", sweeps=3):
        if smoother not in ("jacobi", "chebyshev"):
            raise ValueError(f"smoother must be 'jacobi' or 'chebyshev', got {smoother!r}")
        if sweeps < 1:
            raise ValueError(f"sweeps must be >= 1, got {sweeps}")
        self.levels = levels
        self.coarse_inverse = coarse_inverse
        self.smoother = smoother
        self.sweeps = sweeps

    @classmethod
    def build(cls, A: BlockDiagonal, tentative, *, smoother="chebyshev", sweeps=3, prolongation_omega=4.0 / 3.0):
        """Galerkin hierarchy of the batch ``A`` on its tentative prolongators.

        ``tentative`` holds one :class:`BlockDiagonal` batch ``T_l`` per level (from
        :func:`.aggregation.batch_tentative_prolongators`, on ``A``'s device);
        every product below is one sparse product for the whole batch.
        """
        levels = []
        scale = A.diagonal().max(axis=1)  # each system's size, for the coarse solve's rounding floor
        for T in tentative:
            inv_diag = _inverse_diagonal(A)
            rho = jacobi_spectral_radius(A, inv_diag)
            P = T - (A @ T).scale_rows((prolongation_omega / rho)[:, None] * inv_diag)
            R = P.transpose()
            levels.append(_Level(A, P, R, inv_diag, rho))
            A = R @ (A @ P)
        return cls(levels, semidefinite_inverse(A.dense_blocks(), scale), smoother=smoother, sweeps=sweeps)

    @property
    def count(self) -> int:
        return self.coarse_inverse.shape[0]

    def with_finest_operator(self, operator) -> "SmoothedAggregation":
        """The same hierarchy smoothing with ``operator`` (same ``matvec`` as the finest ``A``)."""
        finest = _Level(operator, *(getattr(self.levels[0], f) for f in ("P", "R", "inv_diag", "rho")))
        return SmoothedAggregation([finest] + self.levels[1:], self.coarse_inverse, smoother=self.smoother,
                                   sweeps=self.sweeps)

    def take(self, keep) -> "SmoothedAggregation":
        """The hierarchy of the systems ``keep`` only."""
        keep = np.asarray(keep)
        keep_device = array_module(self.coarse_inverse).asarray(keep)
        return SmoothedAggregation([lvl.take(keep, keep_device) for lvl in self.levels],
                                   self.coarse_inverse[keep_device], smoother=self.smoother, sweeps=self.sweeps)

    def matvec(self, B):
        """One V-cycle from a zero guess: ``(k, n)`` residuals to ``(k, n)`` corrections."""
        return self._cycle(0, B)

    def _cycle(self, depth, b):
        if depth == len(self.levels):
            return (self.coarse_inverse @ b[:, :, None])[:, :, 0]
        level = self.levels[depth]
        x = self._smooth(level, b, None)
        coarse = self._cycle(depth + 1, level.R.matvec(b - level.A.matvec(x)))
        x = x + level.P.matvec(coarse)
        return self._smooth(level, b, x)

    def _smooth(self, level, b, x):
        if self.smoother == "jacobi":
            return _jacobi(level, b, x, self.sweeps)
        return _chebyshev(level, b, x, self.sweeps)


def _jacobi(level, b, x, sweeps, omega=4.0 / 3.0):
    """Damped Jacobi, ``x += omega / rho D^-1 (b - A x)``; ``x = None`` means a zero guess."""
    weight = (omega / level.rho)[:, None] * level.inv_diag
    for _ in range(sweeps):
        x = weight * b if x is None else x + weight * (b - level.A.matvec(x))
    return x


def _chebyshev(level, b, x, degree, lower_ratio=1.0 / 30.0):
    """Chebyshev polynomial of ``D^-1 A`` on ``[rho / 30, rho]`` (Saad, Iterative Methods, Alg. 12.1)."""
    upper = level.rho[:, None]
    lower = lower_ratio * upper
    theta, delta = (upper + lower) / 2, (upper - lower) / 2
    sigma = theta / delta
    residual = level.inv_diag * (b if x is None else b - level.A.matvec(x))
    step = residual / theta
    x = step if x is None else x + step
    rho_k = 1.0 / sigma
    for _ in range(degree - 1):
        residual = residual - level.inv_diag * level.A.matvec(step)
        rho_next = 1.0 / (2.0 * sigma - rho_k)
        step = rho_next * rho_k * step + (2.0 * rho_next / delta) * residual
        x = x + step
        rho_k = rho_next
    return x
