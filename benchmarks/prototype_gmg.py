"""CG iterations of the geometric-multigrid design of docs/gpu.md, prototyped on the CPU.

    PYTHONPATH=python .venv/bin/python benchmarks/prototype_gmg.py 64 256

The question the design leaves open is the iteration count, not the bandwidth: point
smoothers and geometric coarsening at nu = 0.49 (selective reduced integration) across
tissue and ersatz-void interfaces. This builds the design's hierarchy with the solver's own
pieces: the full grid with the CPU path's ersatz voids (``label_tables(full_grid=True)``),
bilinear prolongation of nodal values by 2 x 2 elements down to 8^2 elements, Galerkin
coarse operators ``P^T A P`` (assembled here with SciPy; the design forms them from
per-element moduli on the device), the package's Chebyshev(3) V-cycle
(:class:`~latentmine.fea.gpu.amg.SmoothedAggregation` with these levels) and its batched CG.
It prints the iterations next to those of the smoothed-aggregation solver on the same masks.
"""
import sys

import numpy as np
import scipy.sparse as sp

from latentmine.fea import examples
from latentmine.fea.gpu.amg import SmoothedAggregation, _Level, _inverse_diagonal, jacobi_spectral_radius
from latentmine.fea.gpu.batched_cg import batched_cg
from latentmine.fea.gpu.block_diagonal import BlockDiagonal
from latentmine.fea.gpu.dense import semidefinite_inverse
from latentmine.fea.gpu.grid import grid_pattern
from latentmine.fea.gpu.kernels import BatchKernels, label_tables
from latentmine.fea.gpu.solver import solve_masks

PRESSURE, RTOL, COARSEST, MAXITER = 16.0, 1e-8, 8, 2000


def bilinear(elements: int) -> sp.csr_matrix:
    """Nodal interpolation from ``elements / 2 + 1`` to ``elements + 1`` nodes on a line."""
    coarse = elements // 2
    entries = []  # (fine node, coarse node, weight)
    for i in range(elements + 1):
        entries += [(i, i // 2, 1.0)] if i % 2 == 0 else [(i, i // 2, 0.5), (i, i // 2 + 1, 0.5)]
    rows, cols, vals = zip(*entries)
    return sp.csr_matrix((vals, (rows, cols)), shape=(elements + 1, coarse + 1))


def gmg_iterations(masks) -> np.ndarray:
    count, size, _ = masks.shape
    pattern = grid_pattern(size, size)
    kernels = BatchKernels(np, pattern, label_tables(full_grid=True))
    values = kernels.fill_values(masks)
    A = BlockDiagonal.from_pattern(pattern.indptr, pattern.indices, values, (pattern.dofs,) * 2)
    loads = kernels.pressure_load(masks, PRESSURE, 8.0 / size)
    levels, elements = [], size
    while elements > COARSEST:
        line = bilinear(elements)
        P = BlockDiagonal.repeat(sp.kron(sp.kron(line, line), sp.eye(2)).tocsr(), count, np)
        inv_diag = _inverse_diagonal(A)
        levels.append(_Level(A, P, P.transpose(), inv_diag, jacobi_spectral_radius(A, inv_diag)))
        A = P.transpose() @ (A @ P)
        elements //= 2
    M = SmoothedAggregation(levels, semidefinite_inverse(A.dense_blocks()))
    _, info, iterations = batched_cg(levels[0].A, loads, rtol=RTOL, maxiter=MAXITER, M=M)
    return [int(it) if ok == 0 else f"not converged in {MAXITER}" for it, ok in zip(iterations, info)]


def main(sizes):
    for size in sizes:
        base = examples.plaque_mask(size)
        masks = np.stack([np.rot90(base, k) for k in range(4)])
        gmg = gmg_iterations(masks)
        amg = solve_masks(masks, pixel_size_mm=8.0 / size, pressure_kpa=PRESSURE, xp=np, rtol=RTOL,
                          overlap=False).iterations
        print(f"{size}^2 plaque, 4 rotations, rtol {RTOL:g}: geometric MG-CG {gmg}, "
              f"smoothed-aggregation CG {amg.tolist()}", flush=True)


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [64])
