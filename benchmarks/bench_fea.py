"""Label time of the CPU finite-element tool against its peers, in the same run.

    PYTHONPATH=python .venv/bin/python -m pytest benchmarks/bench_fea.py \
        --benchmark-json benchmarks/results/fea.json

Groups:

* ``fea-label-<size>`` (64, 256, 512; the example plaque of
  :func:`latentmine.fea.examples.plaque_mask`, about 28k wall pixels at 256):
  ``latentmine`` = ``latentmine.fea.solve`` with its default method (sparse LU
  in nested-dissection order + refinement up to 250k DOFs, AMG-CG above; rtol
  1e-6; with stress recovery and PSS); ``latentmine_amg`` = the same with
  ``method="amg"``; ``skfem-spsolve`` = scikit-fem
  assembly of the same elements (plain Q4) + ``scipy.sparse.linalg.spsolve``;
  ``pyamg-defaults`` = our matrix, ``pyamg.smoothed_aggregation_solver(A, B)``
  with default settings and ``.solve(tol=1e-6, accel="cg")``. The peers pin
  three DOFs to remove the rigid-body modes (they need a non-singular matrix).
  All run with one BLAS thread (threaded BLAS on the shared 2-core machine
  made every solver several times slower).
* ``fea-label-phantom-256``: a mask of :func:`latentmine.phantoms.generate`.
* ``fea-assembly-<size>``: stiffness and load alone (ours vs scikit-fem).

Each test stores ``masks_per_s``, the DOFs, the CG iterations and
``os.getloadavg()`` in ``extra_info``; the machine is shared and noisy, so
compare medians from one run only. Targets (2 cores, 256^2, nu = 0.49): one
mask <= 100 ms, assembly <= 5 ms, a 64^2 mask <= 5 ms.
"""
import os

import numpy as np
import pyamg
import pytest
import scipy.sparse.linalg as spla
from threadpoolctl import threadpool_limits

from latentmine.fea import solve
from latentmine.fea.assembly import assemble, lame_tables, stiffness_table
from latentmine.fea.examples import plaque_mask
from latentmine.fea.materials import resolve_materials
from latentmine.fea.solver import rigid_body_modes

PIXEL_MM = 0.031
PRESSURE = 16.0
MATERIALS = resolve_materials(None)
TABLE = stiffness_table(MATERIALS)
ROUNDS = {64: 20, 256: 5, 512: 3}


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Every contender gets the one BLAS thread that latentmine.fea.solve uses."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _record(benchmark, **info):
    benchmark.extra_info.update(info, loadavg=os.getloadavg(),
                                masks_per_s=1.0 / benchmark.stats.stats.median)


def _pinned(system):
    """Drop three DOFs (x, y of the first node, x of the last) so that peers get a non-singular system."""
    keep = np.ones(system.stiffness.shape[0], bool)
    keep[[0, 1, system.stiffness.shape[0] - 2]] = False
    return system.stiffness[keep][:, keep].tocsr(), system.load[keep], keep


def _skfem_stiffness(system, mask):
    """scikit-fem assembly of plain bilinear elements on the same nodes and pixels."""
    from skfem import Basis, BilinearForm, ElementQuad0, ElementQuad1, ElementVector, MeshQuad
    from skfem.helpers import ddot, sym_grad, trace

    node_id = system.pattern.node_id
    rows, cols = np.nonzero(node_id >= 0)
    order = np.argsort(node_id[rows, cols])
    points = np.vstack([cols[order], rows[order]]).astype(float) * PIXEL_MM
    r, c = np.nonzero(system.material)
    cells = np.vstack([node_id[r, c], node_id[r, c + 1], node_id[r + 1, c + 1], node_id[r + 1, c]])
    mesh = MeshQuad(points, cells)
    lam, mu = lame_tables(MATERIALS)

    @BilinearForm
    def elasticity(u, v, w):
        return 2 * w["mu"] * ddot(sym_grad(u), sym_grad(v)) + w["lam"] * trace(sym_grad(u)) * trace(sym_grad(v))

    basis = Basis(mesh, ElementVector(ElementQuad1()))
    scalar = basis.with_element(ElementQuad0())  # piecewise-constant moduli, same quadrature
    return elasticity.assemble(basis, lam=scalar.interpolate(lam[mask[r, c]]),
                               mu=scalar.interpolate(mu[mask[r, c]]))


def _skfem_label(mask):
    system = assemble(mask, TABLE, pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE)
    stiffness = _skfem_stiffness(system, mask)
    keep = _pinned(system)[2]
    u = np.zeros(len(keep))
    u[keep] = spla.spsolve(stiffness[keep][:, keep].tocsc(), system.load[keep])
    return u


def _pyamg_defaults(mask):
    system = assemble(mask, TABLE, pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE)
    stiffness, load, keep = _pinned(system)
    modes = rigid_body_modes(system.pattern.node_id, system.components)[keep]
    residuals = []
    pyamg.smoothed_aggregation_solver(stiffness, B=modes).solve(load, tol=1e-6, accel="cg", maxiter=2000,
                                                                residuals=residuals)
    return len(residuals) - 1


@pytest.mark.parametrize("size", [64, 256, 512])
def test_latentmine(benchmark, size):
    benchmark.group = f"fea-label-{size}"
    mask = plaque_mask(size)
    result = benchmark.pedantic(solve, args=(mask,), kwargs=dict(pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE),
                                rounds=ROUNDS[size], warmup_rounds=1)
    assert result.converged.all()
    _record(benchmark, wall_pixels=int((mask >= 2).sum()), iterations=int(result.iterations[0]),
            pss_kpa=float(result.pss[0]))


@pytest.mark.parametrize("size", [64, 256, 512])
def test_latentmine_amg(benchmark, size):
    benchmark.group = f"fea-label-{size}"
    result = benchmark.pedantic(solve, args=(plaque_mask(size),),
                                kwargs=dict(pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE, method="amg"),
                                rounds=ROUNDS[size], warmup_rounds=1)
    _record(benchmark, iterations=int(result.iterations[0]))


@pytest.mark.parametrize("size", [64, 256])
def test_skfem_spsolve(benchmark, size):
    benchmark.group = f"fea-label-{size}"
    benchmark.pedantic(_skfem_label, args=(plaque_mask(size),), rounds=2 if size > 64 else 5)
    _record(benchmark)


@pytest.mark.parametrize("size", [64, 256, 512])
def test_pyamg_defaults(benchmark, size):
    benchmark.group = f"fea-label-{size}"
    iterations = benchmark.pedantic(_pyamg_defaults, args=(plaque_mask(size),), rounds=2 if size > 64 else 5)
    _record(benchmark, iterations=iterations)


def test_latentmine_phantom(benchmark):
    phantoms = pytest.importorskip("latentmine.phantoms")
    cohort = phantoms.generate(1, size=256, seed=0)
    benchmark.group = "fea-label-phantom-256"
    result = benchmark.pedantic(solve, args=(cohort.masks[0],), kwargs=dict(pixel_size_mm=cohort.pixel_size_mm),
                                rounds=5, warmup_rounds=1)
    _record(benchmark, wall_pixels=int((cohort.masks[0] >= 2).sum()), iterations=int(result.iterations[0]))


@pytest.mark.parametrize("size", [256, 512])
def test_assembly(benchmark, size):
    benchmark.group = f"fea-assembly-{size}"
    mask = plaque_mask(size)
    system = benchmark.pedantic(assemble, args=(mask, TABLE),
                                kwargs=dict(pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE), rounds=30)
    _record(benchmark, dofs=int(system.load.size), nnz=int(system.stiffness.nnz))


def test_assembly_full_grid(benchmark):
    benchmark.group = "fea-assembly-256"
    table = stiffness_table(MATERIALS, full_grid=True)
    system = benchmark.pedantic(assemble, args=(plaque_mask(256), table),
                                kwargs=dict(pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE, full_grid=True),
                                rounds=30)
    _record(benchmark, dofs=int(system.load.size), nnz=int(system.stiffness.nnz))


def test_assembly_skfem(benchmark):
    benchmark.group = "fea-assembly-256"
    mask = plaque_mask(256)
    system = assemble(mask, TABLE, pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE)
    stiffness = benchmark.pedantic(_skfem_stiffness, args=(system, mask), rounds=3)
    assert stiffness.shape == system.stiffness.shape
    _record(benchmark)
