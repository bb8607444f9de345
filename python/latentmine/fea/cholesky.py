"""Multifrontal sparse Cholesky of a shifted stiffness matrix, along the nested-dissection tree.

The factorisation is C++ (``csrc/core/sparse_cholesky.cpp``; Duff and Reid,
ACM TOMS 9, 1983; Liu, SIAM Review 34, 1992): one dense front per separator
or leaf of :func:`latentmine.fea.ordering.dissection`, eliminated by a
recursive dense Cholesky with the ``dtrsm`` and ``dsyrk`` of SciPy's bundled
OpenBLAS, which the module receives as function pointers from
``scipy.linalg.cython_blas``: it links no BLAS and needs no system library.

Each thread keeps one factor object and its buffers between masks, and BLAS
runs on one thread (on the shared 2-core machines threaded BLAS made the
solve many times slower, docs/fea.md); the thread-pool controller is built
once, because building it (rediscovering the loaded libraries) costs more
than a 64^2 factorisation.
"""
from __future__ import annotations

import functools
import threading

import numpy as np
from scipy.linalg import cython_blas
from threadpoolctl import ThreadpoolController

from ..backend import core

_PER_THREAD = threading.local()


@functools.lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread():
    """Context manager limiting every loaded BLAS to one thread (cheap: the controller is cached)."""
    return _blas_controller().limit(limits=1, user_api="blas")


def factorise(stiffness, first: np.ndarray, parent: np.ndarray, relative_shift: float):
    """Cholesky factor of ``stiffness + shift * I``, reusing this thread's buffers.

    Parameters
    ----------
    stiffness : scipy.sparse.csr_matrix
        Symmetric, both triangles stored, int32 indices; node k holds DOFs
        2k and 2k+1 and the node ids follow the tree.
    first, parent : ndarray of int32
        The tree (:class:`latentmine.fea.ordering.Dissection`).
    relative_shift : float
        Positive; the shift is this times the mean diagonal. Pivots that
        round-off pushes below half the shift are replaced by the shift and
        counted in ``perturbed_pivots``.

    Returns
    -------
    The native ``MultifrontalCholesky`` (``solve(rhs)``, ``shift``,
    ``factor_entries``, ``flops``, ``perturbed_pivots``). It stays valid until this thread
    factorises the next matrix.
    """
    factor = getattr(_PER_THREAD, "factor", None)
    if factor is None:
        factor = _PER_THREAD.factor = core().MultifrontalCholesky()
    capsules = cython_blas.__pyx_capi__
    factor.factorise(stiffness.indptr, stiffness.indices, stiffness.data, first, parent, float(relative_shift),
                     capsules["dtrsm"], capsules["dsyrk"])
    return factor
