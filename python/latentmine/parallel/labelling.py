"""Label many masks on an executor, in chunks, surviving worker faults.

:func:`label_many` cuts the masks into chunks, keeps at most one chunk per
executor slot in flight, and puts the results back in order.  Faults are
contained chunk by chunk:

* a chunk whose labeller raises, whose worker dies, or which runs past
  ``timeout`` is *halved* and both halves are queued again, so a bad sample is
  isolated in about ``log2(chunk_size)`` rounds without failing its
  neighbours;
* a single sample that fails on its own is re-run up to ``retries`` times,
  then recorded as failed with the reason (its stress is NaN);
* when a process pool breaks while several chunks were in flight, the culprit
  is unknown: those chunks are re-run one at a time (no attempt is charged)
  so the next break names it;
* a labeller reporting non-convergence (``last_result.converged``) fails that
  sample at once: a deterministic solver would not converge on a re-run.

With ``journal=DIR`` every finished chunk is stored durably (checksummed,
atomic); calling again with the same masks and journal labels only what is
missing, so a killed run resumes without labelling anything twice.
"""
from __future__ import annotations

import collections
import dataclasses
import math
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, wait

import numpy as np

from .allocator import reuse_freed_memory
from .executors import LocalProcessPool, slots_by_host
from .journal import LabelJournal
from .threads import cap_for_host, current_host, usable_cpus

OK, FAILED = "ok", "failed"
_MAX_CHUNK = 64
_CHUNKS_PER_SLOT = 4


@dataclasses.dataclass
class LabelBatch:
    """Labels of ``N`` masks, in input order.

    Attributes
    ----------
    stress : ndarray, float32, shape (N, H, W)
        The labeller's output; NaN for failed samples.
    status : ndarray of str, shape (N,)
        ``"ok"`` or ``"failed"``.
    reasons : list of str
        Why each failed sample failed (empty for ``"ok"``).
    seconds : ndarray, float64, shape (N,)
        Labelling time per sample (the labeller's own figure when it reports
        one, else its chunk's time shared equally).
    attempts : ndarray, int64, shape (N,)
        Times each sample was handed to a worker.
    workers : list of str
        ``host/pid`` of the worker that labelled each sample (empty if failed).
    """

    stress: np.ndarray
    status: np.ndarray
    reasons: list
    seconds: np.ndarray
    attempts: np.ndarray
    workers: list

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of the samples labelled successfully."""
        return self.status == OK

    @property
    def failed(self) -> np.ndarray:
        """Indices of the samples that failed for good."""
        return np.flatnonzero(self.status == FAILED)


@dataclasses.dataclass
class _Chunk:
    indices: np.ndarray
    suspect: bool = False  # in flight when a pool broke: re-run alone


def label_many(masks, labeller, *, executor: Executor | None = None, chunk_size: int | None = None,
               retries: int = 2, timeout: float | None = None, progress: bool = True,
               journal=None) -> LabelBatch:
    """Label ``masks`` with ``labeller`` on ``executor``, in order, with retries.

    Parameters
    ----------
    masks : array_like, uint8, shape (N, H, W)
    labeller : callable
        Picklable; maps masks ``(n, H, W)`` to labels ``(n, H, W)``, one
        sample independently of the others (e.g. :class:`latentmine.fea.Labeller`).
    executor : concurrent.futures.Executor, optional
        Defaults to a :class:`~latentmine.parallel.LocalProcessPool` on this
        machine, shut down on return.
    chunk_size : int, optional
        Masks per task; defaults to about four chunks per executor slot, at
        most 64.
    retries : int
        Re-runs of a sample that failed on its own; 0 also disables halving.
    timeout : float, optional
        Seconds a chunk may take from submission (a chunk is submitted only
        when a slot is free).
    progress : bool
        Show a progress bar on stderr.
    journal : path, optional
        Folder where finished chunks are stored; samples already there are
        not labelled again.

    Returns
    -------
    LabelBatch

    Raises
    ------
    ValueError
        For masks that are not ``(N, H, W)`` integers, bad parameters, or a
        journal written for other masks.
    """
    masks = _checked_masks(masks)
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be positive seconds, got {timeout}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    owned = executor is None
    if owned:
        executor = LocalProcessPool(min(usable_cpus(), max(1, len(masks))))
    try:
        run = _Run(masks, labeller, executor, retries, timeout, progress,
                   LabelJournal(journal, masks) if journal is not None else None)
        return run.execute(chunk_size)
    finally:
        if owned:
            executor.shutdown(wait=True, cancel_futures=True)


def _checked_masks(masks) -> np.ndarray:
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f"masks must have shape (N, H, W), got {masks.shape}")
    if masks.dtype != np.uint8:
        if not np.issubdtype(masks.dtype, np.integer) or masks.min(initial=0) < 0 or masks.max(initial=0) > 255:
            raise ValueError(f"masks must hold uint8 label codes, got dtype {masks.dtype}")
        masks = masks.astype(np.uint8)
    return np.ascontiguousarray(masks)


def label_chunk(labeller, masks, slots_by_host_, attempt, caller_pid=None):
    """Worker side: label one chunk, with threads capped in worker processes.

    Threads and the allocator are left alone in the caller's own process (a
    thread pool), whose settings are the caller's; worker processes get
    glibc's long-run malloc thresholds, also where a Dask nanny fixed small ones
    (:func:`~latentmine.parallel.allocator.reuse_freed_memory`).  ``attempt`` makes every submission distinct,
    so executors that cache by arguments never replay a failed result.
    """
    if os.getpid() != caller_pid:
        cap_for_host(slots_by_host_)
        reuse_freed_memory()
    start = time.perf_counter()
    stress = np.asarray(labeller(masks), dtype=np.float32)
    elapsed = time.perf_counter() - start
    if stress.shape != masks.shape:
        raise ValueError(f"labeller returned shape {stress.shape} for masks of shape {masks.shape}")
    report = getattr(labeller, "last_result", None)
    seconds = _per_sample(getattr(report, "seconds", None), len(masks), elapsed / len(masks))
    converged = _per_sample(getattr(report, "converged", None), len(masks), True).astype(bool)
    return stress, seconds, converged, f"{current_host()}/{os.getpid()}"


def _outcome(future):
    """``(result, None)`` or ``(None, exception)``, cancellation included."""
    try:
        return future.result(), None
    except Exception as error:  # the chunk's own error, a broken pool or a cancellation
        return None, error


def _per_sample(values, n, default) -> np.ndarray:
    values = None if values is None else np.asarray(values).reshape(-1)
    return values if values is not None and len(values) == n else np.full(n, default)


class _Run:
    """The bookkeeping of one :func:`label_many` call."""

    def __init__(self, masks, labeller, executor, retries, timeout, progress, journal):
        self.masks, self.labeller, self.executor = masks, labeller, executor
        self.retries, self.timeout, self.journal = retries, timeout, journal
        n = len(masks)
        self.stress = np.full(masks.shape, np.nan, dtype=np.float32)
        self.status = np.full(n, "pending", dtype=object)
        self.reasons = [""] * n
        self.seconds = np.zeros(n)
        self.attempts = np.zeros(n, dtype=np.int64)
        self.workers = [""] * n
        self.alone_failures = np.zeros(n, dtype=np.int64)
        self.slots = slots_by_host(executor)
        self.queue = collections.deque()
        self.in_flight = {}  # future -> (chunk, deadline)
        self.collateral = set()  # futures broken by our own recycling, not by their chunk
        from tqdm.auto import tqdm
        self.bar = tqdm(total=n, desc="labelling", unit="mask", file=sys.stderr,
                        disable=not progress, leave=False)

    def execute(self, chunk_size) -> LabelBatch:
        if self.journal is not None:
            self._restore(self.journal.load())
        todo = np.flatnonzero(self.status == "pending")
        window = max(1, sum(self.slots.values()))
        size = chunk_size or min(_MAX_CHUNK, max(1, math.ceil(len(todo) / (_CHUNKS_PER_SLOT * window))))
        self.queue.extend(_Chunk(todo[i:i + size]) for i in range(0, len(todo), size))
        try:
            while self.queue or self.in_flight:
                self._submit_ready(window)
                done, _ = wait(list(self.in_flight), timeout=self._until_deadline(),
                               return_when=FIRST_COMPLETED)
                for future in done:
                    if future in self.in_flight:
                        self._collect(future)
                self._expire()
        finally:
            self.bar.close()
        return LabelBatch(self.stress, self.status.astype(str), self.reasons, self.seconds,
                          self.attempts, self.workers)

    def _submit_ready(self, window):
        while self.queue and len(self.in_flight) < window:
            if any(chunk.suspect for chunk, _ in self.in_flight.values()):
                return
            if self.queue[0].suspect and self.in_flight:
                return
            chunk = self.queue[0]
            try:
                future = self.executor.submit(label_chunk, self.labeller, self.masks[chunk.indices],
                                              self.slots, int(self.attempts[chunk.indices].max()) + 1,
                                              os.getpid())
            except BrokenExecutor:
                # A worker died and the pool noticed before we collected the chunk it broke:
                # collecting that chunk recycles the pool, then this one is submitted.
                if not self.in_flight:
                    raise
                return
            self.queue.popleft()
            self.attempts[chunk.indices] += 1
            deadline = time.monotonic() + self.timeout if self.timeout else math.inf
            self.in_flight[future] = (chunk, deadline)

    def _until_deadline(self):
        deadlines = [deadline for _, deadline in self.in_flight.values() if deadline < math.inf]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _collect(self, future):
        chunk, _ = self.in_flight.pop(future)
        result, error = _outcome(future)
        if error is None:
            self._store(chunk, result)
        elif future in self.collateral:  # killed by our own recycling, not by its chunk
            self.collateral.discard(future)
            self.queue.appendleft(chunk)
        elif isinstance(error, BrokenExecutor):
            self._broken(chunk, error)
        else:
            self._failed(chunk, f"{type(error).__name__}: {error}")

    def _broken(self, chunk, error):
        """A process pool died under ``chunk``: find out whom to blame, then recycle."""
        alone = not self.in_flight  # suspects always run alone
        others = list(self.in_flight)
        wait(others)
        broken = [chunk]
        for future in others:
            other, _ = self.in_flight.pop(future)
            result, other_error = _outcome(future)
            if other_error is None:
                self._store(other, result)
            else:
                broken.append(other)
        recycle = getattr(self.executor, "recycle", None)
        if recycle is None:
            for lost in broken + list(self.queue):  # not journalled: a new executor may label them
                self._give_up(lost.indices, f"executor broken and cannot be restarted: {error}")
            self.queue.clear()
            return
        recycle()
        if alone:
            self._failed(chunk, f"worker process died ({type(error).__name__})")
            return
        for lost in reversed(broken):
            lost.suspect = True  # the culprit is unknown: nothing charged
            self.queue.appendleft(lost)

    def _expire(self):
        now = time.monotonic()
        for future, (chunk, deadline) in list(self.in_flight.items()):
            if deadline <= now and future in self.in_flight:
                del self.in_flight[future]
                if hasattr(self.executor, "recycle"):  # abandoning kills the others too
                    self.collateral.update(self.in_flight)
                abandon = getattr(self.executor, "abandon", None)
                if abandon is not None:
                    abandon(future)
                else:
                    future.cancel()
                self._failed(chunk, f"timed out after {self.timeout:g} s")

    def _failed(self, chunk, reason):
        indices = chunk.indices
        if len(indices) > 1 and self.retries > 0:
            half = len(indices) // 2
            self.queue.appendleft(_Chunk(indices[half:], chunk.suspect))
            self.queue.appendleft(_Chunk(indices[:half], chunk.suspect))
            return
        self.alone_failures[indices] += 1
        if len(indices) == 1 and self.alone_failures[indices[0]] <= self.retries:
            self.queue.appendleft(chunk)
            return
        self._give_up(indices, reason)
        self._journal(indices)

    def _give_up(self, indices, reason):
        for i in indices:
            self.status[i], self.reasons[i] = FAILED, reason
        self.bar.update(len(indices))
        self.bar.set_postfix(failed=int((self.status == FAILED).sum()))

    def _store(self, chunk, result):
        stress, seconds, converged, worker = result
        indices = chunk.indices
        self.stress[indices] = np.where(converged[:, None, None], stress, np.nan)
        self.seconds[indices] = seconds
        for j, i in enumerate(indices):
            self.workers[i] = worker
            self.status[i] = OK if converged[j] else FAILED
            self.reasons[i] = "" if converged[j] else "labeller reported no convergence"
        self.bar.update(len(indices))
        self._journal(indices)

    def _journal(self, indices):
        if self.journal is not None:
            self.journal.record(indices, self.stress[indices], self.status[indices].astype(str),
                                [self.reasons[i] for i in indices], self.seconds[indices],
                                self.attempts[indices], [self.workers[i] for i in indices])

    def _restore(self, records):
        for indices, stress, status, reasons, seconds, attempts, workers in records:
            self.stress[indices], self.status[indices] = stress, status
            self.seconds[indices], self.attempts[indices] = seconds, attempts
            for j, i in enumerate(indices):
                self.reasons[i], self.workers[i] = reasons[j], workers[j]
        self.bar.update(int((self.status != "pending").sum()))
