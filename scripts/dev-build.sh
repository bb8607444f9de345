#!/usr/bin/env bash
# Developer build (needs the dev extra: pybind11, ninja): compile the native modules into python/latentmine/ so that
# `PYTHONPATH=python` picks them up without reinstalling. Serialised with a lock
# because several people may build from one working tree.
#   LATENTMINE_CUDA=ON bash scripts/dev-build.sh   also compile the CUDA module
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
cuda=${LATENTMINE_CUDA:-OFF}
exec 9>build/.dev-build.lock
flock 9
cmake -S . -B "build/dev-cuda-$cuda" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLATENTMINE_CUDA="$cuda" \
  -DPython_EXECUTABLE="$PWD/.venv/bin/python" \
  -Dpybind11_DIR="$(.venv/bin/python -m pybind11 --cmakedir)" > "build/dev-cuda-$cuda.configure.log"
cmake --build "build/dev-cuda-$cuda" -j"${LATENTMINE_BUILD_JOBS:-2}"
# Copy then rename: overwriting a loaded .so in place crashes processes using it.
for lib in "build/dev-cuda-$cuda"/_core*.so "build/dev-cuda-$cuda"/_cuda*.so; do
  [[ -e "$lib" ]] || continue
  cp "$lib" "python/latentmine/.$(basename "$lib").tmp"
  mv -f "python/latentmine/.$(basename "$lib").tmp" "python/latentmine/$(basename "$lib")"
done
