"""Where the CPU time of a labelled mask goes, in one process and inside parallel workers (docs/scale-out.md).

    .venv/bin/python benchmarks/profile_parallel.py [--masks 16] [--size 256] [--settings single,pool-2,dask-2]

Labels the same phantom masks (``phantoms.generate(N, size=S, seed=0)``) in each
setting and prints, per mask: wall time, user and system CPU of the thread
that labelled it, minor page faults, and the functions whose own time
(cProfile ``tottime``) differs most from the first setting. Settings:

* ``single``: the labeller called in this process (OpenMP on every core);
* ``single-1``: the same with OpenMP/BLAS capped to one thread;
* ``thread-1``: capped to one thread, in a non-main thread of this process
  (where a Dask worker runs its tasks);
* ``pool-N`` / ``dask-N``: chunks on a ``LocalProcessPool(N)`` or a Dask
  ``LocalCluster`` of N workers, each profiled inside its worker with the
  worker set-up of ``label_many`` (one thread, glibc's usual malloc
  thresholds); ``dask-N-raw`` keeps the malloc thresholds Dask's nanny sets.

The CPU figures come from ``getrusage(RUSAGE_THREAD)`` inside the labelling
thread, so they exclude the worker's event loop and heartbeats; for parallel
settings the line ends with the whole worker processes' CPU
(``/proc/PID/stat``), which includes them.
"""
import argparse
import cProfile
import io
import os
import pstats
import resource
import threading
import time

import numpy as np

from cpu_accounting import process_cpu_seconds
from latentmine import phantoms
from latentmine.fea import Labeller
from latentmine.parallel import LocalProcessPool, cap_threads
from latentmine.parallel.allocator import reuse_freed_memory


def profiled_call(labeller, masks, threads=None, allocator=True):
    """Label ``masks`` under cProfile; return the labels and ``(counters, own times, pid)``.

    ``counters``: wall, user and system CPU of the calling thread, its minor
    page faults and involuntary context switches. ``threads`` caps OpenMP/BLAS
    first and ``allocator`` undoes fixed malloc thresholds, as ``label_many``
    does in a worker.
    """
    if threads is not None:
        cap_threads(threads)
    if allocator:
        reuse_freed_memory()
    profiler = cProfile.Profile()
    before = resource.getrusage(resource.RUSAGE_THREAD)
    start = time.perf_counter()
    profiler.enable()
    stress = labeller(masks)
    profiler.disable()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_THREAD)
    stats = pstats.Stats(profiler, stream=io.StringIO())
    own = {f"{os.path.basename(f)}:{line}({name})": row[2] for (f, line, name), row in stats.stats.items()}
    counters = np.array([wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
                         after.ru_minflt - before.ru_minflt, after.ru_nivcsw - before.ru_nivcsw])
    return stress, (counters, own, os.getpid())


def run_setting(name, masks, labeller):
    """Per-call records of labelling ``masks`` in setting ``name``.

    Also, for the parallel settings, the batch's wall time and the CPU seconds
    its worker processes used (all their threads).
    """
    kind, _, count = name.partition("-")
    count, _, raw = count.partition("-")
    threads = int(count) if count else None
    if kind in ("single", "thread"):
        out = {}

        def work():
            profiled_call(labeller, masks[:1], threads)  # warm-up
            out["record"] = profiled_call(labeller, masks)[1]
        if kind == "single":
            work()
        else:
            worker = threading.Thread(target=work)
            worker.start()
            worker.join()
        cap_threads(os.cpu_count())
        return [out["record"]], None
    if kind == "pool":
        context = LocalProcessPool(threads)
    else:
        from latentmine.parallel.dask_executor import local_cluster
        context = local_cluster(threads)
    with context as executor:
        allocator = raw != "raw"
        warm_up = [executor.submit(profiled_call, labeller, masks[i:i + 1], 1, allocator) for i in range(2 * threads)]
        pids = {future.result()[1][2] for future in warm_up}
        chunk = max(1, len(masks) // (4 * threads))
        cpu, start = process_cpu_seconds(pids), time.perf_counter()
        futures = [executor.submit(profiled_call, labeller, masks[i:i + chunk], 1, allocator)
                   for i in range(0, len(masks), chunk)]
        records = [future.result()[1] for future in futures]
        wall, cpu = time.perf_counter() - start, process_cpu_seconds(pids) - cpu
    return records, (wall, cpu)


def summarise(name, records, batch, n):
    counters = np.sum([r[0] for r in records], axis=0)
    own = {}
    for _, times, _ in records:
        for key, value in times.items():
            own[key] = own.get(key, 0.0) + value
    line = (f"{name:10s} wall/mask {1e3 * counters[0] / n:7.1f} ms  user {1e3 * counters[1] / n:7.1f} ms  "
            f"sys {1e3 * counters[2] / n:6.1f} ms  minflt/mask {counters[3] / n:8.0f}  invol.cs {counters[4] / n:5.1f}")
    if batch is not None:
        line += f"  batch wall {batch[0]:.2f} s, worker processes' CPU/mask {1e3 * batch[1] / n:.0f} ms"
    print(line, flush=True)
    return {key: value / n for key, value in own.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--masks", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--settings", default="single,single-1,pool-2,dask-2-raw,dask-2")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    cohort = phantoms.generate(args.masks, size=args.size, seed=0)
    labeller = Labeller(pixel_size_mm=cohort.pixel_size_mm)
    print(f"{args.masks} phantoms at {args.size}^2; load average {os.getloadavg()}", flush=True)
    profiles = {}
    for name in args.settings.split(","):
        records, batch = run_setting(name, cohort.masks, labeller)
        profiles[name] = summarise(name, records, batch, args.masks)
    names = list(profiles)
    base = profiles[names[0]]
    keys = sorted(set().union(*profiles.values()), key=lambda k: -max(p.get(k, 0.0) for p in profiles.values()))
    print(f"\nown time per mask (ms), top {args.top} functions:")
    print(f"{'function':60s}" + "".join(f"{n:>10s}" for n in names))
    for key in keys[: args.top]:
        print(f"{key[:60]:60s}" + "".join(f"{1e3 * profiles[n].get(key, 0.0):10.2f}" for n in names))
    print(f"load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
