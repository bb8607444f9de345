"""Throughput of the latent step: native kernels against torch eager, same run.

    PYTHONPATH=python .venv/bin/python -m pytest benchmarks/bench_ops.py \
        --benchmark-json benchmarks/results/ops.json

The CPU group's native test records ``speedup_vs_torch`` (torch eager median /
native median, both measured in this run); the target is >= 2. The GPU group
skips without a CUDA device and a CUDA build of torch.
"""
import os

import pytest
import torch

from latentmine import backend
from latentmine.ops import latent_step, latent_step_reference

# scripts/gpu-check.sh --dry-run (LATENTMINE_GPU_DRY_RUN=1) only proves its plumbing: a small batch.
BATCH, LATENT_DIM = (4096 if os.environ.get("LATENTMINE_GPU_DRY_RUN") == "1" else 65536), 128
STEP, MAX_NORM = 0.5, 12.0
_medians = {}


def _inputs(device):
    gen = torch.Generator().manual_seed(0)
    z, grad = torch.randn(BATCH, LATENT_DIM, generator=gen), torch.randn(BATCH, LATENT_DIM, generator=gen)
    return z.to(device), grad.to(device)


def _record(benchmark, group_key, name):
    _medians[(group_key, name)] = benchmark.stats.stats.median
    benchmark.extra_info.update(
        loadavg=os.getloadavg(), torch_threads=torch.get_num_threads(),
        openmp_threads=backend.core().openmp_max_threads(), shape=[BATCH, LATENT_DIM])
    peer = _medians.get((group_key, "torch"))
    if name == "native" and peer is not None:
        benchmark.extra_info["speedup_vs_torch"] = peer / _medians[(group_key, "native")]


def _bench(benchmark, fn, device, sync=lambda: None):
    z, grad = _inputs(device)

    def run():
        out = fn(z, grad, STEP, max_norm=MAX_NORM)
        sync()
        return out

    out = benchmark(run)
    torch.testing.assert_close(out, latent_step_reference(z, grad, STEP, max_norm=MAX_NORM), rtol=1e-5, atol=1e-6)


# Torch first so that the native test of each group can quote the ratio.
@pytest.mark.benchmark(group="latent_step-cpu-65536x128")
@pytest.mark.parametrize("name, fn", [("torch", latent_step_reference), ("native", latent_step)])
def test_latent_step_cpu(benchmark, name, fn):
    _bench(benchmark, fn, "cpu")
    _record(benchmark, "cpu", name)


@pytest.mark.gpu
@pytest.mark.skipif(not (backend.cuda_available() and torch.cuda.is_available()),
                    reason="needs a CUDA device, latentmine._cuda and a CUDA build of torch")
@pytest.mark.benchmark(group="latent_step-cuda-65536x128")
@pytest.mark.parametrize("name, fn", [("torch", latent_step_reference), ("native", latent_step)])
def test_latent_step_cuda(benchmark, name, fn):
    _bench(benchmark, fn, "cuda", sync=torch.cuda.synchronize)
    _record(benchmark, "cuda", name)
