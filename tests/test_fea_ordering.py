"""Nested dissection: a permutation whose separators split the grid graph, and a valid separator tree."""
import numpy as np
import pytest

from latentmine.fea.examples import plaque_mask
from latentmine.fea.ordering import dissection, kept_nodes


def _tree_checks(tree):
    first, parent = tree.first, tree.parent
    assert first[0] == 0 and np.all(np.diff(first) >= 1)  # every supernode owns at least one node
    later = parent[parent >= 0]
    assert np.all(later > np.flatnonzero(parent >= 0))    # children are numbered before their parents


@pytest.mark.parametrize("leaf", [1, 4, 16, 10_000])
def test_numbering_is_a_permutation_of_the_kept_nodes(leaf):
    material = (plaque_mask(64) >= 2).astype(np.uint8)
    tree = dissection(material, leaf=leaf)
    kept = kept_nodes(material)
    assert np.array_equal(tree.node_id >= 0, kept)
    assert np.array_equal(np.sort(tree.node_id[kept]), np.arange(kept.sum()))
    assert tree.first[-1] == kept.sum()
    _tree_checks(tree)
    if leaf >= kept.sum():
        assert len(tree.parent) == 1


def test_separators_split_their_subtrees():
    """No grid edge joins the subtrees of two siblings: nodes one row and column apart never straddle them."""
    material = (plaque_mask(64) >= 2).astype(np.uint8)
    tree = dissection(material, leaf=8)
    owner = np.searchsorted(tree.first, np.arange(tree.first[-1]), side="right") - 1
    node_id = tree.node_id
    pairs = []
    for di, dj in [(0, 1), (1, 0), (1, 1), (1, -1)]:
        a = node_id[max(0, -di):node_id.shape[0] - max(0, di), max(0, -dj):node_id.shape[1] - max(0, dj)]
        b = node_id[max(0, di):, max(0, dj):][:a.shape[0], :a.shape[1]]
        both = (a >= 0) & (b >= 0)
        pairs.append(np.stack([a[both], b[both]], 1))
    pairs = np.concatenate(pairs)
    early, late = pairs.min(1), pairs.max(1)
    # The supernode of the later node of every coupled pair is the earlier one's or one of its ancestors.
    s_early, s_late = owner[early], owner[late]
    ancestors_ok = np.zeros(len(pairs), bool)
    current = s_early.copy()
    while True:
        ancestors_ok |= current == s_late
        moving = (current >= 0) & ~ancestors_ok
        if not moving.any():
            break
        current = np.where(moving, tree.parent[np.maximum(current, 0)], -1)
    assert ancestors_ok.all()


def test_first_split_is_the_smallest_balanced_grid_line():
    active = np.ones((8, 19), np.uint8)      # 9 x 20 nodes
    tree = dissection(active, leaf=4, balance=0.4)
    top = tree.node_id >= tree.first[-2]     # the root separator: numbered last
    rows, cols = np.nonzero(top)
    assert top.sum() == 9 and len(set(cols)) == 1  # a column (9 nodes), not a row (20)
    assert 0.4 * 180 <= cols[0] * 9 <= 0.6 * 180 + 9


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="leaf"):
        dissection(np.ones((4, 4), np.uint8), leaf=0)
    with pytest.raises(ValueError, match="balance"):
        dissection(np.ones((4, 4), np.uint8), balance=0.5)
