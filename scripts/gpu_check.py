"""The unattended device check behind ``scripts/gpu-check.sh`` (docs/gpu.md, "The device check").

Parts, each a subprocess with its own time limit, so that one failing or hanging
part does not stop the others:

1. ``build``: the CUDA module, for the build's default architectures;
2. ``tests``: every GPU test (``pytest -m gpu``);
3. ``fea``: ``benchmarks/bench_fea_gpu.py`` -> ``fea_gpu.json``;
4. ``ops``: the CUDA ``latent_step`` benchmark -> ``ops_gpu.json``;
5. ``loop``: one loop round with ``device="cuda"`` (VAE and F trained on the GPU) -> ``loop_gpu.json``.

Every JSON carries the device name, driver and CUDA versions and the commit.
The run ends with a one-screen summary (also ``gpu_check_summary.txt``). Without
a device it says so in one line and exits 0. ``--dry-run`` runs the same parts
on the CPU twins (no CUDA build, small sizes, ``LATENTMINE_GPU_DRY_RUN=1``),
which is how CI proves the script.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Seconds each part may take, 285 in all, within the 5-minute budget of one device session; what a
#: part leaves unused passes on to the next. The GPU tests come first among the CUDA parts, so they
#: also pay CuPy's first-use compilation of its kernels (cached for the parts after them).
LIMITS = {"build": 90, "tests": 60, "fea": 75, "ops": 15, "loop": 45}
#: A dry run is not timed against the device budget (CI machines are small and shared).
DRY_RUN_LIMIT = 300


def gpu_present() -> tuple[bool, str]:
    """Whether this machine has an NVIDIA GPU with a driver, and what says so (cheap: no CUDA init here)."""
    smi = shutil.which("nvidia-smi")
    if smi:
        listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
        if listing.returncode == 0 and "GPU" in listing.stdout:
            return True, listing.stdout.strip().splitlines()[0]
        return False, f"nvidia-smi -L: {(listing.stdout + listing.stderr).strip() or 'no GPU listed'}"
    gpus = Path("/proc/driver/nvidia/gpus")
    if gpus.is_dir() and any(gpus.iterdir()):
        return True, "NVIDIA driver lists a GPU (no nvidia-smi)"
    return False, "no nvidia-smi and no NVIDIA driver"


def device_record(dry_run: bool) -> dict:
    """Device name, driver and CUDA versions, and the commit, for every JSON the check writes."""
    record = {"dry_run": dry_run, "commit": _git("rev-parse", "HEAD"), "tree_clean": _git("status", "--porcelain") == ""}
    if dry_run:
        return {**record, "name": "cpu (dry run: CPU twins of the CUDA kernels)"}
    source = str(ROOT / "python")
    if "PYTHONPATH" in package_env({}) and source not in sys.path:  # the build part's modules
        sys.path.insert(0, source)
    from latentmine import backend
    module = backend.cuda_module()
    count, error = backend.cuda_device_status()
    record.update(cuda_devices=count, cuda_error=error)
    if module is not None:
        record.update(cuda_runtime=module.runtime_version(), cuda_driver=module.driver_version())
        if count:
            record.update(module.device_properties(0))
    smi = shutil.which("nvidia-smi")
    if smi:
        query = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=30)
        record["nvidia_smi"] = query.stdout.strip()
    try:
        import torch
        record["torch_cuda"] = torch.version.cuda
    except ImportError:
        pass
    return record


def _git(*args) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def _write_json(path: Path, data) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(temporary, path)


def gpu_test_files() -> list[str]:
    """The test files that hold GPU tests (collecting only these keeps the part quick)."""
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")
                  if "mark.gpu" in p.read_text())


def _run(name, command, env, log_dir, limit):
    """Run one part; returns (status, seconds, last output line)."""
    log = log_dir / f"{name}.log"
    started = time.monotonic()
    try:
        with open(log, "w") as out:
            done = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=limit)
        status = "pass" if done.returncode == 0 else f"fail (exit {done.returncode})"
    except subprocess.TimeoutExpired:
        status = f"fail (over {limit:.0f} s)"
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
    return status, time.monotonic() - started, tail[0][:70] if tail else ""


def package_env(env: dict) -> dict:
    """``env`` with the working tree's package first on the path when a developer build put its
    native modules there (the device run's build part does); otherwise the installed package.

    A source tree without ``_core`` would shadow the installed package and fail to import, which
    is what a dry run in a clean clone (CI) meets.
    """
    if any((ROOT / "python" / "latentmine").glob("_core*.so")):
        return {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "python"), env.get("PYTHONPATH")]))}
    return env


def run_parts(out: Path, logs: Path, dry_run: bool) -> list:
    python = sys.executable
    env = {k: v for k, v in os.environ.items() if v != ""}
    if dry_run:
        env["LATENTMINE_GPU_DRY_RUN"] = "1"
    build = (["true"] if dry_run else ["bash", "scripts/dev-build.sh"])
    build_env = {**env, "LATENTMINE_CUDA": "ON", "LATENTMINE_BUILD_JOBS": str(os.cpu_count() or 2)}
    bench = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    parts = [
        ("build", build, build_env),
        ("tests", [python, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-m", "gpu", *gpu_test_files(),
                   f"--junitxml={logs / 'gpu_tests.xml'}"], env),
        ("fea", bench + ["benchmarks/bench_fea_gpu.py", f"--benchmark-json={out / 'fea_gpu.json'}"],
         {**env, "LATENTMINE_GPU_CHECK": "1"}),
        ("ops", bench + ["benchmarks/bench_ops.py", "-k", "cpu" if dry_run else "cuda",
                         f"--benchmark-json={out / 'ops_gpu.json'}"]
         + (["--benchmark-max-time=0.05", "--benchmark-min-rounds=1"] if dry_run else []), env),
        ("loop", [python, str(Path(__file__)), "--loop-round", str(out / "loop_gpu.json")]
         + (["--dry-run"] if dry_run else []), env),
    ]
    results, unused = [], 0.0
    for name, command, part_env in parts:
        limit = DRY_RUN_LIMIT if dry_run else LIMITS[name] + unused
        # The environment is settled per part: the build part may have just made the native modules.
        status, seconds, tail = _run(name, command, package_env(part_env), logs, limit)
        unused = max(0.0, limit - seconds)
        if dry_run and name == "build":
            status, tail = "skip", "dry run: no CUDA build"
        results.append((name, status, seconds, tail))
    record = device_record(dry_run)
    for name in ("fea_gpu.json", "ops_gpu.json"):
        path = out / name
        if path.exists():
            _write_json(path, {**json.loads(path.read_text()), "device": record})
    return results


def loop_round(path: Path, dry_run: bool) -> None:
    """One suggestive-labelling round with the VAE, F and the labeller on the device."""
    import torch

    from latentmine import loop, models, phantoms
    from latentmine.fea import Labeller

    device = "cpu" if dry_run else "cuda"
    size, count, epochs = (64, 36, 1) if dry_run else (64, 192, 5)
    timings = {}
    started = time.perf_counter()
    cohort = phantoms.generate(count, size=size, seed=0)
    split = count - count // 6
    pool = loop.Samples(cohort.images[:split], cohort.masks[:split], cohort.ids[:split])
    test = loop.Samples(cohort.images[split:], cohort.masks[split:], cohort.ids[split:])
    timings["cohort_s"] = time.perf_counter() - started
    started = time.perf_counter()
    vae = models.train_vae(pool.images, pool.masks, latent_dim=16, width=8, epochs=epochs, progress=False,
                           device=device)
    timings["vae_s"] = time.perf_counter() - started
    # gradient-nn: the latent step through G and F on the device, labelling real samples, so a
    # briefly trained VAE cannot starve the round (the loop refuses to train on nothing).
    config = loop.LoopConfig(strategy="gradient-nn", rounds=1, per_round=8, initial=8, initial_strategy="random",
                             epochs=epochs, width=8, step_size=0.5, seed=0, device=device)
    started = time.perf_counter()
    run = loop.SuggestiveLoop(vae, Labeller(cohort.pixel_size_mm, device=device), pool=pool, test=test,
                              config=config)
    rows = list(run.run())
    timings["round_s"] = time.perf_counter() - started
    on = {"vae": str(next(vae.parameters()).device), "target": str(next(run.target.parameters()).device)}
    if not dry_run and not all(d.startswith("cuda") for d in on.values()):
        raise RuntimeError(f"the models did not train on the GPU: {on}")
    _write_json(path, {"device": device_record(dry_run), "trained_on": on, "seconds": timings, "rows": rows,
                       "config": {"size": size, "count": count, "epochs": epochs},
                       "torch_cuda_available": torch.cuda.is_available()})


def summary(results, out: Path, logs: Path, dry_run: bool) -> str:
    """The one-screen summary: parts, masks/s, CG iterations, largest chunk, latent-step time, loop round."""
    lines = [f"gpu-check{' --dry-run' if dry_run else ''}: {device_record(dry_run).get('name', 'no device name')}"]
    lines += [f"  {name:<6} {status:<22} {seconds:6.1f} s  {tail}" for name, status, seconds, tail in results]
    tests = logs / "gpu_tests.xml"
    if tests.exists():
        suite = ElementTree.parse(tests).getroot()
        suite = suite if suite.tag == "testsuite" else suite[0]
        lines.append("  gpu tests: {tests} run, {failures} failed, {errors} errors, {skipped} skipped"
                     .format(**{k: suite.get(k, "?") for k in ("tests", "failures", "errors", "skipped")}))
    fea = out / "fea_gpu.json"
    if fea.exists():
        lines.append("  FE masks/s (target >= 1000 at 256^2 batched; one 256^2 mask <= 20 ms; <= 60 CG iterations):")
        for bench in json.loads(fea.read_text()).get("benchmarks", []):
            info = bench.get("extra_info", {})
            lines.append(f"    {bench['group']:<20} {bench['name'].split('[')[1].split('-')[0]:<16}"
                         f" {info.get('masks_per_s', float('nan')):9.1f} masks/s"
                         f"  CG {info.get('cg_iterations_max', '-')!s:>4}  largest chunk {info.get('largest_chunk', '-')}")
    ops = out / "ops_gpu.json"
    if ops.exists():
        for bench in json.loads(ops.read_text()).get("benchmarks", []):
            lines.append(f"  latent_step {bench['name']:<40} median {1e3 * bench['stats']['median']:.3f} ms"
                         " (target <= 0.1 ms on CUDA)")
    loop_json = out / "loop_gpu.json"
    if loop_json.exists():
        data = json.loads(loop_json.read_text())
        lines.append(f"  loop round: trained on {data['trained_on']}, "
                     + ", ".join(f"{k} {v:.1f}" for k, v in data["seconds"].items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="run every part on the CPU twins, small sizes")
    parser.add_argument("--out", type=Path, help="where the JSON and summary go (default benchmarks/results, or "
                                                  "build/gpu-check-dry-run for a dry run; part logs in build/"
                                                  "gpu-check-logs, or OUT/logs)")
    parser.add_argument("--loop-round", type=Path, help=argparse.SUPPRESS)  # the loop part's subprocess
    args = parser.parse_args(argv)
    if args.loop_round is not None:
        loop_round(args.loop_round, args.dry_run)
        return 0
    if not args.dry_run:
        present, why = gpu_present()
        if not present:
            print(f"gpu-check: no CUDA device on this machine ({why}); nothing was run")
            return 0
    out = args.out or (ROOT / ("build/gpu-check-dry-run" if args.dry_run else "benchmarks/results"))
    logs = out / "logs" if args.out else ROOT / "build/gpu-check-logs"  # part logs, JUnit XML: not results
    logs.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    results = run_parts(out, logs, args.dry_run)
    text = summary(results, out, logs, args.dry_run)
    (out / "gpu_check_summary.txt").write_text(text + "\n")
    print(text)
    return 0 if all(status in ("pass", "skip") for _, status, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
