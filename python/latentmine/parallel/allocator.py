"""Let worker processes reuse freed memory when their launcher told glibc to hand it back at once.

Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536``
(``distributed.nanny.pre-spawn-environ``), so that memory goes back to the
operating system quickly. Setting any malloc threshold switches off glibc's
dynamic mmap threshold (mallopt(3), "M_MMAP_THRESHOLD"): every block above
128 KiB is then a fresh ``mmap`` that the kernel page-faults in and zeroes, and
is unmapped again on ``free``. The finite-element labeller allocates and frees
tens of MB of sparse-matrix and factor arrays per mask, so inside a Dask
worker a 256x256 mask took 13k minor page faults instead of 4.8k and about
30 ms more system CPU (``benchmarks/profile_parallel.py``, docs/scale-out.md).

:func:`reuse_freed_memory` restores what the dynamic threshold settles at in a
process left to glibc's defaults: blocks up to 32 MiB come from the heap
(``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit glibc) and the heap is trimmed only
when 64 MiB lie free at its top (twice the mmap threshold, as the dynamic rule
sets it).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

#: Environment variables through which a launcher fixes glibc's malloc thresholds.
THRESHOLD_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_")
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 2 * MMAP_THRESHOLD_BYTES
# mallopt parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_applied = False


def reuse_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds in a process started with fixed ones.

    Does nothing (returns False) where none of ``THRESHOLD_VARIABLES`` is set,
    so a process on glibc's defaults keeps its dynamic threshold, and where the
    C library has no ``mallopt`` (not glibc). Runs once per process.
    """
    global _applied
    if _applied or not any(name in os.environ for name in THRESHOLD_VARIABLES):
        return _applied
    mallopt = getattr(_c_library(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # Trim first: setting the mmap threshold alone would keep the 64 KiB trim.
    _applied = bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)) and bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    return _applied


def _c_library():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
