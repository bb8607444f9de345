"""A :class:`concurrent.futures.Executor` on Dask distributed (``latentmine[dask]``).

Dask's own ``Client.get_executor()`` works too; this one adds what fault
handling needs: every submission is a new task (``pure=False``, so a retry is
never answered from the failed result), the executor reports its slots per
host for thread capping, and :meth:`DaskExecutor.abandon` restarts the worker
stuck on a timed-out task.  Importing this module imports ``distributed``.
"""
from __future__ import annotations

import contextlib
import copy
import os
import threading
from concurrent.futures import Executor, Future

try:
    import dask
    from distributed import Client, LocalCluster
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "Dask distributed is not installed: pip install 'latentmine[dask]'") from error

from .threads import host_of


class DaskExecutor(Executor):
    """Run tasks on the cluster behind ``client``.

    Parameters
    ----------
    client : distributed.Client
    owned : sequence, optional
        Objects with ``close()`` (the client, a cluster) closed on shutdown.
    """

    def __init__(self, client: Client, owned=()):
        self.client = client
        self._owned = list(owned)
        self._tasks = {}  # concurrent future -> Dask future, kept until done
        self._lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        task = self.client.submit(fn, *args, pure=False, **kwargs)
        future = Future()
        with self._lock:
            self._tasks[future] = task
        future.add_done_callback(self._forget)
        task.add_done_callback(lambda done: _transfer(done, future))
        return future

    def _forget(self, future: Future) -> None:
        with self._lock:
            task = self._tasks.pop(future, None)
        if task is not None and future.cancelled():
            task.cancel()

    def slots_by_host(self) -> dict:
        """Worker threads per host, as the scheduler reports them now."""
        slots = {}
        for address, info in self.client.scheduler_info(n_workers=-1)["workers"].items():
            host = host_of(address)
            slots[host] = slots.get(host, 0) + int(info["nthreads"])
        return slots

    def abandon(self, future: Future) -> None:
        """Cancel a timed-out task and end the worker process still running it.

        A Python thread cannot be interrupted, so the worker would otherwise
        stay busy with the abandoned task.  Only workers under a nanny are
        ended (the nanny starts a fresh one at once); others keep running it.
        """
        with self._lock:
            task = self._tasks.get(future)
        if task is None:
            return
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        busy = [address for address, keys in self.client.processing().items()
                if task.key in keys and workers.get(address, {}).get("nanny")]
        future.cancel()
        task.cancel()
        if busy:
            self.client.run(_end_worker_process, workers=busy, wait=False)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            pending = list(self._tasks.values())
        if cancel_futures or not wait:
            self.client.cancel(pending)
        elif pending:
            self.client.gather(pending, errors="skip")
        for resource in self._owned:
            resource.close()
        self._owned.clear()


async def _end_worker_process():
    """Run by the worker's event loop (not the stuck thread); its nanny starts a new one."""
    os._exit(1)


def _transfer(task, future: Future) -> None:
    """Copy a finished Dask task's outcome onto its concurrent future."""
    if not future.set_running_or_notify_cancel():
        return  # cancelled by the caller
    try:
        future.set_result(task.result())
    except BaseException as error:  # the task's own exception, KilledWorker or a cancellation
        future.set_exception(error)


#: Dask settings of :func:`local_cluster`. Its workers run no statistical
#: profiler, and the event-loop tick (20 ms by default; it only detects a
#: blocked loop), the memory monitor (100 ms; it enforces the machine's memory
#: per worker) and the system monitor (500 ms; it feeds the dashboard, which
#: is off) wake them less often: those wake-ups took CPU from the labelling.
LOCAL_CLUSTER_SETTINGS = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.worker.memory.monitor-interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
}


@contextlib.contextmanager
def local_cluster(n_workers: int | None = None):
    """A :class:`DaskExecutor` on a new ``LocalCluster`` on loopback.

    One thread per worker process, no dashboard and no statistical profiler
    (sampling every worker thread's stack each 10 ms cost 10-40% more CPU per
    labelled mask here), and the workers' housekeeping runs less often
    (``LOCAL_CLUSTER_SETTINGS``: with Dask's defaults an idle worker used 2.5%
    of a core, 0.65% with these).  A task whose worker dies is not re-run by
    Dask (``allowed-failures`` 0): the failure reaches the caller at once, so
    :func:`~latentmine.parallel.label_many` can count the attempt and isolate
    the sample that caused it.
    """
    from .threads import usable_cpus

    with dask.config.set(LOCAL_CLUSTER_SETTINGS):
        # Each nanny keeps a copy for the workers it restarts; the global settings are restored on exit.
        cluster = LocalCluster(
            n_workers=n_workers or usable_cpus(), threads_per_worker=1, processes=True,
            host="127.0.0.1", dashboard_address=None, config=copy.deepcopy(dask.config.config))
    client = Client(cluster)
    with DaskExecutor(client, owned=(client, cluster)) as executor:
        yield executor


@contextlib.contextmanager
def connect(address: str, *, timeout: float = 10.0):
    """A :class:`DaskExecutor` on the scheduler at ``address``.

    Raises
    ------
    ValueError
        When no scheduler answers at ``address`` within ``timeout`` seconds.
    """
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError) as error:
        raise ValueError(f"could not reach the Dask scheduler at {address!r}: {error}") from error
    with DaskExecutor(client, owned=(client,)) as executor:
        yield executor
