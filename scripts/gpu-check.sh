#!/usr/bin/env bash
# One unattended device check, at most 5 minutes on one GPU (docs/gpu.md, "The device check"):
# builds the CUDA module (the build's default architectures), runs every GPU test, the FE and
# latent-step benchmarks and one loop round with device=cuda, writes benchmarks/results/
# fea_gpu.json, ops_gpu.json and loop_gpu.json (device, driver and CUDA versions in each) and
# prints a one-screen summary. A failing part does not stop the others.
#   bash scripts/gpu-check.sh              on a GPU machine (without one: says so, exits 0)
#   bash scripts/gpu-check.sh --dry-run    the same parts on the CPU twins of the kernels
#   bash scripts/gpu-check.sh --out DIR    results elsewhere
set -uo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
[[ -x "$python" ]] || python=$(command -v python3)
# The parts import the built working tree when the build put its modules there, else the installed package.
exec "$python" scripts/gpu_check.py "$@"
