"""Label time of the CPU finite-element tool against its peers, in the same run.

    PYTHONPATH=python .venv/bin/python -m pytest benchmarks/bench_fea.py \
        --benchmark-json benchmarks/results/fea.json

The PARDISO and CHOLMOD peers need the ``bench`` extra (``pip install
".[bench]"``: pypardiso, which installs the 1 GB MKL wheel, and cholespy); they
skip with the reason when absent.

Groups:

* ``fea-label-<size>`` (64, 256, 512; the example plaque of
  :func:`latentmine.fea.examples.plaque_mask`, about 28k wall pixels at 256),
  ``test_label[<size>-<contender>]``, the contenders of one size back to back.
  Every contender labels the mask from scratch: assembly, rigid-body modes,
  solve to rtol 1e-6, stress recovery and PSS. At 512^2 only latentmine's two
  paths and PARDISO run (the others take a minute or more per mask).

  - ``latentmine``: ``latentmine.fea.solve`` with its default method (the
    multifrontal Cholesky on the nested-dissection numbering + refinement up
    to 250k DOFs, AMG-CG above); ``latentmine_amg``: ``method="amg"``.
  - ``pardiso-<ordering>`` (MKL PARDISO through pypardiso, SPD, one thread,
    minimum degree ``mmd`` or METIS ``metis``) and ``cholmod`` (CHOLMOD
    through cholespy, its own ordering): latentmine's own assembled system in
    grid numbering (each peer orders it), the same shift and the same
    refinement, with the peer's factorisation in place of ours. One
    ``PyPardisoSolver`` is reused (a new one costs about 0.3 s).
  - ``pyamg-defaults``: ``pyamg.smoothed_aggregation_solver`` with default
    settings (B = the rigid-body modes) as the preconditioner of the same
    projected CG on the same singular system as ``latentmine_amg``.
  - ``skfem-spsolve``: scikit-fem assembly of the same elements (plain Q4),
    three DOFs pinned, ``scipy.sparse.linalg.spsolve`` (its default ordering).

  Every contender runs with one BLAS thread (threaded BLAS on the shared
  2-core machine made every solver several times slower), with the same
  warm-up round and the rounds of ``ROUNDS``.
* ``fea-label-phantom-256``: a batch of ``PHANTOMS`` masks of
  :func:`latentmine.phantoms.generate`; ``extra_info["mean_per_mask_s"]`` is
  the median batch time over the batch size.
* ``fea-assembly-<size>``: stiffness and load alone, on the path that ships
  (nested-dissection numbering and tree included), the full grid, and
  scikit-fem.

Each test stores ``masks_per_s``, the DOFs, the iterations and
``os.getloadavg()`` in ``extra_info``; the machine is shared and noisy, so
compare medians from one run only. Targets (2 cores, nu = 0.49): a 256^2 mask
<= 100 ms, a 64^2 mask <= 5 ms, >= 1.5x faster than PARDISO at both, assembly
<= 5 ms.
"""
import os

import numpy as np
import pyamg  # noqa: F401  (the AMG peers' dependency, imported before timing)
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from threadpoolctl import threadpool_limits

from latentmine.backend import core
from latentmine.fea import solve
from latentmine.fea.assembly import assemble, lame_tables, stiffness_table
from latentmine.fea.examples import plaque_mask
from latentmine.fea.materials import resolve_materials
from latentmine.fea.pss import pss_and_rule
from latentmine.fea.solver import DIRECT_SHIFT, amg_preconditioner, projected_cg, refine, rigid_body_modes

try:
    import pypardiso
except ImportError:
    pypardiso = None
try:
    import cholespy
except ImportError:
    cholespy = None

PIXEL_MM = 0.031
PRESSURE = 16.0
RTOL = 1e-6
MATERIALS = resolve_materials(None)
TABLE = stiffness_table(MATERIALS)
LAM, MU = lame_tables(MATERIALS)
ROUNDS = {64: 20, 256: 5, 512: 3}
PHANTOMS = 32
#: PARDISO orderings (iparm(2)): minimum degree and METIS nested dissection.
PARDISO_ORDERINGS = {"mmd": 0, "metis": 2}


def _one_blas_thread_now():
    return threadpool_limits(limits=1, user_api="blas")


# Loaded before the first test, so that the per-test thread limit also reaches MKL.
PARDISO = {name: pypardiso.PyPardisoSolver(mtype=2) for name in PARDISO_ORDERINGS} if pypardiso else {}


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Every contender gets the one BLAS thread that latentmine.fea.solve uses."""
    with _one_blas_thread_now():
        yield


def _record(benchmark, **info):
    benchmark.extra_info.update(info, loadavg=os.getloadavg(),
                                masks_per_s=1.0 / benchmark.stats.stats.median)


def _run(benchmark, function, *args, size, **kwargs):
    return benchmark.pedantic(function, args=args, kwargs=kwargs, rounds=ROUNDS[size], warmup_rounds=1)


class _PardisoFactor:
    """PARDISO (SPD, upper triangle) of K + shift I, factorised once and solved per refinement step."""

    def __init__(self, solver, ordering, stiffness, shift):
        self.solver = solver
        solver.set_iparm(2, ordering)
        self.upper = sp.triu(stiffness + shift * sp.identity(stiffness.shape[0], format="csr"), format="csr")
        self.upper.sort_indices()
        solver.set_phase(12)  # analysis (ordering, symbolic) and numeric factorisation
        solver._call_pardiso(self.upper, np.zeros(stiffness.shape[0]))

    def solve(self, rhs):
        self.solver.set_phase(33)
        return self.solver._call_pardiso(self.upper, rhs)


class _CholmodFactor:
    """CHOLMOD (cholespy) of K + shift I; cholespy chooses the ordering."""

    def __init__(self, stiffness, shift):
        shifted = (stiffness + shift * sp.identity(stiffness.shape[0], format="csr")).tocsr()
        self.solver = cholespy.CholeskySolverD(shifted.shape[0], shifted.indptr, shifted.indices, shifted.data,
                                               cholespy.MatrixType.CSR)

    def solve(self, rhs):
        x = np.empty_like(rhs)
        self.solver.solve(np.ascontiguousarray(rhs), x)
        return x


def _label_with(mask, factor_of):
    """latentmine's labelling pipeline with the factorisation of the shifted matrix swapped for ``factor_of``."""
    system = assemble(mask, TABLE, pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE)
    modes = rigid_body_modes(system.pattern.node_id, system.components)
    factor = factor_of(system.stiffness, DIRECT_SHIFT * system.stiffness.diagonal().mean())
    u, steps, residual = refine(system.stiffness, system.load, modes, factor, rtol=RTOL)
    planes = core().fea_recover_stress(system.material, mask, LAM, MU, system.pattern.node_id, u, PIXEL_MM)
    pss_and_rule(planes[5], mask, PIXEL_MM)
    return steps, residual


def _pinned(system):
    """Drop three DOFs (x, y of the first node, x of the last) so that scikit-fem's spsolve gets a non-singular system."""
    keep = np.ones(system.stiffness.shape[0], bool)
    keep[[0, 1, system.stiffness.shape[0] - 2]] = False
    return keep


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

    @BilinearForm
    def elasticity(u, v, w):
        return 2 * w["mu"] * ddot(sym_grad(u), sym_grad(v)) + w["lam"] * trace(sym_grad(u)) * trace(sym_grad(v))

    basis = Basis(mesh, ElementVector(ElementQuad1()))
    scalar = basis.with_element(ElementQuad0())  # piecewise-constant moduli, same quadrature
    return elasticity.assemble(basis, lam=scalar.interpolate(LAM[mask[r, c]]), mu=scalar.interpolate(MU[mask[r, c]]))


def _skfem_label(mask):
    system = assemble(mask, TABLE, pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE)
    stiffness = _skfem_stiffness(system, mask)
    keep = _pinned(system)
    u = np.zeros(len(keep))
    u[keep] = spla.spsolve(stiffness[keep][:, keep].tocsc(), system.load[keep])
    return u


def _pyamg_defaults(mask):
    """pyamg's default smoothed aggregation, as the preconditioner of latentmine's projected CG."""
    system = assemble(mask, TABLE, pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE)
    modes = rigid_body_modes(system.pattern.node_id, system.components)
    preconditioner = amg_preconditioner(system.stiffness, modes, options={})
    _, iterations, residual = projected_cg(system.stiffness, system.load, preconditioner, modes, rtol=RTOL,
                                           maxiter=2000)
    return iterations, residual


def _latentmine(mask, method="auto"):
    result = solve(mask, pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE, rtol=RTOL, method=method)
    assert result.converged.all()
    return dict(iterations=int(result.iterations[0]), residual=float(result.residual[0]), pss_kpa=float(result.pss[0]))


def _pardiso(ordering):
    def label(mask):
        steps, residual = _label_with(mask, lambda stiffness, shift: _PardisoFactor(
            PARDISO[ordering], PARDISO_ORDERINGS[ordering], stiffness, shift))
        return dict(iterations=steps, residual=residual)
    return label


def _cholmod(mask):
    steps, residual = _label_with(mask, _CholmodFactor)
    return dict(iterations=steps, residual=residual)


def _pyamg(mask):
    iterations, residual = _pyamg_defaults(mask)
    return dict(iterations=iterations, residual=residual)


def _skfem(mask):
    _skfem_label(mask)
    return {}


#: Every contender of the fea-label groups. The size is the outer loop, so that the contenders of
#: one size run back to back: on the shared machine the load drifts over a run.
CONTENDERS = {
    "latentmine": _latentmine,
    "latentmine_amg": lambda mask: _latentmine(mask, method="amg"),
    **{f"pardiso-{ordering}": _pardiso(ordering) for ordering in sorted(PARDISO_ORDERINGS)},
    "cholmod": _cholmod,
    "pyamg-defaults": _pyamg,
    "skfem-spsolve": _skfem,
}


def _skip_reason(contender, size):
    """Why a contender does not run at a size, or None (decided before timing: a skipped benchmark breaks the JSON)."""
    if contender.startswith("pardiso") and pypardiso is None:
        return "pypardiso is not installed (pip install '.[bench]')"
    if contender == "cholmod" and cholespy is None:
        return "cholespy is not installed (pip install '.[bench]')"
    if size > 256 and contender in ("cholmod", "pyamg-defaults", "skfem-spsolve"):
        return "a minute or more per 512^2 mask on the shared machine; 512^2 ranks latentmine's two paths"
    return None


@pytest.mark.parametrize("contender", list(CONTENDERS))
@pytest.mark.parametrize("size", [64, 256, 512])
def test_label(benchmark, size, contender):
    reason = _skip_reason(contender, size)
    if reason:
        pytest.skip(reason)
    benchmark.group = f"fea-label-{size}"
    mask = plaque_mask(size)
    info = _run(benchmark, CONTENDERS[contender], mask, size=size)
    if "residual" in info:
        assert info["residual"] <= RTOL
    _record(benchmark, wall_pixels=int((mask >= 2).sum()), **info)


def test_latentmine_phantoms(benchmark):
    phantoms = pytest.importorskip("latentmine.phantoms")
    cohort = phantoms.generate(PHANTOMS, size=256, seed=0)
    benchmark.group = "fea-label-phantom-256"
    result = benchmark.pedantic(solve, args=(cohort.masks,), kwargs=dict(pixel_size_mm=cohort.pixel_size_mm),
                                rounds=3, warmup_rounds=1)
    assert result.converged.all()
    _record(benchmark, masks=PHANTOMS, mean_per_mask_s=benchmark.stats.stats.median / PHANTOMS,
            mean_wall_pixels=float((cohort.masks >= 2).sum() / PHANTOMS), max_iterations=int(result.iterations.max()),
            max_residual=float(result.residual.max()))


@pytest.mark.parametrize("size", [64, 256, 512])
def test_assembly(benchmark, size):
    """The assembly that ships with the default solver: nested-dissection numbering and tree included."""
    benchmark.group = f"fea-assembly-{size}"
    mask = plaque_mask(size)
    system = benchmark.pedantic(assemble, args=(mask, TABLE),
                                kwargs=dict(pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE, dissect=True), rounds=30)
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
