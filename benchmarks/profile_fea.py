"""Per-stage timings of one CPU label, and the AMG variants tried (docs/fea.md).

    PYTHONPATH=python .venv/bin/python benchmarks/profile_fea.py [--size 256] [--repeats 5] [--variants]
        [--method direct|amg] [--threaded-blas]

Prints median milliseconds (wall and this thread's CPU time) of each stage of ``latentmine.fea.solve`` (``--method``
direct, the default up to 250k DOFs, or amg) on the example plaque: assembly
(with the nested-dissection numbering on the direct path), rigid-body modes,
setup (AMG hierarchy, or the sparse Cholesky factorisation), solve (projected
CG, or refinement), stress recovery and PSS. With ``--variants``, also
setup/solve/iterations of the pyamg configurations compared when choosing
``AMG_OPTIONS``, and the factor size, flops and time of the sparse Cholesky
for several leaf sizes of the dissection.
"""
import argparse
import os
import time

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from latentmine.backend import core
from latentmine.fea.assembly import assemble, lame_tables, pattern_of, stiffness_table
from latentmine.fea.cholesky import factorise
from latentmine.fea.examples import plaque_mask
from latentmine.fea.materials import resolve_materials
from latentmine.fea.ordering import dissection
from latentmine.fea.pss import plaque_structural_stress
from latentmine.fea.solver import (AMG_OPTIONS, DIRECT_SHIFT, amg_preconditioner, projected_cg, refine,
                                   rigid_body_modes)

PIXEL_MM, PRESSURE = 0.031, 16.0
VARIANTS = {
    "pyamg defaults (B = rigid modes)": dict(),
    "no candidate improvement": dict(improve_candidates=None),
    "+ forward/backward Gauss-Seidel, sparse LU coarse": dict(AMG_OPTIONS, strength=("symmetric", {"theta": 0.0})),
    "+ symmetric strength theta 0.05 (chosen)": AMG_OPTIONS,
    "+ symmetric strength theta 0.1": dict(AMG_OPTIONS, strength=("symmetric", {"theta": 0.1})),
    "+ symmetric strength theta 0.2": dict(AMG_OPTIONS, strength=("symmetric", {"theta": 0.2})),
    "+ evolution strength": dict(AMG_OPTIONS, strength="evolution"),
    "Jacobi smoothing (2 sweeps) instead of Gauss-Seidel": dict(
        AMG_OPTIONS, presmoother=("jacobi", {"omega": 2 / 3, "iterations": 2}),
        postsmoother=("jacobi", {"omega": 2 / 3, "iterations": 2})),
}


def stages(mask, materials, method):
    table = stiffness_table(materials)
    lam, mu = lame_tables(materials)
    clock = [(time.perf_counter(), time.thread_time())]

    def tick():
        clock.append((time.perf_counter(), time.thread_time()))

    direct = method == "direct"
    system = assemble(mask, table, pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE, dissect=direct)
    tick()
    modes = rigid_body_modes(system.pattern.node_id, system.components)
    tick()
    if direct:
        tree = system.pattern.dissection
        factor = factorise(system.stiffness, tree.first, tree.parent, DIRECT_SHIFT)
        tick()
        u, iterations, _ = refine(system.stiffness, system.load, modes, factor)
    else:
        preconditioner = amg_preconditioner(system.stiffness, modes)
        tick()
        u, iterations, _ = projected_cg(system.stiffness, system.load, preconditioner, modes, rtol=1e-6)
    tick()
    planes = core().fea_recover_stress(system.material, mask, lam, mu, system.pattern.node_id, u, PIXEL_MM)
    tick()
    plaque_structural_stress(planes[5], mask, PIXEL_MM)
    tick()
    return np.diff(np.array(clock), axis=0) * 1e3, iterations


def cholesky_variants(mask, materials):
    material = (mask >= 2).astype(np.uint8)
    table = stiffness_table(materials)
    for leaf in (4, 8, 16, 32, 64):
        start = time.perf_counter()
        tree = dissection(material, leaf=leaf)
        pattern = pattern_of(material, tree.node_id)
        values = core().fea_fill_values(material, mask, table, pattern.node_id, pattern.indptr)
        ordered = time.perf_counter()
        stiffness = sp.csr_matrix((values, pattern.indices, pattern.indptr), shape=(pattern.dofs,) * 2)
        factor = factorise(stiffness, tree.first, tree.parent, DIRECT_SHIFT)
        end = time.perf_counter()
        print(f"  Cholesky, leaf {leaf:3d} nodes: {factor.supernodes:5d} fronts (largest {factor.largest_front}), "
              f"{factor.factor_entries / 1e6:5.2f}M entries, {factor.flops / 1e6:5.0f} Mflop; dissection + "
              f"pattern + fill {1e3 * (ordered - start):5.1f} ms, factorisation {1e3 * (end - ordered):6.1f} ms")


def variants(mask, materials):
    system = assemble(mask, stiffness_table(materials), pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE)
    modes = rigid_body_modes(system.pattern.node_id, system.components)
    for name, options in VARIANTS.items():
        start = time.perf_counter()
        preconditioner = amg_preconditioner(system.stiffness, modes, options)
        setup = time.perf_counter()
        _, iterations, _ = projected_cg(system.stiffness, system.load, preconditioner, modes, rtol=1e-6)
        end = time.perf_counter()
        print(f"  {name:52s} setup {1e3 * (setup - start):6.0f} ms  solve {1e3 * (end - setup):6.0f} ms  "
              f"{iterations:4d} iterations")
    cholesky_variants(mask, materials)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--method", choices=["direct", "amg"], default="direct")
    parser.add_argument("--variants", action="store_true")
    parser.add_argument("--threaded-blas", action="store_true",
                        help="leave BLAS threads as they are (latentmine.fea.solve caps them at one)")
    args = parser.parse_args()
    mask, materials = plaque_mask(args.size), resolve_materials(None)
    print(f"plaque {args.size}^2, {int((mask >= 2).sum())} wall pixels, load average {os.getloadavg()}")
    with threadpool_limits(limits=None if args.threaded_blas else 1, user_api="blas"):
        runs = [stages(mask, materials, args.method) for _ in range(args.repeats)]
        times = np.median([r[0] for r in runs], axis=0)
        setup = "factorisation" if args.method == "direct" else "AMG setup"
        names = ["assembly", "rigid modes", setup, "solve", "stress recovery", "PSS"]
        # CPU time of this thread, beside the wall time: on the shared machine it is the steadier figure.
        print(f"  {'stage':16s} {'wall':>8s}    {'CPU':>8s}")
        for name, (wall, cpu) in zip(names, times):
            print(f"  {name:16s} {wall:8.1f} ms {cpu:8.1f} ms")
        steps = "refinement steps" if args.method == "direct" else "CG iterations"
        wall, cpu = times.sum(axis=0)
        print(f"  {'total':16s} {wall:8.1f} ms {cpu:8.1f} ms  ({runs[0][1]} {steps})")
        if args.variants:
            variants(mask, materials)


if __name__ == "__main__":
    main()
