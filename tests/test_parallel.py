"""Labelling on the local process pool: order, exactness, thread caps, bad input, CLI flags."""
import argparse
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

from latentmine.backend import core
from latentmine.parallel import (LocalProcessPool, add_executor_arguments, executor_from_args,
                                 label_many, threads_per_task, usable_cpus)
from latentmine.parallel.labelling import label_chunk
from parallel_toys import ToyLabeller, toy_masks, toy_stress


def openmp_threads_in_worker():
    return core().openmp_max_threads()


def test_local_pool_labels_in_order_and_equals_serial():
    masks = toy_masks(37)
    with LocalProcessPool(2) as pool:
        batch = label_many(masks, ToyLabeller(delay=0.01), executor=pool, chunk_size=4, progress=False)
    np.testing.assert_array_equal(batch.stress, toy_stress(masks))
    assert batch.status.tolist() == ["ok"] * 37 and batch.reasons == [""] * 37
    assert batch.attempts.tolist() == [1] * 37
    assert len(set(batch.workers)) == 2  # both processes took chunks
    assert np.all(batch.seconds >= 0)


def test_a_dying_pool_worker_loses_nothing(tmp_path):
    masks = toy_masks(16)
    labeller = ToyLabeller("exit-once", victims={3, 11}, marker_dir=tmp_path, delay=0.01)
    with LocalProcessPool(2) as pool:
        batch = label_many(masks, labeller, executor=pool, chunk_size=4, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exit-once-11", "exit-once-3"]
    np.testing.assert_array_equal(batch.stress, toy_stress(masks))
    assert batch.status.tolist() == ["ok"] * 16
    assert batch.attempts[3] >= 2 and batch.attempts[11] >= 2


def test_a_sample_that_always_kills_its_worker_is_isolated_and_recorded():
    masks = toy_masks(8)
    with LocalProcessPool(2) as pool:
        batch = label_many(masks, ToyLabeller("exit", victims={5}), executor=pool, chunk_size=4,
                           retries=1, progress=False)
    assert batch.failed.tolist() == [5]
    assert batch.reasons[5] == "worker process died (BrokenProcessPool)"
    keep = np.arange(8) != 5
    np.testing.assert_array_equal(batch.stress[keep], toy_stress(masks)[keep])
    assert batch.attempts[5] >= 4 and batch.attempts[0] <= 2  # 4 -> 2 -> 1, once more alone


def test_a_plain_process_pool_that_breaks_fails_the_rest_with_the_reason(tmp_path):
    masks = toy_masks(8)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        batch = label_many(masks, ToyLabeller("exit", victims={0}), executor=pool, chunk_size=2,
                           progress=False)
    assert "pending" not in batch.status.tolist()  # nothing is lost
    assert 0 in batch.failed and all("cannot be restarted" in batch.reasons[i] for i in batch.failed)
    ok = batch.ok
    np.testing.assert_array_equal(batch.stress[ok], toy_stress(masks)[ok])


def test_a_hung_pool_worker_times_out_and_the_pool_is_recycled(tmp_path):
    masks = toy_masks(8)
    labeller = ToyLabeller("hang-once", victims={6}, marker_dir=tmp_path, hang=120)
    with LocalProcessPool(2) as pool:
        batch = label_many(masks, labeller, executor=pool, chunk_size=4, timeout=3, progress=False)
    np.testing.assert_array_equal(batch.stress, toy_stress(masks))
    assert batch.status.tolist() == ["ok"] * 8 and batch.attempts[6] >= 2


def test_default_executor_and_any_executor_give_the_same_labels():
    masks = toy_masks(6)
    default = label_many(masks, ToyLabeller(), progress=False)
    with ThreadPoolExecutor(3) as threads:
        threaded = label_many(masks, ToyLabeller(), executor=threads, progress=False)
    np.testing.assert_array_equal(default.stress, threaded.stress)
    np.testing.assert_array_equal(default.stress, toy_stress(masks))


@pytest.mark.parametrize("workers", [1, 2])
def test_pool_workers_cap_openmp_to_their_share_of_the_cores(workers):
    with LocalProcessPool(workers) as pool:
        seen = pool.submit(openmp_threads_in_worker).result()
    assert seen == max(1, usable_cpus() // workers) == threads_per_task(workers)


def chunk_then_probe(slots, caller_pid):
    label_chunk(ToyLabeller(), toy_masks(2), slots, 1, caller_pid)
    return core().openmp_max_threads()


def test_each_chunk_caps_threads_by_the_tasks_on_its_host():
    cores = usable_cpus()
    with LocalProcessPool(1) as pool:  # starts with all cores
        assert pool.submit(chunk_then_probe, {"local": cores}, os.getpid()).result() == 1
        assert pool.submit(chunk_then_probe, {"local": 1}, os.getpid()).result() == cores
    # in the caller's own process the caller's settings stand
    before = core().openmp_max_threads()
    label_chunk(ToyLabeller(), toy_masks(2), {"local": 64 * cores}, 1, os.getpid())
    assert core().openmp_max_threads() == before


def test_non_convergence_fails_the_sample_without_retrying():
    masks = toy_masks(5)
    batch = label_many(masks, UnconvergedOnOdd(), executor=ThreadPoolExecutor(1), chunk_size=5,
                       progress=False)
    assert batch.status.tolist() == ["ok", "failed", "ok", "failed", "ok"]
    assert "no convergence" in batch.reasons[1] and batch.reasons[0] == ""
    assert batch.attempts.tolist() == [1] * 5
    assert np.isnan(batch.stress[1]).all() and np.isnan(batch.stress[3]).all()
    np.testing.assert_array_equal(batch.stress[::2], toy_stress(masks)[::2])
    assert batch.seconds.tolist() == [0.5, 1.5, 2.5, 3.5, 4.5]  # the labeller's own timings


class UnconvergedOnOdd(ToyLabeller):
    def __call__(self, masks):
        ids = masks[:, 0, 0].astype(float)
        self.last_result = argparse.Namespace(converged=ids % 2 == 0, seconds=ids + 0.5)
        return toy_stress(masks)


@pytest.mark.parametrize("kwargs, message", [
    (dict(masks=np.zeros((4, 4), np.uint8)), "shape"),
    (dict(masks=np.full((1, 4, 4), -1)), "uint8"),
    (dict(masks=np.zeros((1, 4, 4), np.float32)), "uint8"),
    (dict(retries=-1), "retries"),
    (dict(timeout=0), "timeout"),
    (dict(chunk_size=0), "chunk_size"),
])
def test_bad_arguments_are_named(kwargs, message):
    args = dict(masks=toy_masks(2), labeller=ToyLabeller(), progress=False) | kwargs
    with pytest.raises(ValueError, match=message):
        label_many(**args)


def test_cli_flags():
    parser = add_executor_arguments(argparse.ArgumentParser())
    with pytest.raises(SystemExit):
        parser.parse_args(["--workers", "0"])
    args = parser.parse_args(["--workers", "3"])
    with executor_from_args(args) as executor:
        assert isinstance(executor, LocalProcessPool) and executor.max_workers == 3
    args = parser.parse_args(["--workers", "2", "--scheduler", "tcp://127.0.0.1:9"])
    with pytest.raises(ValueError, match="--workers"):
        with executor_from_args(args):
            pass
    assert math.isclose(parser.parse_args([]).workers or 0, 0)


FAULTS_OF_REALLOCATION = """
import resource, sys
import numpy as np
from latentmine.parallel.allocator import reuse_freed_memory

def faults_of_reallocating(mib=1, times=50):
    np.ones(mib << 17).sum()  # float64: mib MiB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        np.ones(mib << 17).sum()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

fixed = faults_of_reallocating()
applied = reuse_freed_memory()
print(fixed, applied, faults_of_reallocating(), reuse_freed_memory())
"""


@pytest.mark.parametrize("environment", [{"MALLOC_TRIM_THRESHOLD_": "65536"}, {}])
def test_freed_memory_is_reused_in_a_process_started_with_a_small_trim_threshold(environment):
    """With Dask's nanny setting every 1 MiB array is a fresh mmap (256 page faults); with the thresholds set, none is."""
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", FAULTS_OF_REALLOCATION], env={**env, **environment},
                          capture_output=True, text=True, check=True)
    fixed, applied, reused, again = done.stdout.split()
    pages = 50 * (1 << 20) // os.sysconf("SC_PAGE_SIZE")
    assert (applied, again) == ("True", "True") and int(reused) < 0.05 * pages
    if environment:
        assert int(fixed) >= 0.9 * pages  # each allocation faulted every page in
    else:  # glibc's dynamic threshold had already risen above the block
        assert int(fixed) < 0.05 * pages
