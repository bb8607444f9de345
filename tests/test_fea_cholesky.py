"""Multifrontal Cholesky: exact solves of shifted FE systems, static pivoting, buffer reuse, bad input."""
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from latentmine.backend import core
from latentmine.fea.assembly import assemble, pattern_of, stiffness_table
from latentmine.fea.cholesky import factorise, one_blas_thread
from latentmine.fea.examples import plaque_mask, ring_mask
from latentmine.fea.materials import resolve_materials
from latentmine.fea.ordering import dissection
from latentmine.fea.solver import direct_solve, rigid_body_modes
from latentmine.labels import Label

TABLE = stiffness_table(resolve_materials(None))


def _system(mask):
    return assemble(mask, TABLE, pixel_size_mm=0.031, pressure_kpa=16.0, dissect=True)


def _shifted_reference(system, shift, rhs):
    matrix = system.stiffness + shift * sp.identity(system.load.size)
    return spla.spsolve(matrix.tocsc(), rhs)


@pytest.fixture(scope="module")
def plaque():
    return _system(plaque_mask(64))


@pytest.mark.parametrize("relative_shift", [1e-2, 1e-6])
def test_factor_solves_the_shifted_system(plaque, relative_shift):
    shift = relative_shift * plaque.stiffness.diagonal().mean()
    rhs = np.random.default_rng(0).standard_normal(plaque.load.size)
    tree = plaque.pattern.dissection
    with one_blas_thread():
        factor = factorise(plaque.stiffness, tree.first, tree.parent, relative_shift)
        x = factor.solve(rhs)
    assert factor.shift == pytest.approx(shift, rel=1e-12)
    want = _shifted_reference(plaque, shift, rhs)
    # The condition number grows as 1 / shift; compare backward errors.
    matrix = plaque.stiffness + shift * sp.identity(rhs.size)
    assert np.linalg.norm(matrix @ x - rhs) <= 1e-9 * np.linalg.norm(rhs) * max(1.0, 1e-6 / relative_shift)
    assert np.linalg.norm(x - want) <= 1e-6 * np.linalg.norm(want) * max(1.0, 1e-2 / relative_shift) ** 0.5


@pytest.mark.parametrize("leaf", [1, 4, 64, 100_000])
def test_every_leaf_size_gives_the_same_factorisation(leaf):
    mask = plaque_mask(32)
    material = (mask >= Label.FIBROUS).astype(np.uint8)
    tree = dissection(material, leaf=leaf)
    pattern = pattern_of(material, tree.node_id)
    values = core().fea_fill_values(material, mask, TABLE, pattern.node_id, pattern.indptr)
    stiffness = sp.csr_matrix((values, pattern.indices, pattern.indptr), shape=(pattern.dofs,) * 2)
    shift = 1e-3 * stiffness.diagonal().mean()
    rhs = np.random.default_rng(1).standard_normal(pattern.dofs)
    factor = factorise(stiffness, tree.first, tree.parent, 1e-3)
    matrix = stiffness + shift * sp.identity(pattern.dofs)
    assert factor.perturbed_pivots == 0
    assert np.linalg.norm(matrix @ factor.solve(rhs) - rhs) <= 1e-10 * np.linalg.norm(rhs)
    if leaf >= pattern.dofs:   # one dense front: the full lower triangle
        assert factor.supernodes == 1 and factor.factor_entries == pattern.dofs ** 2


def test_refinement_solves_the_singular_system_of_two_bodies():
    """A ring and a free fragment in its lumen: six rigid modes, one refinement step to rtol."""
    mask = ring_mask(64, 14, 28)
    mask[30:34, 30:34] = Label.FIBROUS
    system = _system(mask)
    modes = rigid_body_modes(system.pattern.node_id, system.components)
    assert modes.shape[1] == 6
    with one_blas_thread():
        u, steps, residual = direct_solve(system.stiffness, system.load, modes, system.pattern.dissection,
                                          rtol=1e-10)
    assert residual <= 1e-10 and steps <= 3
    assert np.linalg.norm(system.stiffness @ u - system.load) <= 1e-10 * np.linalg.norm(system.load)
    assert np.abs(modes.T @ u).max() <= 1e-8 * np.abs(u).max()


def test_pivots_below_half_the_shift_are_replaced_by_the_shift():
    """diag(3, -1, 3, -1, ...) has mean diagonal 1; with shift 0.25 the pivots -0.75 become 0.25."""
    active = np.ones((3, 4), np.uint8)
    tree = dissection(active, leaf=2)
    dofs = 2 * int(tree.first[-1])
    diagonal = np.where(np.arange(dofs) % 2 == 0, 3.0, -1.0)
    rhs = np.arange(1.0, dofs + 1)
    factor = factorise(sp.diags(diagonal, format="csr"), tree.first, tree.parent, 0.25)
    assert factor.shift == 0.25 and factor.perturbed_pivots == dofs // 2
    assert np.allclose(factor.solve(rhs), rhs / np.where(diagonal > 0, 3.25, 0.25))


def test_buffers_are_reused_correctly_across_sizes(plaque):
    big = _system(plaque_mask(96))
    for system in (big, plaque, big):
        tree = system.pattern.dissection
        shift = 1e-3 * system.stiffness.diagonal().mean()
        rhs = np.ones(system.load.size)
        x = factorise(system.stiffness, tree.first, tree.parent, 1e-3).solve(rhs)
        matrix = system.stiffness + shift * sp.identity(rhs.size)
        assert np.linalg.norm(matrix @ x - rhs) <= 1e-10 * np.linalg.norm(rhs)


def test_bad_input_raises(plaque):
    tree = plaque.pattern.dissection
    with pytest.raises(ValueError, match="shift"):
        factorise(plaque.stiffness, tree.first, tree.parent, 0.0)
    with pytest.raises(ValueError, match="parent"):
        factorise(plaque.stiffness, tree.first, np.zeros_like(tree.parent), 1.0)
    with pytest.raises(ValueError, match="indptr"):
        factorise(plaque.stiffness[:-2, :-2].tocsr(), tree.first, tree.parent, 1.0)
    factor = factorise(plaque.stiffness, tree.first, tree.parent, 1.0)
    with pytest.raises(ValueError, match="rhs"):
        factor.solve(np.ones(3))
