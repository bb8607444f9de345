"""Mask validation: every rule of latentmine.fea.validate, on small hand-built masks."""
import numpy as np
import pytest

from latentmine.fea.examples import plaque_mask, ring_mask
from latentmine.fea.validate import check_masks, mask_problems
from latentmine.labels import Label


@pytest.fixture
def ring():
    return ring_mask(32, 6, 12)


def test_valid_masks_have_no_problems(ring):
    assert mask_problems(ring) == []
    assert mask_problems(plaque_mask(64)) == []


def test_two_closed_lumens_and_a_floating_fragment_are_allowed(ring):
    mask = ring.copy()
    mask[16, 16] = Label.FIBROUS  # a fragment inside the lumen, loaded on every side
    assert mask_problems(mask) == []
    double = np.concatenate([ring, ring], axis=1)
    assert mask_problems(double) == []


@pytest.mark.parametrize("edit, words", [
    (lambda m: m.__setitem__(m == Label.LUMEN, Label.FIBROUS), "no lumen"),
    (lambda m: m.__setitem__((16, slice(16, None)), Label.LUMEN), "lumen is open"),
    (lambda m: m.__setitem__((16, slice(16, 30)), Label.LUMEN), "not closed"),
    (lambda m: m.__setitem__((1, 1), Label.CALCIUM), "island"),
    (lambda m: m.__setitem__(m >= Label.FIBROUS, Label.OUTSIDE), "no material"),
    (lambda m: m.__setitem__((3, 7), 7), "not Label codes"),
])
def test_each_problem_is_named(ring, edit, words):
    mask = ring.copy()
    edit(mask)
    problems = mask_problems(mask)
    assert any(words in p for p in problems), problems


def test_corner_contact_is_a_hinge(ring):
    mask = ring.copy()
    mask[[1, 2], [1, 2]] = Label.FIBROUS  # two pixels touching at one corner
    assert any("corner" in p for p in mask_problems(mask))


def test_check_masks_normalises_and_names_the_sample(ring):
    out = check_masks(ring.astype(np.int64))
    assert out.shape == (1, 32, 32) and out.dtype == np.uint8
    assert np.array_equal(out[0], ring)
    bad = ring.copy()
    bad[1, 1] = Label.LIPID
    with pytest.raises(ValueError, match="sample 2: 1 material island"):
        check_masks(np.stack([ring, ring, bad]))


@pytest.mark.parametrize("masks, words", [
    (np.zeros((2, 2, 2, 2), np.uint8), "shape"),
    (np.zeros((8, 8), np.float32), "integer"),
    (np.full((8, 8), 300, np.int32), r"\[300\]"),
])
def test_check_masks_rejects_bad_arrays(masks, words):
    with pytest.raises(ValueError, match=words):
        check_masks(masks)


def test_checks_on_the_vessel_window_match_the_whole_frame(ring):
    """The rules run on the bounding box of the vessel; where the vessel sits in a larger frame
    changes nothing but the reported coordinates."""
    from scipy import ndimage

    from latentmine.fea.validate import _EDGE_NEIGHBOURS, _grow

    leaky = ring.copy()
    leaky[16, 22:] = Label.LUMEN  # a channel from the lumen through the wall, not to the frame border
    leaky[16, 29:] = Label.OUTSIDE
    problems = mask_problems(leaky)
    assert any("row 16, column 28" in p for p in problems)
    framed = np.zeros((80, 90), np.uint8)
    framed[30:62, 40:72] = leaky
    shifted = mask_problems(framed)
    assert len(shifted) == len(problems) and any("row 46, column 68" in p for p in shifted)
    at_edge = np.zeros((40, 40), np.uint8)
    at_edge[:32, 8:] = ring
    at_edge[0, 20] = Label.LUMEN  # lumen on the frame's edge (and beside OUTSIDE)
    assert any("lumen is open" in p for p in mask_problems(at_edge))
    rng = np.random.default_rng(0)
    region = rng.random((37, 41)) < 0.2
    assert np.array_equal(_grow(region), ndimage.binary_dilation(region, structure=_EDGE_NEIGHBOURS))
