"""latentmine.fea.gpu.solve_batch, run on the CPU kernels, against the CPU path's solve."""
import numpy as np
import pytest

from latentmine.fea import Label, examples
from latentmine.fea.gpu import solve_batch
from latentmine.fea.solve import solve

FIELDS = ["sxx", "syy", "sxy", "szz", "von_mises", "max_principal"]


@pytest.fixture(scope="module")
def pair():
    masks = np.stack([examples.plaque_mask(40), examples.ring_mask(40, 7.0, 16.0, middle=11.0)])
    kwargs = dict(pixel_size_mm=0.1, pressure_kpa=16.0, materials={Label.CALCIUM: (20000.0, 0.45)}, rtol=1e-10)
    return masks, solve_batch(masks, xp=np, **kwargs), solve(masks, device="cpu", **kwargs)


def test_stress_planes_and_pss_equal_the_cpu_path(pair):
    _, batch, cpu = pair
    for name in FIELDS:
        got, want = getattr(batch, name), getattr(cpu, name)
        assert np.array_equal(np.isnan(got), np.isnan(want)), name
        assert np.nanmax(np.abs(got - want)) <= 1e-5 * np.nanmax(np.abs(want)), name
    np.testing.assert_allclose(batch.pss, cpu.pss, rtol=1e-5)


def test_solve_report_fields(pair):
    masks, batch, _ = pair
    assert len(batch) == len(masks)
    assert batch.converged.all() and (batch.residual <= 1e-10).all()
    assert (batch.iterations > 0).all() and (batch.seconds > 0).all()


def test_auto_device_on_a_machine_without_gpu_is_the_cpu_path(pair):
    from latentmine import backend
    if backend.cuda_available():
        pytest.skip("a GPU is present: tests/test_fea_gpu_device.py covers device='auto' there")
    masks, _, cpu = pair
    auto = solve(masks, device="auto", pixel_size_mm=0.1, pressure_kpa=16.0,
                     materials={Label.CALCIUM: (20000.0, 0.45)}, rtol=1e-10)
    np.testing.assert_array_equal(auto.pss, cpu.pss)
