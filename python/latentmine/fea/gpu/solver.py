"""Batched plaque-stress labelling: many masks of one size in one GPU solve.

For each chunk of masks (sized by :mod:`~latentmine.fea.gpu.chunking`):

1. the CUDA kernels fill the element values into the cached full-grid CSR
   pattern and build the luminal load vectors (one launch each for the chunk);
2. the strength graph is computed on the device, pyamg aggregates it on the
   host (:mod:`~latentmine.fea.gpu.aggregation`), and the smoothed-aggregation
   hierarchy is formed on the device (:mod:`~latentmine.fea.gpu.amg`);
3. one batched CG solves every system with its own scalars
   (:func:`~latentmine.fea.gpu.batched_cg.batched_cg`);
4. a kernel recovers the element-centre stresses, which come back to the host.

The host aggregation of chunk ``i + 1`` runs in a worker thread while the device
solves chunk ``i`` (``overlap=True``); the chunks are then planned for two in
flight, and a large batch is cut into at least :data:`PIPELINE_STAGES` chunks so
that there is something to overlap.

With NumPy in place of CuPy the same code runs on the CPU kernels; that is
how it is tested without a GPU.
"""
from __future__ import annotations

import contextlib
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ...labels import Label
from ..validate import check_masks
from .aggregation import SOFT, STIFF, VOID, batch_tentative_prolongators, finest_level
from .amg import SmoothedAggregation
from .arrays import rowdot, sparse_module, to_host
from .batched_cg import batched_cg
from .block_diagonal import BlockDiagonal
from .chunking import bytes_per_mask, plan_chunks
from .dense import FactorizationError
from .grid import grid_pattern, rigid_body_modes
from .kernels import kernels_for, label_tables

__all__ = ["BatchSolution", "solve_batch", "solve_masks", "device_bytes_per_mask"]

#: Chunks a large batch is cut into when host setup overlaps device solves.
PIPELINE_STAGES = 4
#: No chunk is cut below this many masks for the sake of overlap.
MIN_PIPELINED_CHUNK = 8


@dataclass(frozen=True)
class BatchSolution:
    """Stresses of a batch and how their solves went."""
    stress: np.ndarray      # (N, 6, H, W) float32: s_xx, s_yy, s_xy, s_zz, von Mises, max principal
    iterations: np.ndarray  # (N,) CG iterations
    converged: np.ndarray   # (N,) bool: CG met rtol
    residual: np.ndarray    # (N,) ||f - K u|| / ||f||, recomputed from u
    seconds: np.ndarray     # (N,) wall time of each mask's chunk, shared out over its masks
    chunks: list            # [(start, stop)] actually solved


def solve_batch(masks, *, pixel_size_mm, pressure_kpa, materials=None, rtol=1e-6, progress=False, xp=None):
    """:func:`latentmine.fea.solve` on the GPU: the CPU path's ``StressResult`` for a batch.

    Same physics and stress planes as the CPU path (its compact system, solved
    on the full grid); PSS by :func:`latentmine.fea.pss.pss_and_rule_batch`
    on the maximum principal map, as on the CPU path. ``seconds`` is each
    chunk's wall time shared out over its masks. ``xp=numpy`` runs the same
    code on the CPU kernels.
    """
    from ..pss import pss_and_rule_batch
    from ..solve import StressResult

    batch = solve_masks(masks, pixel_size_mm=pixel_size_mm, pressure_kpa=pressure_kpa, materials=materials,
                        rtol=rtol, progress=progress, xp=xp)
    masks = check_masks(masks)
    planes = np.moveaxis(batch.stress, 1, 0)  # (6, N, H, W)
    pss, rules = pss_and_rule_batch(batch.stress[:, 5], masks, pixel_size_mm)
    return StressResult(*planes, pss=pss, pss_rule=rules, iterations=batch.iterations, residual=batch.residual,
                        converged=batch.residual <= rtol, seconds=batch.seconds)


def solve_masks(masks, *, pixel_size_mm, pressure_kpa, materials=None, rtol=1e-8, maxiter=2000, xp=None,
                smoother="chebyshev", sweeps=3, theta=0.1, block=3, max_coarse=300, free_bytes=None, max_chunk=None,
                overlap=True, progress=False) -> BatchSolution:
    """Solve the plane-strain FE problem of every mask of a batch.

    Parameters
    ----------
    masks : array_like, shape (N, H, W) or (H, W)
        Label codes, validated by :func:`latentmine.fea.validate.check_masks`.
    pixel_size_mm, pressure_kpa : float
        Pixel side and luminal pressure.
    materials : mapping, optional
        Overrides of :data:`latentmine.fea.DEFAULT_MATERIALS`.
    rtol : float
        CG tolerance on each system's relative residual.
    maxiter : int
        CG iteration limit per system.
    xp : module, optional
        ``cupy`` (default: the GPU) or ``numpy`` (the CPU kernels; for tests).
    smoother, sweeps
        V-cycle smoother (``"chebyshev"`` of degree ``sweeps``, or ``"jacobi"``).
    theta, block, max_coarse
        Strength threshold of the coarse aggregation, side (in nodes) of the
        squares the finest level aggregates, and the coarsest level's size.
    free_bytes : int, optional
        Memory budget for the chunk planner; by default the device's free memory
        (``cupy.cuda.runtime.memGetInfo``), and no limit with NumPy.
    max_chunk : int, optional
        Largest number of masks solved together.
    overlap : bool
        Aggregate the next chunk on the host while the device solves this one.
    progress : bool
        Show a progress bar over the chunks (stderr).
    """
    masks = check_masks(masks)
    if xp is None:
        import cupy as xp
    count, rows, cols = masks.shape
    pattern = grid_pattern(rows, cols)
    tables = label_tables(materials)
    kernels = kernels_for(xp, pattern, tables)
    per_mask = device_bytes_per_mask(rows, cols, max_coarse)
    if free_bytes is None:
        free_bytes = xp.cuda.runtime.memGetInfo()[0] if xp is not np else 2**62  # host: no cap
    if overlap:
        stage = max(MIN_PIPELINED_CHUNK, math.ceil(count / PIPELINE_STAGES))
        max_chunk = stage if max_chunk is None else min(max_chunk, stage)
    chunks = plan_chunks(count, per_mask * (2 if overlap else 1), free_bytes, nnz_per_mask=pattern.nnz,
                         max_chunk=max_chunk, reserve_fraction=0.2 if xp is not np else 0.0)
    context = _ChunkContext(xp, kernels, pattern, float(tables.ke_table[int(Label.FIBROUS), 0]),
                            _tissue_classes(tables.mu),
                            dict(pressure=float(pressure_kpa), h=float(pixel_size_mm), rtol=rtol, maxiter=maxiter,
                                 smoother=smoother, sweeps=sweeps, theta=theta, max_coarse=max_coarse,
                                 block=block))
    out = (np.empty((count, 6, rows, cols), np.float32), np.zeros(count, np.int64), np.zeros(count, bool),
           np.zeros(count), np.zeros(count))
    if overlap and len(chunks) > 1:
        solved = list(_pipelined(context, masks, _progress(chunks, progress), out))
    else:
        solved = [r for start, stop in _progress(chunks, progress)
                  for r in _solve_fitting(context, masks, start, stop, out)]
    return BatchSolution(*out, solved)


def _tissue_classes(mu, soft_ratio=0.02):
    """Aggregation class of every label code: VOID (no stiffness), SOFT, STIFF.

    SOFT is under 2% of the stiffest tissue's shear modulus: lipid (0.05% of
    calcium by default) is soft, fibrous tissue (10%) is not.
    """
    return np.where(mu == 0, VOID, np.where(mu < soft_ratio * mu.max(), SOFT, STIFF)).astype(np.int64)


def device_bytes_per_mask(rows: int, cols: int, max_coarse: int = 300) -> int:
    """Estimated device memory of one ``rows x cols`` mask in a batched solve."""
    pattern = grid_pattern(rows, cols)
    return bytes_per_mask(rows * cols, pattern.dofs, pattern.nnz, max_coarse)


class _ChunkContext:
    """What every chunk of one call shares, with the pattern on the solving device."""

    def __init__(self, xp, kernels, pattern, void_diagonal, class_of_label, options):
        self.xp, self.kernels, self.pattern = xp, kernels, pattern
        self.near_null = xp.asarray(rigid_body_modes(pattern.rows, pattern.cols))
        self.void_diagonal, self.options = void_diagonal, options
        self.class_of_label = xp.asarray(class_of_label)
        self.indptr, self.indices = xp.asarray(pattern.indptr), xp.asarray(pattern.indices)
        self.diagonal_slots = xp.asarray(pattern.diagonal_slots)

    def prepare(self, masks, start=0):
        """Device: values, loads, the finest aggregation and the aggregate graph (downloaded).

        ``start`` is the index of ``masks[0]`` in the batch, for error messages.
        """
        with _naming_chunk(start, start + len(masks)):
            return self._prepare(masks, start)

    def _prepare(self, masks, start):
        xp, o, p = self.xp, self.options, self.pattern
        labels = xp.ascontiguousarray(xp.asarray(masks))
        values = self.kernels.fill_values(labels)
        # Nodes that no material touches have empty rows: a unit-scale diagonal
        # decouples them (zero load, zero displacement) without changing the rest.
        diagonal = values[:, self.diagonal_slots]
        values[:, self.diagonal_slots] = xp.where(diagonal == 0, self.void_diagonal, diagonal)
        loads = self.kernels.pressure_load(labels, o["pressure"], o["h"])
        A = BlockDiagonal.from_pattern(self.indptr, self.indices, values, (p.dofs, p.dofs))
        return _Prepared(start, labels, A, loads, *finest_level(A, labels, self.class_of_label, self.near_null,
                                                                block=o["block"], theta=o["theta"]))

    def aggregate(self, prepared):
        """Host only (safe in a worker thread): the coarser levels' tentative prolongators."""
        if prepared.T.block_shape[1] <= self.options["max_coarse"]:
            return []
        return batch_tentative_prolongators(prepared.coarse_graph, prepared.A.count, prepared.coarse_candidates,
                                            max_coarse=self.options["max_coarse"])

    def finish(self, prepared, coarse_tentative):
        """Device: hierarchy, batched CG, stresses and true residuals; returns host arrays."""
        with _naming_chunk(prepared.start, prepared.start + prepared.A.count):
            return self._finish(prepared, coarse_tentative)

    def _finish(self, prepared, coarse_tentative):
        xp, o, A, loads = self.xp, self.options, prepared.A, prepared.loads
        csr = sparse_module(xp).csr_matrix
        tentative = [prepared.T] + [BlockDiagonal(csr(T), A.count) for T in coarse_tentative]
        M = SmoothedAggregation.build(A, tentative, smoother=o["smoother"], sweeps=o["sweeps"])
        # The products of the solve are matrix-free (the CSR batch serves the setup's products).
        A = self.kernels.stiffness_operator(prepared.labels, self.void_diagonal)
        M = M.with_finest_operator(A)
        U, info, iterations = batched_cg(A, loads, rtol=o["rtol"], maxiter=o["maxiter"], M=M)
        load_norm = xp.sqrt(rowdot(loads, loads))
        residual = loads - A.matvec(U)
        residual = xp.sqrt(rowdot(residual, residual)) / xp.where(load_norm > 0, load_norm, 1.0)
        stress = to_host(self.kernels.recover_stress(prepared.labels, U, o["h"]))
        return stress, iterations, info == 0, to_host(residual)

    def solve(self, masks, start=0):
        prepared = self.prepare(masks, start)
        return self.finish(prepared, self.aggregate(prepared))


@contextlib.contextmanager
def _naming_chunk(start, stop):
    """Re-raise a setup's :class:`~.dense.FactorizationError` with the masks of the chunk."""
    try:
        yield
    except FactorizationError as error:
        raise FactorizationError(f"chunk of masks [{start}, {stop}): {error}") from error


@dataclass
class _Prepared:
    start: int                # index of the chunk's first mask in the batch
    labels: object
    A: BlockDiagonal
    loads: object
    T: BlockDiagonal          # finest tentative prolongator (device)
    coarse_graph: object      # host graph of the finest aggregates
    coarse_candidates: object  # host candidates on them


@dataclass
class _Launched:
    """A chunk prepared ahead, its host aggregation running, and how long preparing took."""
    start: int
    stop: int
    prepared: object  # None: preparing ran out of device memory
    future: object
    seconds: float


def _pipelined(context, masks, chunks, out):
    """Chunk by chunk, with the host aggregation of the next chunk in a worker thread.

    Yields the ranges solved. A chunk that runs out of device memory is solved by
    :func:`_solve_fitting` after its data *and* the prepared next chunk's have been
    released (the next chunk is prepared again afterwards). Each chunk's
    ``seconds`` are its own preparation plus its own finish, not the next chunk's
    preparation that overlaps them.
    """
    pending = list(chunks)

    def launch(start, stop):
        begun = time.perf_counter()
        try:
            prepared = context.prepare(masks[start:stop], start)
        except MemoryError:
            prepared = None
        if prepared is None:  # outside the handler: the traceback no longer holds device arrays
            _release_pool(context.xp)
            return _Launched(start, stop, None, None, 0.0)
        return _Launched(start, stop, prepared, pool.submit(context.aggregate, prepared),
                         time.perf_counter() - begun)

    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = launch(*pending.pop(0))
        while ahead is not None:
            current = ahead
            ahead = launch(*pending.pop(0)) if pending else None
            start, stop, results = current.start, current.stop, None
            if current.prepared is not None:
                begun = time.perf_counter()
                try:
                    results = context.finish(current.prepared, current.future.result())
                except MemoryError:
                    results = None
                seconds = current.seconds + time.perf_counter() - begun
            current = None  # drop this chunk's device data before anything is retried
            if results is not None:
                _store(out, start, stop, results, seconds)
                yield start, stop
                continue
            retry_next = None
            if ahead is not None:  # free the next chunk's device data too, then prepare it again
                if ahead.future is not None:
                    ahead.future.result()
                retry_next, ahead = (ahead.start, ahead.stop), None
            _release_pool(context.xp)
            yield from _solve_fitting(context, masks, start, stop, out)
            if retry_next is not None:
                ahead = launch(*retry_next)


def _store(out, start, stop, results, seconds):
    for array, value in zip(out, results):
        array[start:stop] = value
    out[-1][start:stop] = seconds / (stop - start)


def _solve_fitting(context, masks, start, stop, out):
    """Solve ``masks[start:stop]``, halving the chunk whenever the device runs out of memory.

    CuPy's ``OutOfMemoryError`` is a ``MemoryError``, so the planner's estimate
    being too small costs a retry, not the batch. The halves are retried after
    the failed attempt's arrays are gone (outside the ``except`` block, whose
    traceback holds them) and the memory pool is freed. Yields the ranges solved.
    """
    begun = time.perf_counter()
    try:
        results = context.solve(masks[start:stop], start)
    except MemoryError:
        if stop - start == 1:
            raise
        results = None
    if results is not None:
        _store(out, start, stop, results, time.perf_counter() - begun)
        yield start, stop
        return
    _release_pool(context.xp)
    middle = (start + stop) // 2
    yield from _solve_fitting(context, masks, start, middle, out)
    yield from _solve_fitting(context, masks, middle, stop, out)


def _release_pool(xp):
    if xp is not np:
        xp.get_default_memory_pool().free_all_blocks()


def _progress(chunks, enabled):
    if not enabled or len(chunks) < 2:
        return chunks
    from tqdm import tqdm
    return tqdm(chunks, desc="fea gpu chunks", unit="chunk")
