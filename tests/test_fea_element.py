"""Element stiffness, assembly and stress recovery: null space, patch test, CSR slots."""
import numpy as np
import pytest

from latentmine.backend import core
from latentmine.fea.assembly import element_stiffness, grid_pattern, pattern_of, stiffness_table
from latentmine.fea.materials import lame_parameters, resolve_materials
from latentmine.labels import Label

LAM, MU = lame_parameters(1000.0, 0.49)
CORNERS = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)  # local nodes (x, y) of a unit pixel


def rigid_modes_of_element():
    x, y = CORNERS[:, 0], CORNERS[:, 1]
    tx = np.tile([1.0, 0.0], 4)
    ty = np.tile([0.0, 1.0], 4)
    rot = np.column_stack([-y, x]).ravel()
    return np.column_stack([tx, ty, rot])


@pytest.mark.parametrize("selective", [True, False])
def test_element_is_symmetric_with_exactly_the_rigid_modes_as_null_space(selective):
    ke = element_stiffness(LAM, MU, selective=selective)
    assert np.allclose(ke, ke.T, rtol=0, atol=1e-12 * np.abs(ke).max())
    assert np.abs(ke @ rigid_modes_of_element()).max() < 1e-9 * np.abs(ke).max()
    eigenvalues = np.linalg.eigvalsh(ke)
    assert (eigenvalues[:3] < 1e-9 * eigenvalues[-1]).all() and (eigenvalues[3:] > 1e-6 * eigenvalues[-1]).all()


def test_selective_integration_softens_only_the_volumetric_part():
    plain, selective = element_stiffness(LAM, MU, selective=False), element_stiffness(LAM, MU, selective=True)
    assert np.allclose(element_stiffness(0.0, MU, selective=False), element_stiffness(0.0, MU, selective=True))
    assert not np.allclose(plain, selective)
    # An hourglass (bending) mode costs lam-dependent energy only in the plain element.
    hourglass = np.column_stack([[1.0, -1.0, 1.0, -1.0], np.zeros(4)]).ravel()
    assert hourglass @ plain @ hourglass > 10 * (hourglass @ selective @ hourglass)


def small_block():
    mask = np.full((7, 9), Label.FIBROUS, np.uint8)
    mask[2:4, 3:6] = Label.CALCIUM
    mask[4:6, 1:4] = Label.LIPID
    return mask


def assembled(mask):
    table = stiffness_table(resolve_materials(None))
    active = (mask >= Label.FIBROUS).astype(np.uint8)
    pattern = pattern_of(active)
    data = core().fea_fill_values(active, mask, table, pattern.node_id, pattern.indptr)
    return table, active, pattern, data


EPS_XX, EPS_YY, GAMMA = 1e-3, -4e-4, 6e-4


def uniform_strain(pattern, h):
    rows, cols = np.nonzero(pattern.node_id >= 0)
    x, y = cols * h, rows * h
    return np.column_stack([EPS_XX * x + GAMMA / 2 * y, EPS_YY * y + GAMMA / 2 * x]).ravel(), rows, cols


def test_patch_test_uniform_strain_leaves_interior_nodes_in_equilibrium():
    from scipy.sparse import csr_matrix
    table, active, pattern, data = assembled(np.full((7, 9), Label.FIBROUS, np.uint8))
    u, rows, cols = uniform_strain(pattern, 0.05)
    forces = csr_matrix((data, pattern.indices, pattern.indptr)) @ u
    interior = ((rows > 0) & (rows < 7) & (cols > 0) & (cols < 9)).repeat(2)
    assert np.abs(forces[interior]).max() < 1e-9 * np.abs(forces).max()


def test_patch_test_uniform_strain_gives_exact_stresses_in_every_material():
    mask = small_block()
    table, active, pattern, data = assembled(mask)
    h = 0.05
    u, _, _ = uniform_strain(pattern, h)
    eps_xx, eps_yy, gamma = EPS_XX, EPS_YY, GAMMA
    lam, mu = np.zeros(256), np.zeros(256)
    for label, (young, nu) in resolve_materials(None).items():
        lam[label], mu[label] = lame_parameters(young, nu)
    planes = core().fea_recover_stress(active, mask, lam, mu, pattern.node_id, u, h)
    want_xx = lam[mask] * (eps_xx + eps_yy) + 2 * mu[mask] * eps_xx
    want_xy = mu[mask] * gamma
    assert np.allclose(planes[0], want_xx, rtol=1e-5)
    assert np.allclose(planes[2], want_xy, rtol=1e-5)
    assert np.allclose(planes[3], lam[mask] * (eps_xx + eps_yy), rtol=1e-5)


def test_assembled_stiffness_is_symmetric_and_floats():
    from scipy.sparse import csr_matrix
    table, active, pattern, data = assembled(small_block())
    stiffness = csr_matrix((data, pattern.indices, pattern.indptr))
    assert abs(stiffness - stiffness.T).max() < 1e-9 * abs(stiffness).max()
    rows, cols = np.nonzero(pattern.node_id >= 0)
    rotation = np.column_stack([-rows.astype(float), cols.astype(float)]).ravel()
    assert np.abs(stiffness @ rotation).max() < 1e-9 * abs(stiffness).max()


def test_element_slots_scatter_to_the_same_matrix():
    mask = small_block()
    mask[0, :] = Label.OUTSIDE  # some inactive pixels
    table, active, pattern, data = assembled(mask)
    slots = pattern.element_slots(active)
    assert (slots[~active.ravel().astype(bool)] == -1).all()
    scattered = np.zeros_like(data)
    on = active.ravel().astype(bool)
    np.add.at(scattered, slots[on].ravel(), table[mask.ravel()[on]].ravel())
    assert np.allclose(scattered, data)


def test_full_grid_pattern_is_cached_and_complete():
    pattern = grid_pattern(5, 4)
    assert pattern is grid_pattern(5, 4)
    assert pattern.dofs == 2 * 6 * 5
    assert len(pattern.indices) == 2 * 2 * 9 * (6 * 5) - 2 * 2 * 3 * (2 * 6 + 2 * 5) + 2 * 2 * 4


def test_plain_q4_matches_scikit_fem_assembly():
    """An independent assembler (scikit-fem, 2 x 2 Gauss bilinear quads) gives the same plain-Q4 matrix."""
    skfem = pytest.importorskip("skfem")
    from skfem.helpers import ddot, sym_grad, trace
    from scipy.sparse import csr_matrix

    mask = small_block()
    materials = resolve_materials(None)
    _, active, pattern, _ = assembled(mask)
    data = core().fea_fill_values(active, mask, stiffness_table(materials, selective=False), pattern.node_id,
                                  pattern.indptr)
    ours = csr_matrix((data, pattern.indices, pattern.indptr))
    rows, cols = np.nonzero(pattern.node_id >= 0)  # row-major, the order of the node ids
    r, c = np.nonzero(active)
    node = pattern.node_id
    mesh = skfem.MeshQuad(np.vstack([cols, rows]).astype(float),
                          np.vstack([node[r, c], node[r, c + 1], node[r + 1, c + 1], node[r + 1, c]]))
    basis = skfem.Basis(mesh, skfem.ElementVector(skfem.ElementQuad1()))
    lam = np.array([lame_parameters(*materials[Label(code)])[0] for code in mask[r, c]])
    mu = np.array([lame_parameters(*materials[Label(code)])[1] for code in mask[r, c]])
    scalar = basis.with_element(skfem.ElementQuad0())

    @skfem.BilinearForm
    def elasticity(u, v, w):
        return 2 * w["mu"] * ddot(sym_grad(u), sym_grad(v)) + w["lam"] * trace(sym_grad(u)) * trace(sym_grad(v))

    theirs = elasticity.assemble(basis, lam=scalar.interpolate(lam), mu=scalar.interpolate(mu))
    assert abs(theirs - ours).max() < 1e-10 * abs(ours).max()
