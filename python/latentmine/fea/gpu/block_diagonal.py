"""A batch of sparse matrices held as one block-diagonal CSR matrix.

System ``s`` of a batch of ``k`` occupies rows ``s*m:(s+1)*m`` and columns
``s*n:(s+1)*n``. One sparse product then serves the whole batch (one cuSPARSE
call on the GPU instead of ``k``), while :meth:`BlockDiagonal.take` extracts the
systems still being solved so that converged ones leave the computation.
"""
from __future__ import annotations

from .arrays import array_module, sparse_module

__all__ = ["BlockDiagonal"]


class BlockDiagonal:
    """``count`` sparse blocks of shape ``block_shape`` on the diagonal of ``matrix``.

    Parameters
    ----------
    matrix : scipy.sparse or cupyx.scipy.sparse CSR matrix
        Shape ``(count * m, count * n)`` with no entry outside the diagonal blocks.
    count : int
        Number of systems in the batch.
    """

    def __init__(self, matrix, count: int):
        rows, cols = matrix.shape
        if count <= 0 or rows % count or cols % count:
            raise ValueError(f"a {rows} x {cols} matrix does not split into {count} diagonal blocks")
        self.matrix = matrix.tocsr()
        self.count = count
        self.block_shape = (rows // count, cols // count)

    @classmethod
    def from_pattern(cls, indptr, indices, values, shape):
        """``k`` systems with one CSR pattern (``indptr``, ``indices``) and per-system ``values`` ``(k, nnz)``."""
        xp = array_module(values)
        count, nnz = values.shape
        m, n = shape
        offsets = xp.arange(count, dtype=indptr.dtype)
        full_indptr = xp.concatenate([(offsets[:, None] * nnz + indptr[None, :-1]).ravel(),
                                      xp.asarray([count * nnz], dtype=indptr.dtype)])
        full_indices = (offsets[:, None] * n + indices[None, :]).ravel()
        matrix = sparse_module(xp).csr_matrix((values.ravel(), full_indices, full_indptr),
                                              shape=(count * m, count * n))
        return cls(matrix, count)

    @classmethod
    def repeat(cls, block, count: int, xp):
        """``count`` copies of one (host, SciPy) sparse ``block``, on ``xp``'s device."""
        block = block.tocsr()
        values = xp.broadcast_to(xp.asarray(block.data), (count, block.nnz))
        return cls.from_pattern(xp.asarray(block.indptr), xp.asarray(block.indices), values, block.shape)

    @property
    def xp(self):
        return array_module(self.matrix.data)

    def matvec(self, x):
        """``(count, n)`` -> ``(count, m)``: every block times its own row of ``x``."""
        return (self.matrix @ x.reshape(-1)).reshape(self.count, self.block_shape[0])

    def __matmul__(self, other: "BlockDiagonal") -> "BlockDiagonal":
        return BlockDiagonal(self.matrix @ other.matrix, self.count)

    def __sub__(self, other: "BlockDiagonal") -> "BlockDiagonal":
        return BlockDiagonal(self.matrix - other.matrix, self.count)

    def transpose(self) -> "BlockDiagonal":
        return BlockDiagonal(self.matrix.T.tocsr(), self.count)

    def scale_rows(self, scale) -> "BlockDiagonal":
        """``diag(scale) @ self`` for ``scale`` of shape ``(count, m)``."""
        diag = sparse_module(self.xp).diags(scale.reshape(-1))
        return BlockDiagonal(diag @ self.matrix, self.count)

    def with_data(self, data) -> "BlockDiagonal":
        """The same pattern with other values (``self.matrix.data`` layout)."""
        csr = sparse_module(self.xp).csr_matrix((data, self.matrix.indices, self.matrix.indptr),
                                                shape=self.matrix.shape)
        return BlockDiagonal(csr, self.count)

    def diagonal(self):
        """``(count, m)`` main diagonals of the (square) blocks."""
        return self.matrix.diagonal().reshape(self.count, self.block_shape[0])

    def dense_blocks(self):
        """``(count, m, n)`` dense copies of the blocks (for small coarse systems)."""
        xp = self.xp
        m, n = self.block_shape
        csr = self.matrix
        row = xp.searchsorted(csr.indptr, xp.arange(csr.nnz), side="right") - 1
        out = xp.zeros((self.count, m, n), dtype=csr.data.dtype)
        out[row // m, row % m, csr.indices % n] = csr.data
        return out

    def take(self, keep) -> "BlockDiagonal":
        """The blocks ``keep`` (sorted system indices), in that order, as a new batch."""
        xp = self.xp
        keep = xp.asarray(keep)
        m, n = self.block_shape
        rows = (keep[:, None] * m + xp.arange(m)[None, :]).ravel()
        sub = self.matrix[rows]
        position = xp.full(self.count, -1, dtype=sub.indices.dtype)
        position[keep] = xp.arange(keep.size, dtype=sub.indices.dtype)
        indices = position[sub.indices // n] * n + sub.indices % n
        csr = sparse_module(xp).csr_matrix((sub.data, indices, sub.indptr), shape=(keep.size * m, keep.size * n))
        return BlockDiagonal(csr, int(keep.size))
