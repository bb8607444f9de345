"""scripts/gpu-check.sh rehearsed without a device: --dry-run runs every part on the CPU twins."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import gpu_check  # noqa: E402  (a script, not a package module)


@pytest.mark.slow
def test_dry_run_runs_every_part_and_writes_the_records(tmp_path):
    done = subprocess.run(["bash", "scripts/gpu-check.sh", "--dry-run", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("gpu-check --dry-run: cpu (dry run")
    status = {line.split()[0]: line.split()[1] for line in lines[1:6]}
    assert status == {"build": "skip", "tests": "pass", "fea": "pass", "ops": "pass", "loop": "pass"}
    fea = json.loads((tmp_path / "fea_gpu.json").read_text())
    gpu = [b for b in fea["benchmarks"] if b["name"].startswith("test_fea_masks_per_second[gpu")]
    assert gpu and all(b["extra_info"]["converged"] and 0 < b["extra_info"]["cg_iterations_max"] <= 60 for b in gpu)
    assert {b["extra_info"]["largest_chunk"] for b in gpu} == {1, 4}
    for name in ("fea_gpu.json", "ops_gpu.json", "loop_gpu.json"):
        record = json.loads((tmp_path / name).read_text())["device"]
        assert record["dry_run"] and record["name"].startswith("cpu") and len(record["commit"]) == 40
    loop = json.loads((tmp_path / "loop_gpu.json").read_text())
    assert loop["trained_on"] == {"vae": "cpu", "target": "cpu"} and loop["rows"]
    assert (tmp_path / "gpu_check_summary.txt").read_text().strip() == done.stdout.strip()


def test_without_a_device_it_says_so_in_one_line_and_exits_0(monkeypatch, capsys):
    monkeypatch.setattr(gpu_check, "gpu_present", lambda: (False, "no nvidia-smi and no NVIDIA driver"))
    assert gpu_check.main([]) == 0
    out = capsys.readouterr().out
    assert out == "gpu-check: no CUDA device on this machine (no nvidia-smi and no NVIDIA driver); nothing was run\n"


def test_the_device_budget_fits_five_minutes():
    assert sum(gpu_check.LIMITS.values()) <= 290
    assert gpu_check.gpu_test_files() == ["tests/test_fea_gpu_device.py", "tests/test_loop.py", "tests/test_ops.py"]


def test_parts_import_the_source_tree_only_where_a_build_put_the_native_modules_there(monkeypatch, tmp_path):
    (tmp_path / "python" / "latentmine").mkdir(parents=True)
    monkeypatch.setattr(gpu_check, "ROOT", tmp_path)
    assert "PYTHONPATH" not in gpu_check.package_env({"A": "1"})  # a clean clone: the installed package
    (tmp_path / "python" / "latentmine" / "_core.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    env = gpu_check.package_env({"PYTHONPATH": "/elsewhere"})
    assert env["PYTHONPATH"].split(":") == [str(tmp_path / "python"), "/elsewhere"]
