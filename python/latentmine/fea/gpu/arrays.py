"""Array-module dispatch: the same solver code runs on NumPy/SciPy and CuPy/cupyx.

Every function of this package takes its array module from its inputs, as
CuPy's ``get_array_module`` does, but without importing CuPy for NumPy inputs
(importing it costs time and, on a machine without a driver, may fail).
"""
from __future__ import annotations

import numpy


def is_device_array(array) -> bool:
    """True for CuPy arrays and cupyx sparse matrices."""
    return type(array).__module__.split(".")[0] in ("cupy", "cupyx")


def array_module(array):
    """``cupy`` for device arrays, ``numpy`` otherwise."""
    if is_device_array(array):
        import cupy
        return cupy
    return numpy


def sparse_module(xp):
    """``cupyx.scipy.sparse`` for ``xp = cupy``, ``scipy.sparse`` for ``numpy``."""
    if xp is numpy:
        import scipy.sparse
        return scipy.sparse
    import cupyx.scipy.sparse
    return cupyx.scipy.sparse


def to_host(array) -> numpy.ndarray:
    """A NumPy copy of a device array (a synchronising transfer), or the array itself."""
    return array.get() if is_device_array(array) else numpy.asarray(array)


def rowdot(a, b):
    """Per-row inner products of two ``(k, n)`` arrays: the segment reductions of batched CG."""
    return array_module(a).einsum("ij,ij->i", a, b)


def pointer(array) -> int:
    """Address of a contiguous array's first element: device pointer (CuPy) or host pointer (NumPy)."""
    if not array.flags.c_contiguous:
        raise ValueError("native kernels need C-contiguous arrays")
    return array.data.ptr if is_device_array(array) else array.ctypes.data
