"""The CUDA kernels and the CuPy solve against the CPU path (needs a GPU; skipped without one)."""
import numpy as np
import pytest

from latentmine import backend
from latentmine.fea import examples

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not backend.cuda_available(),
                                 reason="needs a CUDA device, latentmine._cuda and CuPy (pip install '.[gpu]')")]

SIZE = 48
PIXEL_MM, PRESSURE = 8.0 / SIZE, 16.0


def _masks():
    return np.stack([examples.plaque_mask(SIZE), examples.ring_mask(SIZE, 9.0, 19.0),
                     examples.ring_mask(SIZE, 8.0, 20.0, middle=14.0)])


def _kernels():
    """The CPU twins and the CUDA kernels, through the same wrappers."""
    import cupy
    from latentmine.fea.gpu.grid import grid_pattern
    from latentmine.fea.gpu.kernels import BatchKernels, label_tables
    pattern, tables = grid_pattern(SIZE, SIZE), label_tables()
    return BatchKernels(np, pattern, tables), BatchKernels(cupy, pattern, tables)


def test_device_kernels_match_their_cpu_twins():
    import cupy
    host, device = _kernels()
    masks = _masks()
    on_device = cupy.asarray(masks)
    np.testing.assert_allclose(device.fill_values(on_device).get(), host.fill_values(masks), rtol=1e-13, atol=1e-9)
    np.testing.assert_allclose(device.pressure_load(on_device, PRESSURE, PIXEL_MM).get(),
                               host.pressure_load(masks, PRESSURE, PIXEL_MM), rtol=1e-13, atol=1e-12)
    u = np.random.default_rng(0).standard_normal((len(masks), host.pattern.dofs)) * 1e-3
    np.testing.assert_allclose(device.recover_stress(on_device, cupy.asarray(u), PIXEL_MM).get(),
                               host.recover_stress(masks, u, PIXEL_MM), rtol=1e-5, atol=1e-4, equal_nan=True)


def test_matrix_free_stiffness_equals_the_assembled_batch():
    import cupy
    from latentmine.fea.gpu.block_diagonal import BlockDiagonal
    host, device = _kernels()
    labels = cupy.asarray(_masks())
    values = device.fill_values(labels)
    slots = cupy.asarray(host.pattern.diagonal_slots)
    values[:, slots] = cupy.where(values[:, slots] == 0, 7.0, values[:, slots])
    p = host.pattern
    A = BlockDiagonal.from_pattern(cupy.asarray(p.indptr), cupy.asarray(p.indices), values, (p.dofs, p.dofs))
    operator = device.stiffness_operator(labels, 7.0)
    U = cupy.asarray(np.random.default_rng(2).standard_normal((len(labels), p.dofs)))
    cupy.testing.assert_allclose(operator.matvec(U), A.matvec(U), rtol=1e-12, atol=1e-9)
    keep = np.array([0, 2])
    cupy.testing.assert_allclose(operator.take(keep).matvec(U[keep]), A.take(keep).matvec(U[keep]),
                                 rtol=1e-12, atol=1e-9)
    twin = host.stiffness_operator(_masks(), 7.0)
    np.testing.assert_allclose(operator.matvec(U).get(), twin.matvec(U.get()), rtol=1e-12, atol=1e-9)


def test_device_3x3_eigh_matches_its_twin_and_lapack():
    import cupy
    from latentmine.fea.gpu.dense import sym3_eigh
    rng = np.random.default_rng(4)
    Q = np.linalg.qr(rng.standard_normal((4096, 3, 3)))[0]
    values = rng.standard_normal((4096, 3))
    values[::3, 1] = values[::3, 0]  # repeated eigenvalues
    A = Q @ (values[:, :, None] * np.eye(3)) @ Q.transpose(0, 2, 1)
    w, V = sym3_eigh(cupy.asarray(A))
    w_twin, V_twin = sym3_eigh(A)
    np.testing.assert_allclose(w.get(), w_twin, atol=1e-13)
    np.testing.assert_allclose(w.get(), np.linalg.eigh(A)[0], atol=1e-13)
    np.testing.assert_allclose(A @ V.get(), V.get() * w.get()[:, None, :], atol=1e-13)


def test_device_latent_step_matches_its_twin():
    import torch
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA build of torch")
    from latentmine.ops import latent_step
    gen = torch.Generator().manual_seed(0)
    z, grad = torch.randn(4096, 129, generator=gen), torch.randn(4096, 129, generator=gen)
    twin = torch.empty_like(z)
    backend.core().cuda_twin.latent_step(z.data_ptr(), grad.data_ptr(), 0, twin.data_ptr(), 4096, 129, 0.5, 0.0,
                                         3.0)
    on_device = latent_step(z.cuda(), grad.cuda(), 0.5, max_norm=3.0).cpu()
    torch.testing.assert_close(on_device, twin, rtol=1e-6, atol=1e-6)  # same sums; FMA contraction aside


def _relative_close(got, want, rtol=1e-5):
    scale = np.nanmax(np.abs(want), axis=(-2, -1), keepdims=True)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.nanmax(np.abs(got - want) / scale) <= rtol


def test_cupy_solve_matches_the_numpy_solve():
    import cupy
    from latentmine.fea.gpu.solver import solve_masks
    kwargs = dict(pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE, rtol=1e-10)
    gpu = solve_masks(_masks(), xp=cupy, **kwargs)
    cpu = solve_masks(_masks(), xp=np, **kwargs)
    assert gpu.converged.all()
    _relative_close(gpu.stress, cpu.stress)


def test_gpu_solve_matches_the_cpu_path_through_auto_dispatch():
    from latentmine.fea.solve import solve
    kwargs = dict(pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE, rtol=1e-10)
    gpu, cpu = solve(_masks(), device="auto", **kwargs), solve(_masks(), device="cpu", **kwargs)
    assert gpu.converged.all()
    for name in ("sxx", "syy", "sxy", "szz", "von_mises", "max_principal"):
        _relative_close(getattr(gpu, name), getattr(cpu, name))
    np.testing.assert_allclose(gpu.pss, cpu.pss, rtol=1e-5)


def test_chunking_under_a_small_memory_cap_on_the_device():
    import cupy
    from latentmine.fea.gpu.solver import device_bytes_per_mask, solve_masks
    kwargs = dict(pixel_size_mm=PIXEL_MM, pressure_kpa=PRESSURE, rtol=1e-10, xp=cupy)
    whole = solve_masks(_masks(), **kwargs)
    capped = solve_masks(_masks(), free_bytes=int(1.3 * device_bytes_per_mask(SIZE, SIZE)), overlap=False, **kwargs)
    assert len(capped.chunks) == 3
    _relative_close(capped.stress, whole.stress, rtol=1e-7)


def test_single_system_cg_matches_cupyx():
    import cupy
    import cupyx.scipy.sparse as csp
    import cupyx.scipy.sparse.linalg as cspla
    from latentmine.fea.gpu.batched_cg import cg
    n = 200
    A = csp.diags([-1.0, 2.5, -1.0], [-1, 0, 1], shape=(n, n), format="csr")
    b = cupy.asarray(np.random.default_rng(1).standard_normal(n))
    x, info = cg(A, b, rtol=1e-10)
    x_ref, info_ref = cspla.cg(A, b, rtol=1e-10)
    assert info == info_ref == 0
    cupy.testing.assert_allclose(x, x_ref, rtol=1e-8, atol=1e-10)
