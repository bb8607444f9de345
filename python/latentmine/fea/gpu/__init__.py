"""GPU labelling: batched finite-element solves on CUDA (CuPy + latentmine._cuda).

:func:`solve_batch` is what ``latentmine.fea.solve(..., device="cuda")`` runs
(also reachable as :func:`solve`); :func:`~latentmine.fea.gpu.solver.solve_masks`
is the lower-level batch solve. The solver pieces are array-module generic and
run on NumPy/SciPy as well, which is how they are tested without a GPU:

* :func:`batched_cg.batched_cg` / :func:`batched_cg.cg`: preconditioned CG with
  per-system scalars;
* :mod:`aggregation` and :mod:`amg`: smoothed-aggregation V-cycle with per-mask
  aggregates and Galerkin operators formed on the device;
* :mod:`chunking`: the memory planner that splits a batch to fit the GPU.

See ``docs/gpu.md`` for the design and the commands.
"""
from .solver import solve_batch

#: The name ``latentmine.fea.solve`` dispatches to.
solve = solve_batch

__all__ = ["solve", "solve_batch"]
