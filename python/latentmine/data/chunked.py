"""A read-only array made of memory-mapped chunks, concatenated on access.

Appending to a dataset writes a new chunk file instead of rewriting the
arrays, so a dataset's images can live in several ``.npy`` files. This view
indexes them as one array along axis 0 and reads only the rows asked for.
"""
from __future__ import annotations

import numpy as np


class ChunkedArray:
    """Concatenation of arrays along axis 0 without copying them up front.

    Supports ``len``, ``shape``, ``dtype``, integer, slice, integer-array and
    boolean indexing on the first axis (returning ndarrays), and
    ``np.asarray`` (which does copy everything).
    """

    def __init__(self, chunks):
        chunks = list(chunks)
        if not chunks:
            raise ValueError("ChunkedArray needs at least one chunk")
        tail = {(c.shape[1:], c.dtype) for c in chunks}
        if len(tail) != 1:
            raise ValueError(f"chunks disagree on trailing shape or dtype: {sorted(map(str, tail))}")
        self._chunks = chunks
        self._starts = np.cumsum([0] + [len(c) for c in chunks])

    @property
    def shape(self):
        return (int(self._starts[-1]),) + self._chunks[0].shape[1:]

    @property
    def dtype(self):
        return self._chunks[0].dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def chunks(self):
        return tuple(self._chunks)

    def __len__(self):
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        whole = np.concatenate([np.asarray(c) for c in self._chunks])
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def __getitem__(self, key):
        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if isinstance(key, (int, np.integer)):
            index = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= index < len(self):
                raise IndexError(f"index {int(key)} is out of bounds for length {len(self)}")
            chunk = int(np.searchsorted(self._starts, index, side="right")) - 1
            return np.asarray(self._chunks[chunk][(index - self._starts[chunk],) + rest])
        rows = np.arange(len(self))[key]
        if not rows.size:
            return np.empty((0,) + self.shape[1:], self.dtype)[(slice(None),) + rest]
        chunk = np.searchsorted(self._starts, rows, side="right") - 1
        out = np.empty((rows.size,) + self.shape[1:], self.dtype)
        for c in np.unique(chunk):
            where = np.flatnonzero(chunk == c)
            out[where] = self._chunks[c][rows[where] - self._starts[c]]
        return out[(slice(None),) + rest]

    def __repr__(self):
        return f"ChunkedArray(shape={self.shape}, dtype={self.dtype}, chunks={len(self._chunks)})"
