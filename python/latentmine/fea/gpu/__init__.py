"""GPU labelling: batched finite-element solves on CUDA (CuPy + latentmine._cuda).

The solver pieces are array-module generic and run on NumPy/SciPy as well, which
is how they are tested on machines without a GPU:

* :func:`batched_cg.batched_cg` / :func:`batched_cg.cg`: preconditioned CG with
  per-system scalars;
* :mod:`amg`: smoothed-aggregation V-cycle whose aggregates come from pyamg once
  per grid size and whose Galerkin operators are formed on the device;
* :mod:`chunking`: the memory planner that splits a batch to fit the GPU.

See ``docs/gpu.md`` for the design and the commands.
"""
