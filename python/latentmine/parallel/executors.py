"""Executors that labelling and study cells run on.

Anything implementing :class:`concurrent.futures.Executor` works.  Two are
provided:

* :class:`LocalProcessPool` (the default): a process pool on this machine,
  started with ``spawn`` so workers never inherit a parent's threads or
  OpenMP state, with each worker's threads capped to its share of the cores.
  After a worker dies or hangs it can be *recycled*: its processes are killed
  and a fresh pool takes their place, which a plain
  :class:`~concurrent.futures.ProcessPoolExecutor` cannot do.
* :class:`~latentmine.parallel.dask_executor.DaskExecutor` (``latentmine[dask]``):
  tasks on a Dask distributed cluster, local or remote.

Command lines take ``--workers N`` and ``--scheduler ADDRESS`` through
:func:`add_executor_arguments` and :func:`executor_from_args`.
"""
from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import threading
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

from .threads import _LOCAL_HOST, cap_threads, threads_per_task, usable_cpus

LOCAL_CLUSTER = "local"


class LocalProcessPool(Executor):
    """A recyclable ``spawn`` process pool with capped threads per worker.

    Parameters
    ----------
    max_workers : int, optional
        Worker processes; defaults to the usable cores.
    """

    def __init__(self, max_workers: int | None = None):
        self.max_workers = int(max_workers or usable_cpus())
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.max_workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=cap_threads,
            initargs=(threads_per_task(self.max_workers),),
        )

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            return self._pool.submit(fn, *args, **kwargs)

    def recycle(self) -> None:
        """Kill the worker processes (running tasks fail) and start a fresh pool."""
        with self._lock:
            old, self._pool = self._pool, self._new_pool()
        _kill_workers(old)

    def abandon(self, future) -> None:
        """Stop the work behind a timed-out ``future``: recycle the pool."""
        self.recycle()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    if hasattr(pool, "kill_workers"):  # Python 3.14+
        pool.kill_workers()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()
    for process in processes:
        process.join()


def slots_by_host(executor: Executor) -> dict:
    """How many tasks ``executor`` runs at once, per host.

    Unknown executors count as one task per usable core of this machine.
    """
    slots = getattr(executor, "slots_by_host", None)
    if callable(slots):
        return slots()
    if isinstance(executor, LocalProcessPool):
        return {_LOCAL_HOST: executor.max_workers}
    if isinstance(executor, (ProcessPoolExecutor, ThreadPoolExecutor)):
        return {_LOCAL_HOST: executor._max_workers}
    return {_LOCAL_HOST: usable_cpus()}


def add_executor_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--workers N`` and ``--scheduler ADDRESS`` to a command's parser."""
    group = parser.add_argument_group("parallel execution")
    group.add_argument(
        "--workers", type=_positive_int, default=None, metavar="N",
        help="worker processes (default: one per core); with --scheduler local, Dask workers")
    group.add_argument(
        "--scheduler", default=None, metavar="ADDRESS",
        help="run on a Dask cluster: a scheduler address such as tcp://host:8786, or "
             f"'{LOCAL_CLUSTER}' to start one on this machine (needs latentmine[dask])")
    return parser


@contextlib.contextmanager
def executor_from_args(args):
    """The executor that ``--workers`` / ``--scheduler`` ask for, shut down on exit.

    Without ``--scheduler``: a :class:`LocalProcessPool`.  With
    ``--scheduler local``: a Dask ``LocalCluster`` of ``--workers`` processes.
    With an address: a client of that scheduler.

    Raises
    ------
    ValueError
        When Dask is not installed, the scheduler cannot be reached, or
        ``--workers`` is given with a remote scheduler.
    """
    scheduler = getattr(args, "scheduler", None)
    workers = getattr(args, "workers", None)
    if scheduler is None:
        with LocalProcessPool(workers) as pool:
            yield pool
        return
    if workers is not None and scheduler != LOCAL_CLUSTER:
        raise ValueError(f"--workers applies to this machine; the cluster at {scheduler} has its own workers")
    try:
        from .dask_executor import connect, local_cluster
    except ImportError as error:
        raise ValueError(f"--scheduler needs Dask: {error}") from error
    context = local_cluster(workers) if scheduler == LOCAL_CLUSTER else connect(scheduler)
    with context as executor:
        yield executor


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value
