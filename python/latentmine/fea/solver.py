"""Solvers for the singular, traction-only system: sparse Cholesky with refinement, or AMG-preconditioned CG.

With only tractions on its boundary, each body floats: the stiffness matrix K
has the rigid-body modes (two translations and one rotation per body) as its
null space, and the pressure load, which sums to zero force and moment on a
closed lumen, is orthogonal to them, so K u = f is consistent. Rather than
pinning single DOFs (which breaks the 2 x 2 nodal blocks that block smoothers
and aggregation rely on), CG runs on the range of K: the rigid modes are
projected out of the residual and of every preconditioned vector (Bochev and
Lehoucq, "On the finite element solution of the pure Neumann problem",
SIAM Review 47, 2005; Kaasschieter, "Preconditioned conjugate gradients for
solving singular systems", J Comput Appl Math 24, 1988).

The preconditioner is one V-cycle of smoothed aggregation AMG (Vanek, Mandel
and Brezina, Computing 56, 1996) from pyamg, given the rigid-body modes of the
masked domain as near-null space.

For systems up to ``DIRECT_MAX_DOFS`` a multifrontal sparse Cholesky
(:mod:`latentmine.fea.cholesky`, on unknowns in nested-dissection order) of
the same uniformly shifted matrix, followed by iterative refinement on the
unshifted one, is faster on these machines and does not slow down as
nu -> 1/2, where AMG-CG needs hundreds of iterations. Timings and the 512^2
comparison behind ``DIRECT_MAX_DOFS`` are in docs/fea.md.
"""
from __future__ import annotations

import numpy as np
import pyamg
import scipy.sparse as sp

from .cholesky import factorise

#: pyamg options, chosen by measurement (docs/fea.md): the default candidate
#: improvement (Gauss-Seidel sweeps on B) costs setup time and buys nothing
#: when B is the exact rigid-body null space; a sparse LU of the (shifted,
#: non-singular) coarsest level replaces the default dense pseudo-inverse,
#: whose SVD alone took 200 ms at 64^2; forward then backward Gauss-Seidel
#: keeps the V-cycle symmetric at half the smoothing work of symmetric sweeps;
#: dropping connections weaker than theta = 0.05 cut CG iterations from 86 to
#: 60 on the 256^2 plaque (nu = 0.49).
AMG_OPTIONS = dict(improve_candidates=None, max_coarse=500, coarse_solver="splu",
                   strength=("symmetric", {"theta": 0.05}),
                   presmoother=("gauss_seidel", {"sweep": "forward"}),
                   postsmoother=("gauss_seidel", {"sweep": "backward"}))


def rigid_body_modes(node_id: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Orthonormal rigid-body modes, three per body, as columns of a (2 * kept, 3 * bodies) array.

    ``node_id`` (H+1, W+1) numbers the kept nodes; ``components`` gives the
    body of each node. Coordinates are in pixels about each body's centroid,
    which keeps the basis well conditioned; bodies share no node, so the
    per-body blocks are orthogonal already.
    """
    kept = node_id >= 0
    ids = node_id[kept]
    rows, cols = np.empty(len(ids)), np.empty(len(ids))
    rows[ids], cols[ids] = np.nonzero(kept)
    body = np.empty(len(ids), np.int64)
    body[ids] = components[kept]
    _, body = np.unique(body, return_inverse=True)
    bodies = int(body.max()) + 1 if len(body) else 0
    count = np.bincount(body, minlength=bodies)
    x = cols - (np.bincount(body, cols, bodies) / count)[body]
    y = rows - (np.bincount(body, rows, bodies) / count)[body]
    modes = np.zeros((2 * len(ids), 3 * bodies))
    k = np.arange(len(ids))
    modes[2 * k, 3 * body] = 1.0
    modes[2 * k + 1, 3 * body + 1] = 1.0
    modes[2 * k, 3 * body + 2] = -y
    modes[2 * k + 1, 3 * body + 2] = x
    norms = np.linalg.norm(modes, axis=0)
    # Translations and the rotation about the centroid are orthogonal already.
    return modes / norms


#: Relative shift of the matrix the AMG hierarchy is built from.
PRECONDITIONER_SHIFT = 1e-8
#: Relative shift of the matrix the sparse Cholesky factorises: small enough
#: that one refinement step reaches rtol 1e-6 on 256^2 plaques and phantoms
#: (docs/fea.md), while the shifted matrix stays safely positive definite.
DIRECT_SHIFT = 1e-12
#: Largest system solved by the sparse Cholesky when the method is "auto". On
#: the 512^2 plaque (231k DOFs) the Cholesky took 1.3 s of CPU time and peaked
#: at 0.38 GB, AMG-CG 7.5 s and 0.36 GB (docs/fea.md): above this size the
#: limit is the factor's memory, which grows as n log n, not the time.
DIRECT_MAX_DOFS = 250_000


def _shifted(stiffness, relative=PRECONDITIONER_SHIFT):
    """``stiffness + s I``, s = ``relative`` times the mean diagonal.

    The same shift on every DOF keeps the 2 x 2 nodal blocks and makes the
    matrix (and every AMG level) non-singular.
    """
    shift = relative * stiffness.diagonal().mean()
    return stiffness + sp.identity(stiffness.shape[0], format="csr") * shift


def amg_preconditioner(stiffness: sp.csr_matrix, modes: np.ndarray, options=None):
    """One smoothed-aggregation V-cycle as a linear operator.

    The hierarchy is built from the shifted matrix (:func:`_shifted`), so the
    coarsest level can be factorised; CG still solves the unshifted system.
    ``options`` replace ``AMG_OPTIONS`` (for comparisons).
    """
    hierarchy = pyamg.smoothed_aggregation_solver(_shifted(stiffness), B=modes, **(AMG_OPTIONS if options is None else options))
    return hierarchy.aspreconditioner(cycle="V")


def projected_cg(stiffness, load, preconditioner, modes, *, rtol=1e-6, maxiter=1000):
    """Solve the consistent singular system ``stiffness @ u = load`` by projected PCG.

    Parameters
    ----------
    stiffness : sparse matrix
        Symmetric positive semi-definite, null space spanned by ``modes``.
    load : ndarray
        Right-hand side, orthogonal to ``modes`` up to round-off.
    preconditioner : LinearOperator
        Symmetric positive definite approximation of the inverse.
    modes : ndarray
        Orthonormal basis of the null space (columns).
    rtol, maxiter
        Stop when ``||load - stiffness @ u|| <= rtol * ||load||``.

    Returns
    -------
    u : ndarray
        Solution orthogonal to ``modes``.
    iterations : int
    residual : float
        Relative residual of the returned ``u``, recomputed from it.
    """
    def project(v):
        return v - modes @ (modes.T @ v)

    norm = np.linalg.norm(load)
    u = np.zeros_like(load)
    if norm == 0.0:
        return u, 0, 0.0
    r = project(load)
    z = project(preconditioner @ r)
    p = z.copy()
    rz = r @ z
    iterations = 0
    while iterations < maxiter and np.linalg.norm(r) > rtol * norm:
        q = stiffness @ p
        alpha = rz / (p @ q)
        u += alpha * p
        r -= alpha * q
        z = project(preconditioner @ r)
        rz, rz_old = r @ z, rz
        p = z + (rz / rz_old) * p
        iterations += 1
    u = project(u)
    return u, iterations, float(np.linalg.norm(load - stiffness @ u) / norm)


def direct_solve(stiffness, load, modes, dissection, *, rtol=1e-6, maxiter=10):
    """Sparse Cholesky of the shifted matrix, then iterative refinement of the singular system.

    ``stiffness`` has its nodes numbered by ``dissection``
    (:class:`~latentmine.fea.ordering.Dissection`). Returns ``(u, steps,
    relative residual)`` like :func:`projected_cg`.
    """
    if np.linalg.norm(load) == 0.0:
        return np.zeros_like(load), 0, 0.0
    factor = factorise(stiffness, dissection.first, dissection.parent, DIRECT_SHIFT)
    return refine(stiffness, load, modes, factor, rtol=rtol, maxiter=maxiter)


def refine(stiffness, load, modes, factor, *, rtol=1e-6, maxiter=10):
    """Iterative refinement of the singular system with the factor of the shifted matrix.

    Each step solves the shifted system for the residual and removes the
    rigid-body part; the error shrinks by about shift / (smallest non-zero
    eigenvalue) per step. Returns ``(u, steps, relative residual)``.
    """
    norm = np.linalg.norm(load)
    u = np.zeros_like(load)
    residual, steps = load, 0
    while steps < maxiter and np.linalg.norm(residual) > rtol * norm:
        step = factor.solve(residual)
        u += step - modes @ (modes.T @ step)
        residual = load - stiffness @ u
        steps += 1
    return u, steps, float(np.linalg.norm(residual) / norm) if norm > 0 else 0.0
