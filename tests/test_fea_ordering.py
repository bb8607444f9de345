"""Nested-dissection numbering: a permutation whose separators split the grid graph."""
import numpy as np

from latentmine.fea.examples import plaque_mask
from latentmine.fea.ordering import kept_nodes, nested_dissection, nested_dissection_numbering


def test_numbering_is_a_permutation_of_the_kept_nodes():
    material = (plaque_mask(64) >= 2).astype(np.uint8)
    node_id = nested_dissection_numbering(material)
    kept = kept_nodes(material)
    assert np.array_equal(node_id >= 0, kept)
    assert np.array_equal(np.sort(node_id[kept]), np.arange(kept.sum()))


def test_first_split_separates_the_two_halves():
    rows, cols = np.nonzero(np.ones((9, 20), bool))
    order = nested_dissection(rows, cols, leaf=4)
    # The last nodes numbered form the first separator: the middle column.
    separator = order[-9:]
    assert (cols[separator] == cols[separator][0]).all()
    before = order[:-9]
    left = cols[before] < cols[separator][0]
    # One half is numbered entirely before the other: no interleaving across the separator.
    assert np.array_equal(left, np.sort(left)[::-1]) or np.array_equal(left, np.sort(left))
