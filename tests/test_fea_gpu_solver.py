"""The GPU solver's array-generic pieces, run on NumPy/SciPy: batched CG, block batches, V-cycle."""
import inspect

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from latentmine.fea.gpu.aggregation import (STIFF, VOID, batch_tentative_prolongators, finest_level,
                                            fit_candidates_batch, geometric_aggregates, node_classes,
                                            unknowns_to_nodes)
from latentmine.fea.gpu.amg import SmoothedAggregation, jacobi_spectral_radius
from latentmine.fea.gpu.batched_cg import batched_cg, cg
from latentmine.fea.gpu.block_diagonal import BlockDiagonal
from latentmine.fea.gpu.grid import grid_pattern, rigid_body_modes
from latentmine.fea.gpu.kernels import BatchKernels, label_tables


def _spd_batch(count, n=40, seed=0, spread=1.0):
    """SPD matrices sharing one pattern, with condition numbers growing along the batch."""
    rng = np.random.default_rng(seed)
    base = sp.random(n, n, density=0.15, random_state=seed)
    pattern = ((base + base.T + sp.eye(n)) != 0).astype(float).tocsr()
    pattern.sort_indices()
    matrices = []
    for s in range(count):
        off = pattern.copy()
        off.data = rng.uniform(-1, 1, pattern.nnz)
        off = (off + off.T) / 2
        shift = np.abs(off).sum(axis=1).A1 * (1 + 1e-3 * spread ** s)
        matrices.append((off + sp.diags(shift)).tocsr())
    return matrices


def _jacobi(matrices):
    return BlockDiagonal(sp.block_diag([sp.diags(1 / m.diagonal()) for m in matrices], format="csr"),
                         len(matrices))


def test_batched_cg_solves_every_system_with_its_own_scalars():
    matrices = _spd_batch(5, spread=30.0)
    A = BlockDiagonal(sp.block_diag(matrices, format="csr"), 5)
    B = np.random.default_rng(1).standard_normal((5, 40))
    X, info, iterations = batched_cg(A, B, rtol=1e-10, M=_jacobi(matrices))
    assert (info == 0).all()
    for s, m in enumerate(matrices):
        np.testing.assert_allclose(X[s], spla.spsolve(m.tocsc(), B[s]), rtol=1e-7, atol=1e-9)
        x_scipy, _ = spla.cg(m, B[s], rtol=1e-10, M=sp.diags(1 / m.diagonal()))
        np.testing.assert_allclose(X[s], x_scipy, rtol=1e-6, atol=1e-8)
    assert iterations.min() < iterations.max()  # different systems, different counts


class _Counting:
    """A batched operator that records how many systems each product covered."""

    def __init__(self, inner, log):
        self.inner, self.log = inner, log

    def matvec(self, X):
        self.log.append(X.shape[0])
        return self.inner.matvec(X)

    def take(self, keep):
        return _Counting(self.inner.take(keep), self.log)


def test_converged_systems_leave_the_batch():
    easy = sp.eye(40, format="csr") * 3.0  # CG converges in one step
    matrices = [easy, easy, easy] + _spd_batch(1, spread=1.0)
    A = BlockDiagonal(sp.block_diag(matrices, format="csr"), 4)
    log = []
    B = np.random.default_rng(2).standard_normal((4, 40))
    X, info, iterations = batched_cg(_Counting(A, log), B, rtol=1e-10)
    assert (info == 0).all()
    assert iterations[:3].tolist() == [1, 1, 1] and iterations[3] > 5
    assert log[0] == 4 and log[-1] == 1  # the three easy systems dropped out
    np.testing.assert_allclose(X[:3], B[:3] / 3.0)


def test_zero_rhs_maxiter_and_initial_guess_follow_scipy():
    matrices = _spd_batch(3, spread=50.0)
    A = BlockDiagonal(sp.block_diag(matrices, format="csr"), 3)
    B = np.random.default_rng(3).standard_normal((3, 40))
    B[1] = 0.0
    X, info, _ = batched_cg(A, B, X0=np.ones_like(B), rtol=1e-12, maxiter=3)
    assert info.tolist() == [3, 0, 3]
    assert not X[1].any()
    exact = np.stack([spla.spsolve(m.tocsc(), b) for m, b in zip(matrices, B)])
    X, info, _ = batched_cg(A, B, X0=exact, rtol=1e-8)
    assert info.tolist() == [0, 0, 0]
    np.testing.assert_allclose(X, exact)


def test_single_system_cg_mirrors_scipy():
    assert inspect.signature(cg) == inspect.signature(spla.cg)
    m = _spd_batch(1, n=60, seed=4)[0]
    b = np.random.default_rng(4).standard_normal(60)
    seen = []
    x, info = cg(m, b, rtol=1e-9, M=spla.aslinearoperator(sp.diags(1 / m.diagonal())), callback=seen.append)
    x_ref, info_ref = spla.cg(m, b, rtol=1e-9, M=sp.diags(1 / m.diagonal()))
    assert info == info_ref == 0
    np.testing.assert_allclose(x, x_ref, rtol=1e-7, atol=1e-10)
    assert len(seen) > 3 and np.allclose(seen[-1], x)


def test_block_diagonal_take_and_dense_blocks():
    matrices = _spd_batch(4)
    pattern = matrices[0]
    values = np.stack([m[pattern.nonzero()].A1 for m in matrices])
    batch = BlockDiagonal.from_pattern(pattern.indptr, pattern.indices,
                                       np.stack([sp.csr_matrix((v, pattern.nonzero()), pattern.shape).data
                                                 for v in values]), pattern.shape)
    dense = batch.dense_blocks()
    for s, m in enumerate(matrices):
        np.testing.assert_allclose(dense[s], m.toarray())
    kept = batch.take(np.array([1, 3]))
    assert kept.count == 2
    np.testing.assert_allclose(kept.dense_blocks(), dense[[1, 3]])
    np.testing.assert_allclose(kept.diagonal(), batch.diagonal()[[1, 3]])


def _class_table():
    from latentmine.fea.gpu.solver import _tissue_classes
    return _tissue_classes(label_tables().mu)


def _small_plaque_batch(size=14, max_coarse=20):
    from latentmine.fea import examples
    masks = np.stack([examples.ring_mask(size, 3.0, 6.0), examples.ring_mask(size, 2.5, 6.5, middle=4.5)])
    pattern = grid_pattern(size, size)
    kernels = BatchKernels(np, pattern, label_tables())
    values = kernels.fill_values(masks)
    values[:, pattern.diagonal_slots] = np.where(values[:, pattern.diagonal_slots] == 0, 1e3,
                                                 values[:, pattern.diagonal_slots])
    A = BlockDiagonal.from_pattern(pattern.indptr, pattern.indices, values, (pattern.dofs,) * 2)
    T, graph, candidates = finest_level(A, masks, _class_table(), rigid_body_modes(size, size), block=2)
    host = batch_tentative_prolongators(graph, 2, candidates, max_coarse=max_coarse)
    return A, [T] + [BlockDiagonal(t, 2) for t in host], masks


def test_aggregates_stay_within_a_mask_and_interpolate_rigid_motions():
    A, tentative, _ = _small_plaque_batch()
    assert len(tentative) >= 2
    modes = np.tile(rigid_body_modes(14, 14), (2, 1))
    for T in tentative[:1]:
        assert T.count == 2
        for s in range(2):
            block = T.matrix[s * T.block_shape[0]:(s + 1) * T.block_shape[0]]
            assert block[:, :s * T.block_shape[1]].nnz == 0 and block[:, (s + 1) * T.block_shape[1]:].nnz == 0
        gram = (T.matrix.T @ T.matrix).toarray()
        used = np.flatnonzero(np.diag(gram) > 1e-12)
        np.testing.assert_allclose(gram[np.ix_(used, used)], np.eye(used.size), atol=1e-10)
        aggregated = np.abs(T.matrix).sum(axis=1).A1 > 0
        projected = T.matrix @ (T.matrix.T @ modes)
        np.testing.assert_allclose(projected[aggregated], modes[aggregated], atol=1e-8)


def test_geometric_aggregates_follow_squares_and_tissue_classes():
    from latentmine.fea import examples
    masks = examples.plaque_mask(30)[None]
    classes = node_classes(masks, _class_table())
    aggregates = geometric_aggregates(classes, 30, 30, block=3).matrix.tocsr()
    member = np.diff(aggregates.indptr) > 0
    np.testing.assert_array_equal(member, classes[0] != VOID)  # every material node, once; no void node
    i, j = np.divmod(np.arange(31 * 31), 31)
    column = np.full(31 * 31, -1)
    column[member] = aggregates.indices
    for a in np.unique(column[member]):
        nodes = np.flatnonzero(column == a)
        assert np.ptp(i[nodes] // 3) == 0 and np.ptp(j[nodes] // 3) == 0
        assert np.ptp(classes[0][nodes]) == 0
    assert (classes[0] == STIFF).any() and (classes[0] == VOID).any()


def test_fit_matches_pyamg_fit_candidates_even_far_from_the_origin():
    from pyamg.aggregation.tentative import fit_candidates
    from latentmine.fea import examples
    size = 96  # rotations about a far origin: ill-conditioned on small aggregates
    masks = examples.plaque_mask(size)[None]
    aggregates = geometric_aggregates(node_classes(masks, _class_table()), size, size, block=3)
    modes = rigid_body_modes(size, size)
    T, coarse = fit_candidates_batch(unknowns_to_nodes(1, (size + 1) ** 2, 2, np) @ aggregates, modes)
    T_ref, _ = fit_candidates(aggregates.matrix.tocsr(), modes)
    x = np.random.default_rng(0).standard_normal(T.matrix.shape[0])
    T_ref = sp.csr_matrix(T_ref)
    np.testing.assert_allclose(T.matrix @ (T.matrix.T @ x), T_ref @ (T_ref.T @ x), atol=1e-10)
    aggregated = np.abs(T.matrix).sum(axis=1).A1 > 0
    np.testing.assert_allclose((T.matrix @ coarse)[aggregated], modes[aggregated], atol=1e-9)


@pytest.mark.parametrize("smoother, sweeps", [("jacobi", 1), ("chebyshev", 2)])
def test_v_cycle_is_a_symmetric_positive_definite_operator(smoother, sweeps):
    A, tentative, _ = _small_plaque_batch(size=10, max_coarse=12)
    assert len(tentative) >= 2  # a real multilevel cycle
    M = SmoothedAggregation.build(A, tentative, smoother=smoother, sweeps=sweeps)
    n = A.block_shape[0]
    unit = np.eye(n)
    columns = np.stack([M.matvec(np.stack([unit[j]] * A.count)) for j in range(n)], axis=2)  # (count, n, n)
    for dense in columns:
        np.testing.assert_allclose(dense, dense.T, atol=1e-10 * np.abs(dense).max())
        assert np.linalg.eigvalsh((dense + dense.T) / 2).min() > 0


def test_spectral_estimate_bounds_the_jacobi_radius():
    A, _, _ = _small_plaque_batch()
    inv_diag = 1.0 / A.diagonal()
    estimate = jacobi_spectral_radius(A, inv_diag, steps=20)
    m = A.block_shape[0]
    for s in range(A.count):
        scale = sp.diags(np.sqrt(inv_diag[s]))
        block = scale @ A.matrix[s * m:(s + 1) * m, s * m:(s + 1) * m] @ scale
        exact = spla.eigsh(block, k=1, which="LA", return_eigenvectors=False)[0]
        assert exact <= estimate[s] <= 1.15 * exact


def test_preconditioned_batch_converges_faster_and_to_the_same_answer():
    A, tentative, _ = _small_plaque_batch()
    rng = np.random.default_rng(5)
    B = A.matvec(rng.standard_normal((A.count, A.block_shape[0])))  # consistent right-hand sides
    plain, info_plain, it_plain = batched_cg(A, B, rtol=1e-9)
    M = SmoothedAggregation.build(A, tentative)
    amg, info_amg, it_amg = batched_cg(A, B, rtol=1e-9, M=M)
    assert (info_plain == 0).all() and (info_amg == 0).all()
    assert (it_amg * 2 < it_plain).all()
    np.testing.assert_allclose(A.matvec(amg), B, atol=1e-7 * np.abs(B).max())


def test_full_grid_batch_reproduces_the_cpu_compact_system():
    """Same stresses as a direct solve of the CPU path's own (compact) system, mask by mask."""
    from latentmine.backend import core
    from latentmine.fea import assembly, examples, resolve_materials
    from latentmine.fea.gpu.solver import solve_masks
    masks = np.stack([examples.plaque_mask(32), examples.ring_mask(32, 6.0, 13.0, middle=9.0)])
    h, pressure = 0.1, 16.0
    batch = solve_masks(masks, pixel_size_mm=h, pressure_kpa=pressure, xp=np, rtol=1e-11)
    assert batch.converged.all()
    materials = resolve_materials()
    table = assembly.stiffness_table(materials)
    lam, mu = assembly.lame_tables(materials)
    for mask, stress in zip(masks, batch.stress):
        system = assembly.assemble(mask, table, pixel_size_mm=h, pressure_kpa=pressure)
        K = system.stiffness
        # A tiny shift makes the traction-only system regular; it only adds rigid motion, which has no stress.
        u = spla.spsolve((K + 1e-12 * K.diagonal().max() * sp.eye(K.shape[0])).tocsc(), system.load)
        want = core().fea_recover_stress(system.material, mask, lam, mu, system.pattern.node_id, u, h)
        assert np.array_equal(np.isnan(stress), np.isnan(want))
        scale = np.nanmax(np.abs(want), axis=(1, 2), keepdims=True)
        assert np.nanmax(np.abs(stress - want) / scale) < 1e-5


def test_finest_operator_can_be_swapped_for_an_equal_one():
    A, tentative, _ = _small_plaque_batch()
    M = SmoothedAggregation.build(A, tentative)
    log = []
    swapped = M.with_finest_operator(_Counting(A, log))
    R = np.random.default_rng(6).standard_normal((A.count, A.block_shape[0]))
    np.testing.assert_allclose(swapped.matvec(R), M.matvec(R), rtol=1e-12, atol=1e-12)
    assert log and set(log) == {A.count}  # the smoothers of the finest level used it
    kept = swapped.take(np.array([1]))
    np.testing.assert_allclose(kept.matvec(R[1:]), M.matvec(R)[1:], rtol=1e-12, atol=1e-12)
