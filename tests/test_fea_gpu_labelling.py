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


def test_a_failed_factorisation_names_the_chunk(monkeypatch):
    from latentmine.fea.gpu import amg, dense, solver

    def failing(blocks, scale=None):
        raise dense.FactorizationError("the Cholesky factorisation of the coarsest level failed on 1 block(s): 1")

    monkeypatch.setattr(amg, "semidefinite_inverse", failing)
    masks = np.stack([examples.ring_mask(20, 4.0, 8.0)] * 3)
    with pytest.raises(dense.FactorizationError, match=r"chunk of masks \[0, 2\): the Cholesky .* block\(s\): 1"):
        solver.solve_masks(masks, pixel_size_mm=0.05, pressure_kpa=16.0, xp=np, overlap=False, max_chunk=2,
                           free_bytes=10**12)


def test_gpu_dispatch_passes_progress_and_refuses_the_direct_method(monkeypatch):
    import importlib
    from latentmine.fea import gpu
    solve_module = importlib.import_module("latentmine.fea.solve")
    calls = []
    monkeypatch.setattr(solve_module, "resolve_device", lambda device: "cuda")  # as on a GPU machine
    monkeypatch.setattr(gpu, "solve", lambda masks, **kwargs: calls.append(kwargs) or "gpu result")
    mask = examples.ring_mask(20, 4.0, 8.0)
    kwargs = dict(pixel_size_mm=0.05, pressure_kpa=16.0)
    assert solve(mask, device="cuda", method="amg", progress=True, **kwargs) == "gpu result"
    assert calls[-1]["progress"] is True and calls[-1]["rtol"] == 1e-6
    with pytest.raises(ValueError, match="method='direct' .* CPU only"):
        solve(mask, device="cuda", method="direct", **kwargs)
    on_cpu = solve(mask, device="auto", method="direct", **kwargs)  # "auto" keeps the CPU's direct solver
    assert len(calls) == 1 and on_cpu.converged.all()
