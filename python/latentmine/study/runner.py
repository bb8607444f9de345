"""Run the cells of a study on any executor, resumably.

Work comes in two phases, each a set of pure, picklable tasks that write their
own result file atomically:

1. ``prepare(config, cohort, out)``: the state that every strategy of a
   repeat shares (cohort splits, labelled test set, VAE) in
   ``out/cohorts/c<i>/`` (one per repeat, or one for all with
   ``shared_cohort``);
2. ``cell(config, strategy, repeat, out)``: one acquisition run with its
   learning curve in ``out/cells/<strategy>-r<i>.json``.

A task whose result file exists and carries this study's configuration digest
is finished and is never recomputed, so an interrupted study resumes where it
stopped. Tasks run on any :class:`concurrent.futures.Executor` (a process pool,
Dask workers...); without one they run serially in this process.
"""
from __future__ import annotations

import json
import sys
from concurrent.futures import Executor, Future
from pathlib import Path

from ..storage import atomic_write_json
from .design import StudyConfig

CONFIG_FILE = "config.json"


class SerialExecutor(Executor):
    """Runs each task at submission, in this process (no pickling, easy debugging)."""

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to the caller through the future
            future.set_exception(error)
        return future


def cell_path(out, strategy: str, repeat: int) -> Path:
    return Path(out) / "cells" / f"{strategy}-r{repeat}.json"


def shared_dir(out) -> Path:
    """Results that several cells share (the F of a training set they have in common)."""
    return Path(out) / "cells" / "shared"


def clear_locks(out) -> None:
    """Remove the locks of shared results left by an interrupted study (no cell runs yet)."""
    for lock in shared_dir(out).glob("*.lock"):
        lock.unlink(missing_ok=True)


def cohort_dir(out, cohort: int) -> Path:
    return Path(out) / "cohorts" / f"c{cohort}"


def cohort_marker(out, cohort: int) -> Path:
    return cohort_dir(out, cohort) / "ready.json"


def read_result(path, digest: str):
    """The JSON at ``path`` when it is a finished result of this study, else ``None``."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("config_digest") == digest else None


def claim_folder(config: StudyConfig, out) -> None:
    """Record ``config`` in ``out``, refusing a folder that holds a different experiment."""
    out = Path(out)
    stored = out / CONFIG_FILE
    if stored.exists():
        try:
            previous = StudyConfig.from_dict(json.loads(stored.read_text()))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{stored} is not a study configuration: {error}") from None
        if previous.digest() != config.digest():
            differ = sorted(k for k, v in config.to_dict().items()
                            if previous.to_dict().get(k) != v and k not in ("strategies", "repeats"))
            raise ValueError(f"{out} holds a study with other settings ({', '.join(differ)}); "
                             "resume it with the same settings or choose another --out")
    atomic_write_json(stored, config.to_dict())


def run_study(config: StudyConfig, out, *, cell_fn, prepare_fn, executor: Executor | None = None,
              progress: bool = True) -> list:
    """Run every unfinished task of ``config`` into ``out``; return the cell results.

    Parameters
    ----------
    cell_fn, prepare_fn
        Module-level callables ``cell_fn(config, strategy, repeat, out)`` and
        ``prepare_fn(config, cohort, out)`` that write the result files named by
        :func:`cell_path` and :func:`cohort_marker` (with ``config_digest``).
    executor
        Where tasks run; :class:`SerialExecutor` when ``None``.
    """
    out = Path(out)
    claim_folder(config, out)
    clear_locks(out)
    executor = executor or SerialExecutor()
    digest = config.digest()
    _run_tasks(executor, prepare_fn, [(config, c, str(out)) for c in config.cohorts()
                                      if read_result(cohort_marker(out, c), digest) is None],
               "preparing cohorts", progress)
    _run_tasks(executor, cell_fn, [(config, s, r, str(out)) for s, r in config.cells()
                                   if read_result(cell_path(out, s, r), digest) is None],
               "study cells", progress)
    results = []
    for strategy, repeat in config.cells():
        result = read_result(cell_path(out, strategy, repeat), digest)
        if result is None:
            raise RuntimeError(f"cell {strategy} repeat {repeat} finished without writing "
                               f"{cell_path(out, strategy, repeat)}")
        results.append(result)
    return results


def _run_tasks(executor: Executor, fn, task_args: list, description: str, progress: bool) -> None:
    if not task_args:
        return
    from tqdm import tqdm

    with tqdm(total=len(task_args), desc=description, unit="task", file=sys.stderr,
              disable=not progress) as bar:
        futures = []
        for args in task_args:
            future = executor.submit(fn, *args)
            future.add_done_callback(lambda _: bar.update())
            futures.append(future)
        for future in futures:
            future.result()  # re-raise the first failure; finished tasks are already saved
