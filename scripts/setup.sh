#!/usr/bin/env bash
# Set up .venv in the repository root, install latentmine with its native
# modules, then run the main job on built-in default data.
#   bash scripts/setup.sh            set up and run the demo
#   bash scripts/setup.sh --no-run   set up only
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# torch first and pinned: on the project's machines 2.13.0 is a local CPU
# wheel, while an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet ".[dev]"

if [[ "${1:-}" != "--no-run" ]]; then
  .venv/bin/latentmine demo --out runs/demo
fi
