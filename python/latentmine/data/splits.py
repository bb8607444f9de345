"""Reproducible train / pool / test splits and subsets of a dataset."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .dataset import Dataset

#: Default shares: a small labelled seed set, a large unlabelled pool that
#: the sampler draws from, and a held-out test set.
DEFAULT_FRACTIONS = (0.1, 0.7, 0.2)
SPLIT_NAMES = ("train", "pool", "test")


def split(n_or_ids, *, fractions=DEFAULT_FRACTIONS, seed=0) -> dict:
    """Shuffle and cut samples into ``train``, ``pool`` and ``test``.

    Parameters
    ----------
    n_or_ids : int or sequence of str or Dataset
        A count (the parts are then lists of indices), ids, or a dataset
        (its ids).
    fractions : three non-negative floats summing to 1
        Shares of train, pool and test. Counts are rounded by largest
        remainder, so they always add up to the total.
    seed : int
        The same seed and input give the same split.

    Returns
    -------
    dict
        ``{"train": [...], "pool": [...], "test": [...]}``, each in input order.
    """
    if isinstance(n_or_ids, Dataset):
        n_or_ids = n_or_ids.ids
    if isinstance(n_or_ids, (int, np.integer)):
        if n_or_ids < 0:
            raise ValueError(f"split: the sample count must be non-negative, got {n_or_ids}")
        items = list(range(int(n_or_ids)))
    elif isinstance(n_or_ids, Sequence) and not isinstance(n_or_ids, str):
        items = list(n_or_ids)
        if len(set(items)) != len(items):
            raise ValueError("split: ids repeat")
    else:
        raise ValueError(f"split: expected a count, a sequence of ids or a Dataset, got {type(n_or_ids).__name__}")
    shares = np.asarray(fractions, dtype=float)
    if shares.shape != (3,) or (shares < 0).any() or not np.isclose(shares.sum(), 1.0):
        raise ValueError(f"split: fractions must be three non-negative shares summing to 1, got {fractions!r}")
    exact = shares * len(items)
    counts = np.floor(exact).astype(int)
    counts[np.argsort(-(exact - counts), kind="stable")[: len(items) - counts.sum()]] += 1
    order = np.random.default_rng(seed).permutation(len(items))
    bounds = np.cumsum(counts)[:-1]
    return {name: [items[i] for i in np.sort(part)] for name, part in zip(SPLIT_NAMES, np.split(order, bounds))}


def subset(dataset: Dataset, ids) -> Dataset:
    """An in-memory dataset of the samples named by ``ids``, in that order."""
    position = {sample: i for i, sample in enumerate(dataset.ids)}
    missing = [i for i in ids if i not in position]
    if missing:
        raise ValueError(f"subset: ids not in the dataset: {missing[:10]}")
    rows = np.array([position[i] for i in ids], dtype=np.int64)

    def pick(array):
        return None if array is None else np.asarray(array[rows] if len(rows) else array[:0])

    provenance = None if dataset.provenance is None else [dataset.provenance[r] for r in rows]
    return Dataset(pick(dataset.images), pick(dataset.masks), pick(dataset.stress), list(ids),
                   dataset.pixel_size_mm, dataset.manifest, provenance, None)
