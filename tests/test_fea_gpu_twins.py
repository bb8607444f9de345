"""The CPU twins of the CUDA kernels (latentmine._core.cuda_twin) against the CPU solver's own kernels.

The twins run the CUDA kernels' work-item functions (csrc/include/latentmine/fea_batch.hpp,
sym3_eigen.hpp) in host loops, so these tests check the device code's logic without a device.
"""
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from latentmine import backend
from latentmine.fea import examples
from latentmine.fea.gpu.block_diagonal import BlockDiagonal
from latentmine.fea.gpu.dense import (FactorizationError, largest_tridiagonal_eigenvalue, semidefinite_inverse,
                                      sym3_eigh)
from latentmine.fea.gpu.grid import grid_pattern
from latentmine.fea.gpu.kernels import BatchKernels, label_tables
from latentmine.ops import latent_step, latent_step_reference

SIZE, PIXEL_MM, PRESSURE = 24, 0.1, 16.0


@pytest.fixture(scope="module")
def setting():
    masks = np.stack([examples.plaque_mask(SIZE), examples.ring_mask(SIZE, 5.0, 10.0),
                      examples.ring_mask(SIZE, 4.0, 11.0, middle=7.0)])
    pattern, tables = grid_pattern(SIZE, SIZE), label_tables()
    return masks, pattern, tables, BatchKernels(np, pattern, tables)


def test_value_fill_gathers_what_the_cpu_solver_assembles(setting):
    masks, pattern, tables, twin = setting
    core, active = backend.core(), np.ones((SIZE, SIZE), np.uint8)
    want = np.stack([core.fea_fill_values(active, m, tables.ke_table, pattern.node_id, pattern.indptr)
                     for m in masks])
    np.testing.assert_allclose(twin.fill_values(masks), want, rtol=1e-13, atol=1e-9)


def test_pressure_load_gathered_by_node_equals_the_scattered_one(setting):
    masks, pattern, tables, twin = setting
    core = backend.core()
    want = np.stack([core.fea_pressure_load(tables.is_material[m], tables.is_lumen[m], pattern.node_id,
                                            pattern.dofs // 2, PRESSURE, PIXEL_MM) for m in masks])
    got = twin.pressure_load(masks, PRESSURE, PIXEL_MM)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)
    assert np.abs(got).max() > 0  # the masks have loaded lumen edges
    np.testing.assert_allclose(got[:, 0::2].sum(axis=1), 0.0, atol=1e-12)  # a closed lumen: no net force


def _assembled(twin, masks, void_diagonal):
    p = twin.pattern
    values = twin.fill_values(masks)
    diagonal = values[:, p.diagonal_slots]
    values[:, p.diagonal_slots] = np.where(diagonal == 0, void_diagonal, diagonal)
    return BlockDiagonal.from_pattern(p.indptr, p.indices, values, (p.dofs, p.dofs))


def test_matrix_free_product_equals_the_assembled_csr_batch(setting):
    masks, pattern, _, twin = setting
    A = _assembled(twin, masks, 7.0)
    operator = twin.stiffness_operator(masks, 7.0)
    U = np.random.default_rng(2).standard_normal((len(masks), pattern.dofs))
    np.testing.assert_allclose(operator.matvec(U), A.matvec(U), rtol=1e-12, atol=1e-9)
    keep = np.array([0, 2])
    np.testing.assert_allclose(operator.take(keep).matvec(U[keep]), A.take(keep).matvec(U[keep]),
                               rtol=1e-12, atol=1e-9)
    first = A.matrix[:pattern.dofs]
    void = np.flatnonzero(abs(first).sum(axis=1).A1 == first.diagonal())  # decoupled rows: diagonal only
    assert void.size and np.allclose(operator.matvec(U)[0, void], 7.0 * U[0, void])


def test_stress_recovery_equals_the_cpu_solver_kernel(setting):
    masks, pattern, tables, twin = setting
    core = backend.core()
    U = np.random.default_rng(3).standard_normal((len(masks), pattern.dofs)) * 1e-3
    want = np.stack([core.fea_recover_stress(tables.is_material[m], m, tables.lam, tables.mu, pattern.node_id, u,
                                             PIXEL_MM) for m, u in zip(masks, U)])
    np.testing.assert_array_equal(twin.recover_stress(masks, U, PIXEL_MM), want)


def test_kernel_wrappers_reject_wrong_shapes(setting):
    masks, pattern, _, twin = setting
    with pytest.raises(ValueError, match=r"masks must have shape \(N, 24, 24\)"):
        twin.fill_values(masks[:, :-1])
    with pytest.raises(ValueError, match="displacements"):
        twin.recover_stress(masks, np.zeros((2, pattern.dofs)), PIXEL_MM)


def _rotations(count, seed):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((count, 3, 3)))[0]


@pytest.mark.parametrize("values", [[0.3, -1.0, 2.0], [1.0, 1.0, 2.0], [2.0, 1.0, 1.0], [3.0, 3.0, 3.0],
                                    [0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [5.0, -5.0, 5.0], [1.0, 1.0 + 1e-9, 2.0],
                                    [1e6, 1.0, 1e-6]])
def test_closed_form_3x3_eigh_matches_lapack_also_for_repeated_eigenvalues(values):
    Q = _rotations(200, 0)
    A = Q @ np.diag(values) @ Q.transpose(0, 2, 1)
    w, V = sym3_eigh(A)
    scale = max(1.0, np.abs(values).max())
    np.testing.assert_allclose(w, np.linalg.eigh(A)[0], atol=1e-14 * scale)
    np.testing.assert_allclose(w, np.broadcast_to(np.sort(values), w.shape), atol=1e-14 * scale)
    np.testing.assert_allclose(V.transpose(0, 2, 1) @ V, np.broadcast_to(np.eye(3), V.shape), atol=1e-14)
    np.testing.assert_allclose(A @ V, V * w[:, None, :], atol=2e-15 * scale)


def test_closed_form_3x3_eigh_on_random_gram_matrices_and_bad_input():
    B = np.random.default_rng(1).standard_normal((500, 9, 3)) * [1.0, 1.0, 300.0]  # far-origin rotations
    A = B.transpose(0, 2, 1) @ B
    w, V = sym3_eigh(A)
    np.testing.assert_allclose(w, np.linalg.eigh(A)[0], rtol=1e-12, atol=1e-12 * np.abs(A).max())
    np.testing.assert_allclose(A @ V, V * w[:, None, :], atol=1e-13 * np.abs(A).max())
    A[7, 0, 0] = np.nan
    with pytest.raises(FactorizationError, match=r"3 x 3 eigen-decomposition failed on 1 block\(s\): 7"):
        sym3_eigh(A)
    with pytest.raises(ValueError, match=r"\(k, 3, 3\)"):
        sym3_eigh(A[:, :2])


def test_semidefinite_inverse_is_the_pseudo_inverse_of_singular_blocks():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((4, 60, 50))
    A = X @ X.transpose(0, 2, 1)  # rank 50 of 60
    A[1, :, 7] = A[1, 7, :] = 0  # an empty (padded) unknown
    A[2] = np.eye(60) * 3.0  # regular
    got = semidefinite_inverse(A)
    want = np.linalg.pinv(A, hermitian=True, rcond=1e-10)
    np.testing.assert_allclose(got, want, atol=1e-8 * np.abs(want).max())
    noise = rng.standard_normal((1, 3, 3)) * 1e-12  # a block that is all null space: rounding noise only
    np.testing.assert_array_equal(semidefinite_inverse(noise + noise.transpose(0, 2, 1), np.array([1e4])), 0.0)


def test_semidefinite_inverse_names_blocks_that_are_not_semidefinite():
    A = np.stack([np.eye(5), np.diag([1.0, 1.0, -1.0, 1.0, 1.0]), np.eye(5)])
    with pytest.raises(FactorizationError, match=r"Cholesky factorisation .* 1 block\(s\): 1"):
        semidefinite_inverse(A)
    A[2, 0, 0] = np.nan
    with pytest.raises(FactorizationError, match=r"2 block\(s\): 1, 2"):
        semidefinite_inverse(A)


def test_largest_tridiagonal_eigenvalue_and_its_check():
    rng = np.random.default_rng(5)
    d, e = rng.uniform(1, 3, (6, 12)), rng.uniform(-1, 1, (6, 11))
    dense = np.zeros((6, 12, 12))
    dense[:, range(12), range(12)] = d
    dense[:, range(11), range(1, 12)] = dense[:, range(1, 12), range(11)] = e
    np.testing.assert_allclose(largest_tridiagonal_eigenvalue(d, e), np.linalg.eigvalsh(dense)[:, -1], rtol=1e-13)
    e[3, 4] = np.inf
    with pytest.raises(FactorizationError, match=r"Lanczos .* 1 block\(s\): 3"):
        largest_tridiagonal_eigenvalue(d, e)


def _twin_latent_step(z, grad, step, noise=None, noise_std=0.0, max_norm=-1.0):
    out = torch.empty_like(z)
    backend.core().cuda_twin.latent_step(z.data_ptr(), grad.data_ptr(), 0 if noise is None else noise.data_ptr(),
                                         out.data_ptr(), z.shape[0], z.shape[1], step, noise_std, max_norm)
    return out


@pytest.mark.parametrize("cols", [1, 31, 32, 33, 128, 300])
def test_latent_step_twin_with_warp_order_sums_matches_the_reference(cols):
    gen = torch.Generator().manual_seed(cols)
    z, grad, noise = (torch.randn(64, cols, generator=gen) for _ in range(3))
    grad[5] = 0.0  # no gradient: no step
    np.testing.assert_allclose(_twin_latent_step(z, grad, 0.5), latent_step_reference(z, grad, 0.5),
                               rtol=1e-5, atol=1e-6)
    bounded = _twin_latent_step(z, grad, 0.5, max_norm=1.5)
    np.testing.assert_allclose(bounded, latent_step(z, grad, 0.5, max_norm=1.5), rtol=1e-5, atol=1e-6)
    assert torch.linalg.vector_norm(bounded, dim=1).max() <= 1.5 * (1 + 1e-6)
    noisy = _twin_latent_step(z, grad, 0.5, noise=noise, noise_std=0.1)
    np.testing.assert_allclose(noisy, latent_step_reference(z, grad, 0.5) + 0.1 * noise, rtol=1e-5, atol=1e-6)
