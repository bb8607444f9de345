"""What this installation can run on.

CUDA counts as available only when the CUDA module imports *and* reports at
least one device: a module linked with static cudart imports on a machine with
no driver, so an import alone is not a GPU.
"""
from __future__ import annotations

import functools
import importlib
import os


@functools.lru_cache(maxsize=None)
def _import(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def core():
    """The CPU extension module ``latentmine._core`` (always built)."""
    module = _import("latentmine._core")
    if module is None:
        raise ImportError("latentmine._core is missing: reinstall with `pip install .` so the native module builds")
    return module


def cuda_module():
    """The CUDA extension module, or ``None`` when it was not built."""
    return _import("latentmine._cuda")


@functools.lru_cache(maxsize=None)
def cuda_device_status() -> tuple[int, str]:
    """``(devices, error)``: usable CUDA devices, and why there are none.

    ``error`` is ``""`` when the count is trustworthy, else the CUDA error of
    ``cudaGetDeviceCount`` (for example ``cudaErrorInsufficientDriver (35)``: a
    driver too old for the CUDA runtime the module was built with), or a note
    that the module was not built.
    """
    module = cuda_module()
    if module is None:
        return 0, "latentmine._cuda was not built (no CUDA compiler at install time, or LATENTMINE_CUDA=OFF)"
    count, error = module.device_status()
    return int(count), str(error)


def cuda_device_count() -> int:
    """Usable CUDA devices: 0 without the module, a driver or a device."""
    return cuda_device_status()[0]


def cupy():
    """CuPy when it imports and sees a device, else ``None``."""
    cp = _import("cupy")
    if cp is None:
        return None
    try:
        return cp if cp.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:  # CuPy raises its own CUDA errors without a driver
        return None


def cuda_available() -> bool:
    """True when the CUDA kernels and CuPy can run on a device here."""
    return cuda_device_count() > 0 and cupy() is not None


def resolve_device(device: str) -> str:
    """Map ``"cpu"``, ``"cuda"`` or ``"auto"`` to the device that will run.

    Raises
    ------
    ValueError
        For an unknown name, or ``"cuda"`` when no usable GPU is present.
    """
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if device == "cuda":
        if not cuda_available():
            raise ValueError("device='cuda' but no usable GPU: " + _cuda_reason())
        return "cuda"
    raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}")


def _cuda_reason() -> str:
    count, error = cuda_device_status()
    if count == 0:
        return error or "the CUDA module reports no device"
    return "CuPy is not installed or sees no device (pip install 'latentmine[gpu]')"


def report() -> dict:
    """A summary of the available backends, for logs and ``latentmine --backend``."""
    mod = _import("latentmine._core")
    return {
        "cpu": mod is not None,
        "openmp": bool(getattr(mod, "has_openmp", False)),
        "openmp_threads": int(mod.openmp_max_threads()) if mod is not None else 0,
        "cpu_count": os.cpu_count(),
        "cuda_module": cuda_module() is not None,
        "cuda_devices": cuda_device_count(),
        "cuda_error": cuda_device_status()[1],
        "cupy": _import("cupy") is not None,
        "cuda": cuda_available(),
    }
