"""Parallel labelling on any executor (process pool or Dask), with fault handling.

Dask is imported only when a Dask executor is asked for (``latentmine[dask]``).
"""
from .executors import LocalProcessPool, add_executor_arguments, executor_from_args, slots_by_host
from .labelling import FAILED, OK, LabelBatch, label_many
from .threads import cap_threads, threads_per_task, usable_cpus

__all__ = [
    "FAILED", "OK", "LabelBatch", "LocalProcessPool", "add_executor_arguments", "cap_threads",
    "executor_from_args", "label_many", "slots_by_host", "threads_per_task", "usable_cpus",
]
