"""Split a batch of masks into chunks that fit the GPU's free memory.

:func:`plan_chunks` is a pure function of sizes (tested on the CPU); the solver
feeds it ``cupy.cuda.runtime.memGetInfo()`` and :func:`bytes_per_mask`. Chunks
are balanced (sizes differ by at most one) so that the last one is not a
straggler, and each stays below the int32 index limit of cuSPARSE matrices:
the block-diagonal batch matrix holds ``chunk * nnz`` entries.
"""
from __future__ import annotations

import math

__all__ = ["bytes_per_mask", "plan_chunks"]

INT32_LIMIT = 2**31 - 1
# Sparse storage of the whole hierarchy relative to the fine CSR matrix (fine A,
# A T, P, P^T, coarse operators) plus the cuSPARSE SpGEMM work space: an upper
# estimate from the nonzero counts of the 256^2 hierarchy, not yet a GPU measurement.
SPARSE_FACTOR = 4.0
# Length-n float64 vectors alive at once: CG's X, R, Z, P, A P, B, the V-cycle's
# temporaries on every level and the Lanczos vectors of the setup.
VECTORS = 16


def bytes_per_mask(pixels: int, dofs: int, nnz: int, coarse: int = 0) -> int:
    """Device bytes one mask needs during a batched solve (an upper estimate).

    Parameters
    ----------
    pixels : int
        ``H * W`` (the mask, and 6 float32 stress planes).
    dofs, nnz : int
        Unknowns and stored entries of the fine matrix (float64 values + int32 indices).
    coarse : int
        Unknowns of the coarsest level (a dense matrix and its pseudo-inverse).
    """
    sparse = SPARSE_FACTOR * 12 * nnz
    return int(sparse + 8 * VECTORS * dofs + 25 * pixels + 16 * coarse * coarse)


def plan_chunks(count: int, per_mask_bytes: int, free_bytes: int, *, nnz_per_mask: int = 1,
                reserve_fraction: float = 0.2, max_chunk: int | None = None) -> list[tuple[int, int]]:
    """Balanced ``[start, stop)`` chunks of ``count`` masks within a memory budget.

    Parameters
    ----------
    count : int
        Masks in the batch.
    per_mask_bytes : int
        Device memory one mask needs (:func:`bytes_per_mask`).
    free_bytes : int
        Free device memory now.
    nnz_per_mask : int
        Fine-matrix entries per mask; a chunk keeps ``chunk * nnz`` within int32.
    reserve_fraction : float
        Part of the free memory left for the allocator's fragmentation and for
        other work on the device.
    max_chunk : int, optional
        A further cap on the masks per chunk.

    Raises
    ------
    ValueError
        When even one mask does not fit, or for a negative count.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if per_mask_bytes <= 0 or not 0 <= reserve_fraction < 1:
        raise ValueError("per_mask_bytes must be > 0 and reserve_fraction in [0, 1)")
    if count == 0:
        return []
    budget = int(free_bytes * (1 - reserve_fraction))
    largest = min(budget // per_mask_bytes, INT32_LIMIT // max(nnz_per_mask, 1), count)
    if max_chunk is not None:
        largest = min(largest, max_chunk)
    if largest < 1:
        raise ValueError(f"one mask needs about {per_mask_bytes / 2**20:.1f} MiB of GPU memory but only "
                         f"{budget / 2**20:.1f} MiB of {free_bytes / 2**20:.1f} MiB free are usable; "
                         "free GPU memory or solve on the CPU (device='cpu')")
    chunks = math.ceil(count / largest)
    base, extra = divmod(count, chunks)
    bounds, start = [], 0
    for i in range(chunks):
        stop = start + base + (1 if i < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds
