"""Cap the threads that OpenMP, BLAS and torch start inside each worker.

Every worker process (or Dask worker thread) that labels masks runs native
code that would, left alone, start one OpenMP thread per core.  With ``W``
workers on a ``C``-core host that is ``W x C`` busy threads fighting for ``C``
cores, which is slower than either kind of parallelism alone.  Each task
therefore gets ``C // W`` threads (at least one).

Two mechanisms are needed because a runtime reads its environment only once:
the ``*_NUM_THREADS`` variables cover libraries loaded later, and an explicit
``omp_set_num_threads`` / ``torch.set_num_threads`` covers those already
loaded.  ``omp_set_num_threads`` sets the calling thread's value, which is the
thread that runs the task in both a process pool and a Dask worker.
"""
from __future__ import annotations

import ctypes
import os
import sys

_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_LOCAL_HOST = "local"


def usable_cpus() -> int:
    """Cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_per_task(concurrent_tasks: int) -> int:
    """Threads each of ``concurrent_tasks`` tasks sharing this host may use."""
    return max(1, usable_cpus() // max(1, int(concurrent_tasks)))


def cap_threads(threads: int) -> int:
    """Limit OpenMP, BLAS and torch in this process (calling thread) to ``threads``."""
    threads = max(1, int(threads))
    for name in _ENV_VARS:
        os.environ[name] = str(threads)
    _set_loaded_openmp_threads(threads)
    torch = sys.modules.get("torch")  # never import torch just to cap it
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def cap_for_host(slots_by_host: dict) -> int:
    """Cap this task's threads given how many tasks run at once on each host.

    ``slots_by_host`` maps a host (as :func:`current_host` names it) to the
    number of tasks the executor runs concurrently there.
    """
    host = current_host()
    return cap_threads(threads_per_task(slots_by_host.get(host, usable_cpus())))


def current_host() -> str:
    """The host of the Dask worker running this task, else ``"local"``."""
    if "distributed" in sys.modules:
        from distributed import get_worker
        try:
            return host_of(get_worker().address)
        except ValueError:  # not inside a Dask worker
            pass
    return _LOCAL_HOST


def host_of(address: str) -> str:
    """``"tcp://10.0.0.5:4321"`` -> ``"10.0.0.5"``."""
    return address.split("://", 1)[-1].rsplit(":", 1)[0]


def _set_loaded_openmp_threads(threads: int) -> None:
    # RTLD_NOLOAD: only touch a GNU OpenMP runtime that is already loaded.
    mode = getattr(os, "RTLD_NOLOAD", None)
    if mode is None:
        return
    try:
        runtime = ctypes.CDLL("libgomp.so.1", mode=mode | os.RTLD_LAZY)
    except OSError:
        return
    runtime.omp_set_num_threads(ctypes.c_int(threads))
