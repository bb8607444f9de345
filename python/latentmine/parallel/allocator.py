"""Let labelling worker processes reuse freed memory instead of mapping it afresh.

Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536``
(``distributed.nanny.pre-spawn-environ``), so that memory goes back to the
operating system quickly. Setting any malloc threshold switches off glibc's
dynamic mmap threshold (mallopt(3), "M_MMAP_THRESHOLD"): every block above
128 KiB is then a fresh ``mmap`` that the kernel page-faults in and zeroes, and
is unmapped again on ``free``. The finite-element labeller allocates and frees
megabytes of sparse-matrix and stress arrays per mask, so inside a Dask worker
a 256x256 mask took 13k minor page faults instead of 4.8k and about 30 ms more
system CPU (SuperLU solver), 5.9k instead of 0.9k with the multifrontal one
(``benchmarks/profile_parallel.py``, docs/scale-out.md). A fresh process on
glibc's defaults only reaches its steady thresholds after freeing blocks of
each size once: process-pool workers faulted 1.7k times per mask, 0.9k with
them set from the start.

:func:`reuse_freed_memory` sets what the dynamic threshold settles at in a
long-running process: blocks up to 32 MiB come from the heap
(``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit glibc), and the heap is trimmed only
when 64 MiB lie free at its top (twice the mmap threshold, as the dynamic rule
sets it). :func:`~latentmine.parallel.labelling.label_chunk` calls it in
worker processes only, never in the caller's.
"""
from __future__ import annotations

import ctypes
import ctypes.util

MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 2 * MMAP_THRESHOLD_BYTES
# mallopt parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_applied = False


def reuse_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds of this process to their long-run values (once).

    Returns whether they are set; False where the C library has no
    ``mallopt`` (not glibc).
    """
    global _applied
    if _applied:
        return True
    mallopt = getattr(_c_library(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # Trim first: setting the mmap threshold alone would keep a launcher's 64 KiB trim.
    _applied = bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)) and bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    return _applied


def _c_library():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
