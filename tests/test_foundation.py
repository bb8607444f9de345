"""Label codes, materials, units, backend discovery and atomic storage."""
import os

import numpy as np
import pytest

from latentmine import backend, storage
from latentmine.fea import DEFAULT_MATERIALS, Label, lame_parameters, resolve_materials
from latentmine.units import DEFAULT_PRESSURE_KPA, MMHG_IN_KPA


def test_label_codes_are_the_documented_ones():
    assert [(l.name, int(l)) for l in Label] == [
        ("OUTSIDE", 0), ("LUMEN", 1), ("FIBROUS", 2), ("LIPID", 3), ("CALCIUM", 4)]


def test_default_pressure_is_120_mmhg():
    assert DEFAULT_PRESSURE_KPA == pytest.approx(16.0, rel=1e-3)
    assert DEFAULT_PRESSURE_KPA / MMHG_IN_KPA == pytest.approx(120)


def test_default_modulus_ratios_follow_the_literature():
    fibrous = DEFAULT_MATERIALS[Label.FIBROUS][0]
    assert DEFAULT_MATERIALS[Label.LIPID][0] / fibrous == pytest.approx(0.005)
    assert 10 <= DEFAULT_MATERIALS[Label.CALCIUM][0] / fibrous <= 20
    assert all(nu == 0.49 for _, nu in DEFAULT_MATERIALS.values())


def test_lame_parameters_reproduce_young_and_poisson():
    young, poisson = 700.0, 0.3
    lam, mu = lame_parameters(young, poisson)
    # Inverse relations: E = mu (3 lam + 2 mu) / (lam + mu), nu = lam / (2 (lam + mu)).
    assert mu * (3 * lam + 2 * mu) / (lam + mu) == pytest.approx(young)
    assert lam / (2 * (lam + mu)) == pytest.approx(poisson)


def test_user_materials_override_label_by_label():
    table = resolve_materials({Label.CALCIUM: (20000.0, 0.45)})
    assert table[Label.CALCIUM] == (20000.0, 0.45)
    assert table[Label.FIBROUS] == DEFAULT_MATERIALS[Label.FIBROUS]


@pytest.mark.parametrize("materials, message", [
    ({Label.FIBROUS: (1000.0, 0.5)}, "Poisson ratio"),
    ({Label.FIBROUS: (1000.0, -1.0)}, "Poisson ratio"),
    ({Label.LIPID: (float("nan"), 0.49)}, "Young's modulus"),
    ({Label.CALCIUM: (-3.0, 0.49)}, "Young's modulus"),
    ({Label.LUMEN: (1.0, 0.3)}, "carries no material"),
    ({9: (1.0, 0.3)}, "not a label code"),
    ({Label.FIBROUS: 1000.0}, "must be"),
])
def test_bad_materials_are_named(materials, message):
    with pytest.raises(ValueError, match=message):
        resolve_materials(materials)


def test_cuda_needs_a_device_not_just_a_module():
    report = backend.report()
    assert report["cpu"]
    if report["cuda_devices"] == 0:
        assert not backend.cuda_available()
        assert backend.resolve_device("auto") == "cpu"
        with pytest.raises(ValueError, match="no usable GPU"):
            backend.resolve_device("cuda")
    with pytest.raises(ValueError, match="device must be"):
        backend.resolve_device("tpu")


def test_atomic_write_replaces_whole_files(tmp_path):
    target = tmp_path / "a.npy"
    storage.atomic_save_npy(target, np.arange(5))
    storage.atomic_save_npy(target, np.arange(3))
    assert np.load(target).tolist() == [0, 1, 2]
    assert os.listdir(tmp_path) == ["a.npy"]  # no temporary left behind


def test_checkpoint_round_trip_and_previous_kept(tmp_path):
    import torch
    path = tmp_path / "state.ckpt"
    storage.save_checkpoint(path, {"round": 1, "w": torch.ones(3)})
    storage.save_checkpoint(path, {"round": 2, "w": torch.zeros(3)})
    assert storage.load_checkpoint(path)["round"] == 2
    assert storage.load_checkpoint(path.with_name("state.ckpt.prev"))["round"] == 1


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_checkpoint_is_detected_and_previous_survives(tmp_path, damage):
    import torch
    path = tmp_path / "state.ckpt"
    storage.save_checkpoint(path, {"round": 1, "w": torch.ones(3)})
    storage.save_checkpoint(path, {"round": 2, "w": torch.ones(3)})
    blob = bytearray(path.read_bytes())
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    else:
        blob[-10] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(storage.CheckpointError, match="corrupt"):
        storage.load_checkpoint(path)
    assert storage.load_checkpoint(path, fallback=True)["round"] == 1
    # Saving over a corrupt checkpoint must not push the good one out.
    storage.save_checkpoint(path, {"round": 3, "w": torch.ones(3)})
    assert storage.load_checkpoint(path.with_name("state.ckpt.prev"))["round"] == 1


class Evil:
    """Stands for any object a malicious checkpoint would unpickle."""


def test_checkpoint_refuses_arbitrary_objects(tmp_path):
    import hashlib
    import io
    import torch

    buffer = io.BytesIO()
    torch.save({"x": Evil()}, buffer)
    payload = buffer.getvalue()
    path = tmp_path / "evil.ckpt"
    path.write_bytes(storage._MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    with pytest.raises(storage.CheckpointError, match="safely"):
        storage.load_checkpoint(path)


def test_cuda_module_is_built_wherever_nvcc_is():
    """CI has nvcc and no GPU: the CUDA kernels must still have compiled."""
    import shutil
    nvcc = shutil.which("nvcc") or (os.path.exists("/usr/local/cuda/bin/nvcc") or None)
    if not nvcc or os.environ.get("LATENTMINE_CUDA", "AUTO").upper() == "OFF":
        pytest.skip("no CUDA compiler here, so the CUDA module is not expected")
    module = backend.cuda_module()
    assert module is not None, "nvcc is present but latentmine._cuda was not built"
    assert module.runtime_version() >= 12000
    count, error = module.device_status()
    assert count == module.device_count() >= 0
    assert (error == "") == (count > 0)  # no device: the CUDA error says why (error 35 or 100 here)


def test_atomic_writes_are_readable_by_others(tmp_path):
    old = os.umask(0o022)
    try:
        path = storage.atomic_write_text(tmp_path / "m.json", "{}")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_cuda_reason_carries_the_cuda_error_string(monkeypatch):
    class OldDriver:  # what latentmine._cuda reports when the driver is older than its runtime
        @staticmethod
        def device_status():
            return 0, "cudaErrorInsufficientDriver (35): CUDA driver version is insufficient for CUDA runtime version"

    monkeypatch.setattr(backend, "cuda_module", lambda: OldDriver)
    backend.cuda_device_status.cache_clear()
    try:
        assert backend.report()["cuda_error"].startswith("cudaErrorInsufficientDriver (35)")
        assert backend.resolve_device("auto") == "cpu"
        with pytest.raises(ValueError, match=r"no usable GPU: cudaErrorInsufficientDriver \(35\): CUDA driver"):
            backend.resolve_device("cuda")
    finally:
        backend.cuda_device_status.cache_clear()
