"""solve() and Labeller: symmetries, linearity, scale invariance, bad input, reporting."""
import importlib
import pickle

import numpy as np
import pytest

from latentmine import backend
from latentmine.fea import Labeller, solve
from latentmine.fea.assembly import lame_tables, stiffness_table
from latentmine.fea.examples import plaque_mask, ring_mask
from latentmine.fea.materials import resolve_materials
from latentmine.labels import Label

solve_module = importlib.import_module("latentmine.fea.solve")

H_MM = 0.031
TIGHT = 1e-10


@pytest.fixture(scope="module")
def plaque():
    mask = plaque_mask(64)
    return mask, solve(mask, pixel_size_mm=H_MM, rtol=TIGHT)


def close(got, want):
    scale = np.nanmax(np.abs(want))
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.nanmax(np.abs(got - want)) <= 1e-5 * scale


def test_plaque_solves_with_a_full_report(plaque):
    mask, result = plaque
    assert result.converged.all() and (result.residual <= TIGHT).all() and (result.iterations > 0).all()
    assert result.max_principal.shape == (1, 64, 64) and result.max_principal.dtype == np.float32
    assert np.isnan(result.von_mises[0][mask < Label.FIBROUS]).all()
    assert np.isfinite(result.von_mises[0][mask >= Label.FIBROUS]).all()
    # Peri-luminal peaks of plaques under 120 mmHg lie around 50-300 kPa (Costopoulos 2017).
    assert 30 < result.pss[0] < 400
    assert result.pss[0] < np.nanmax(result.max_principal)


@pytest.mark.parametrize("transform, tensor", [
    (np.fliplr, lambda sxx, syy, sxy: (np.fliplr(sxx), np.fliplr(syy), -np.fliplr(sxy))),
    (np.flipud, lambda sxx, syy, sxy: (np.flipud(sxx), np.flipud(syy), -np.flipud(sxy))),
    (np.transpose, lambda sxx, syy, sxy: (syy.T, sxx.T, sxy.T)),  # (x, y) -> (y, x)
    # rot90: new (x, y) = (old y, -old x), so s_xx <-> s_yy and s_xy changes sign.
    (np.rot90, lambda sxx, syy, sxy: (np.rot90(syy), np.rot90(sxx), -np.rot90(sxy))),
])
def test_rotating_or_flipping_the_mask_transforms_the_stress_tensor(plaque, transform, tensor):
    mask, result = plaque
    moved = solve(np.ascontiguousarray(transform(mask)), pixel_size_mm=H_MM, rtol=TIGHT)
    for got, want in zip((moved.sxx[0], moved.syy[0], moved.sxy[0]), tensor(result.sxx[0], result.syy[0], result.sxy[0])):
        close(got, want)
    close(moved.max_principal[0], transform(result.max_principal[0]))
    assert moved.pss[0] == pytest.approx(result.pss[0], rel=1e-5)


def test_stress_is_linear_in_pressure(plaque):
    mask, result = plaque
    doubled = solve(mask, pixel_size_mm=H_MM, pressure_kpa=2 * 15.9984, rtol=TIGHT)
    close(doubled.von_mises[0], 2 * result.von_mises[0])
    assert doubled.pss[0] == pytest.approx(2 * result.pss[0], rel=1e-5)


def test_stress_does_not_depend_on_absolute_moduli_or_pixel_size(plaque):
    mask, result = plaque
    scaled = {label: (7.0 * young, nu) for label, (young, nu) in resolve_materials(None).items()}
    close(solve(mask, pixel_size_mm=H_MM, materials=scaled, rtol=TIGHT).max_principal[0], result.max_principal[0])
    close(solve(mask, pixel_size_mm=3 * H_MM, rtol=TIGHT).max_principal[0], result.max_principal[0])


def test_full_grid_with_ersatz_voids_agrees_with_the_material_only_system(plaque):
    mask, result = plaque
    materials = resolve_materials(None)
    lam, mu = lame_tables(materials)
    planes, _, residual = solve_module.solve_one(mask, stiffness_table(materials, full_grid=True), lam, mu,
                                                 pixel_size_mm=H_MM, pressure_kpa=15.9984, rtol=TIGHT,
                                                 full_grid=True)
    assert residual <= TIGHT
    scale = np.nanmax(result.max_principal)
    assert np.nanmax(np.abs(planes[5] - result.max_principal[0])) < 1e-3 * scale


def test_a_floating_fragment_in_the_lumen_is_a_second_body():
    mask = ring_mask(48, 10, 20)
    mask[23:26, 23:26] = Label.FIBROUS  # loaded by the pressure on all sides
    result = solve(mask, pixel_size_mm=H_MM, rtol=1e-8)
    assert result.converged[0]
    # A free body under uniform pressure is in uniform hydrostatic compression.
    fragment = result.sxx[0][23:26, 23:26]
    assert np.allclose(fragment, -15.9984, rtol=1e-3)


def test_batches_match_single_masks(plaque):
    mask, result = plaque
    batch = solve(np.stack([ring_mask(64, 12, 28), mask]), pixel_size_mm=H_MM, rtol=TIGHT)
    assert batch.max_principal.shape == (2, 64, 64) and len(batch) == 2
    close(batch.max_principal[1], result.max_principal[0])


@pytest.mark.parametrize("method, limit", [("amg", "MAX_ITERATIONS"), ("direct", "MAX_REFINEMENTS")])
def test_non_convergence_is_reported_not_hidden(monkeypatch, plaque, method, limit):
    monkeypatch.setattr(solve_module, limit, 1)
    result = solve(plaque[0], pixel_size_mm=H_MM, rtol=1e-14, method=method)
    assert not result.converged[0] and result.iterations[0] == 1 and result.residual[0] > 1e-14


def test_direct_and_amg_solvers_agree(plaque):
    mask, result = plaque
    amg = solve(mask, pixel_size_mm=H_MM, rtol=TIGHT, method="amg")
    direct = solve(mask, pixel_size_mm=H_MM, rtol=TIGHT, method="direct")
    assert amg.converged[0] and direct.converged[0] and direct.iterations[0] <= 5 < amg.iterations[0]
    close(amg.max_principal[0], direct.max_principal[0])


@pytest.mark.parametrize("kwargs, words", [
    (dict(pixel_size_mm=float("nan")), "pixel_size_mm"),
    (dict(pixel_size_mm=-0.03), "pixel_size_mm"),
    (dict(pixel_size_mm=0.0), "pixel_size_mm"),
    (dict(pixel_size_mm=H_MM, pressure_kpa=float("nan")), "pressure_kpa"),
    (dict(pixel_size_mm=H_MM, pressure_kpa=-1.0), "pressure_kpa"),
    (dict(pixel_size_mm=H_MM, rtol=float("nan")), "rtol"),
    (dict(pixel_size_mm=H_MM, rtol=0.0), "rtol"),
    (dict(pixel_size_mm=H_MM, rtol=2.0), "rtol"),
    (dict(pixel_size_mm=H_MM, materials={Label.LIPID: (-5.0, 0.49)}), "Young"),
    (dict(pixel_size_mm=H_MM, materials={Label.FIBROUS: (1000.0, 0.5)}), "Poisson"),
    (dict(pixel_size_mm=H_MM, materials={Label.LUMEN: (1.0, 0.3)}), "LUMEN"),
    (dict(pixel_size_mm=H_MM, device="tpu"), "device"),
    (dict(pixel_size_mm=H_MM, method="cholesky"), "method"),
])
def test_bad_parameters_raise_naming_the_problem(kwargs, words):
    with pytest.raises(ValueError, match=words):
        solve(ring_mask(32, 6, 12), **kwargs)
    with pytest.raises(ValueError, match=words):
        Labeller(**kwargs)


def test_invalid_masks_raise_naming_the_sample():
    bad = ring_mask(32, 6, 12)
    bad[16, 16:] = Label.LUMEN
    with pytest.raises(ValueError, match="sample 1: the lumen is open"):
        solve(np.stack([ring_mask(32, 6, 12), bad]), pixel_size_mm=H_MM)


@pytest.mark.skipif(backend.cuda_available(), reason="checks the message given when no GPU is usable")
def test_cuda_without_a_gpu_raises():
    with pytest.raises(ValueError, match="no usable GPU"):
        solve(ring_mask(32, 6, 12), pixel_size_mm=H_MM, device="cuda")


def test_zero_pressure_gives_zero_stress():
    result = solve(ring_mask(32, 6, 12), pixel_size_mm=H_MM, pressure_kpa=0.0)
    assert result.converged[0] and np.nanmax(np.abs(result.von_mises)) == 0.0


def test_labeller_returns_max_principal_with_zero_off_material_and_pickles(plaque):
    mask, result = plaque
    labeller = Labeller(H_MM, rtol=TIGHT)
    labels = labeller(mask)
    assert labels.dtype == np.float32 and labels.shape == (1, 64, 64)
    assert (labels[0][mask < Label.FIBROUS] == 0.0).all()
    close(np.where(mask >= Label.FIBROUS, labels[0], np.nan), result.max_principal[0])
    assert labeller.last_result.pss[0] == pytest.approx(result.pss[0])
    assert labeller.version.startswith("fea-q4sri-")
    clone = pickle.loads(pickle.dumps(labeller))
    assert clone.last_result is None and clone.version == labeller.version
    assert np.array_equal(clone(mask), labels)
