#!/usr/bin/env bash
# Run the whole test suite, setting up .venv first when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x .venv/bin/python ]]; then
  bash scripts/setup.sh --no-run
else
  # Rebuild and reinstall so the tests see the working tree's native code.
  .venv/bin/python -m pip install --quiet ".[dev]"
fi
.venv/bin/python -m pytest -q "$@"
