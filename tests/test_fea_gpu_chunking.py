"""The GPU chunk planner (a pure function) and the batched solver's chunking, on the CPU."""
import time
import weakref

import numpy as np
import pytest

from latentmine.fea import examples
from latentmine.fea.gpu import solver as gpu_solver
from latentmine.fea.gpu.chunking import INT32_LIMIT, bytes_per_mask, plan_chunks


@pytest.mark.parametrize("count, per_mask, free", [(128, 100, 10_000), (7, 3, 10), (1, 5, 5), (1000, 1, 10**9)])
def test_chunks_cover_the_batch_within_the_budget(count, per_mask, free):
    chunks = plan_chunks(count, per_mask, free, reserve_fraction=0.0)
    assert chunks[0][0] == 0 and chunks[-1][1] == count
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    sizes = [stop - start for start, stop in chunks]
    assert max(sizes) * per_mask <= free
    assert max(sizes) - min(sizes) <= 1  # balanced: no straggler chunk
    assert len(chunks) == -(-count // min(count, free // per_mask))  # as few chunks as fit


def test_reserve_and_index_limits_shrink_chunks():
    assert len(plan_chunks(100, 10, 1000, reserve_fraction=0.0)) == 1
    assert len(plan_chunks(100, 10, 1000, reserve_fraction=0.5)) == 2
    nnz = INT32_LIMIT // 3 + 1
    assert [b - a for a, b in plan_chunks(6, 1, 10**15, nnz_per_mask=nnz)] == [2, 2, 2]
    assert [b - a for a, b in plan_chunks(5, 1, 10**15, max_chunk=2)] == [2, 2, 1]
    assert plan_chunks(0, 10, 100) == []


def test_a_mask_that_cannot_fit_is_an_error():
    with pytest.raises(ValueError, match="GPU memory"):
        plan_chunks(3, 2**30, 2**29)
    with pytest.raises(ValueError, match="count"):
        plan_chunks(-1, 1, 1)


def test_memory_estimate_grows_with_the_grid():
    small = bytes_per_mask(64 * 64, 2 * 65 * 65, 18 * 2 * 65 * 65)
    large = bytes_per_mask(256 * 256, 2 * 257 * 257, 18 * 2 * 257 * 257)
    assert 14 < large / small < 17  # about the ratio of the node counts


def _masks():
    return np.stack([examples.ring_mask(20, 4.0, 8.0), examples.ring_mask(20, 3.5, 8.5, middle=6.0),
                     examples.ring_mask(20, 5.0, 9.0), examples.plaque_mask(20)])


def test_solver_chunks_under_a_memory_cap_give_the_same_stresses():
    kwargs = dict(pixel_size_mm=0.05, pressure_kpa=16.0, xp=np, rtol=1e-10)
    whole = gpu_solver.solve_masks(_masks(), overlap=False, **kwargs)
    per_mask = gpu_solver.device_bytes_per_mask(20, 20)
    capped = gpu_solver.solve_masks(_masks(), free_bytes=int(2.6 * per_mask), overlap=False, **kwargs)
    pipelined = gpu_solver.solve_masks(_masks(), free_bytes=int(2.6 * per_mask), overlap=True, **kwargs)
    assert whole.chunks == [(0, 4)] and capped.chunks == [(0, 2), (2, 4)]
    assert pipelined.chunks == [(0, 1), (1, 2), (2, 3), (3, 4)]  # budget for two chunks in flight
    assert whole.converged.all() and capped.converged.all() and pipelined.converged.all()
    scale = np.nanmax(np.abs(whole.stress))
    np.testing.assert_allclose(capped.stress, whole.stress, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(pipelined.stress, whole.stress, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_array_equal(pipelined.iterations, whole.iterations)


@pytest.mark.parametrize("overlap", [False, True])
def test_out_of_memory_halves_the_chunk(monkeypatch, overlap):
    prepare = gpu_solver._ChunkContext.prepare
    sizes = []

    def tight(self, masks, start=0):
        sizes.append(len(masks))
        if len(masks) > 1:
            raise MemoryError("simulated out-of-memory")  # what CuPy's OutOfMemoryError is
        return prepare(self, masks, start)

    monkeypatch.setattr(gpu_solver._ChunkContext, "prepare", tight)
    result = gpu_solver.solve_masks(_masks()[:3], pixel_size_mm=0.05, pressure_kpa=16.0, xp=np, overlap=overlap,
                                    max_chunk=3 if not overlap else 2, free_bytes=10**12)
    assert result.chunks == [(0, 1), (1, 2), (2, 3)]
    if overlap:  # [0, 2) fails; the prepared [2, 3) is freed too, and prepared again after the halves
        assert sizes == [2, 1, 2, 1, 1, 1]
    else:
        assert sizes == [3, 1, 2, 1, 1]
    assert result.converged.all() and np.isfinite(result.stress[:, :, 10, 2]).all()


@pytest.mark.parametrize("overlap", [False, True])
def test_out_of_memory_frees_every_prepared_chunk_before_the_retry(monkeypatch, overlap):
    """The solve fails after its chunk's data exists; when the pool is freed, no chunk's data may be alive."""
    prepare, finish = gpu_solver._ChunkContext.prepare, gpu_solver._ChunkContext.finish
    alive, at_release = [], []

    def tracked(self, masks, start=0):
        prepared = prepare(self, masks, start)
        alive.append(weakref.ref(prepared))
        return prepared

    def tight(self, prepared, coarse):
        if prepared.A.count > 1:
            raise MemoryError("simulated out-of-memory")
        return finish(self, prepared, coarse)

    monkeypatch.setattr(gpu_solver._ChunkContext, "prepare", tracked)
    monkeypatch.setattr(gpu_solver._ChunkContext, "finish", tight)
    monkeypatch.setattr(gpu_solver, "_release_pool", lambda xp: at_release.append(sum(r() is not None for r in alive)))
    result = gpu_solver.solve_masks(_masks(), pixel_size_mm=0.05, pressure_kpa=16.0, xp=np, overlap=overlap,
                                    max_chunk=2, free_bytes=10**12)
    assert result.converged.all() and len(result.chunks) == 4
    assert at_release and at_release == [0] * len(at_release)


def test_each_chunk_is_timed_on_its_own(monkeypatch):
    """With overlap, preparing chunk i + 1 (slow here) is not charged to chunk i."""
    prepare = gpu_solver._ChunkContext.prepare

    def slow_second(self, masks, start=0):
        if start == 1:
            time.sleep(1.0)
        return prepare(self, masks, start)

    monkeypatch.setattr(gpu_solver._ChunkContext, "prepare", slow_second)
    result = gpu_solver.solve_masks(_masks()[:2], pixel_size_mm=0.05, pressure_kpa=16.0, xp=np, overlap=True,
                                    max_chunk=1, free_bytes=10**12)
    assert result.chunks == [(0, 1), (1, 2)]
    assert result.seconds[0] < 1.0 <= result.seconds[1]
