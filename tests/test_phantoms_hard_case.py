"""The hard-case cohort and the B-mode renderer for masks without anatomy."""
import numpy as np
import pytest

from latentmine import phantoms
from latentmine.fea import Labeller
from latentmine.labels import Label
from latentmine.phantoms.anatomy import draw, rasterise
from latentmine.phantoms.params import PhantomParams
from latentmine.phantoms.rendering import depth_outside_eem_mm


@pytest.fixture(scope="module")
def hard_case():
    return phantoms.generate_hard_case(100, size=64, seed=3)


def test_hard_case_share_and_determinism(hard_case):
    flags = phantoms.high_risk_flags(hard_case)
    population = np.array([record["population"] == "high-risk" for record in hard_case.anatomy])
    assert population.sum() == 8 and len(hard_case) == 100
    assert 6 <= flags.sum() <= 8 and not np.any(flags & ~population)
    again = phantoms.generate_hard_case(100, size=64, seed=3)
    np.testing.assert_array_equal(again.masks, hard_case.masks)
    np.testing.assert_array_equal(phantoms.high_risk_flags(again), flags)
    assert len(set(hard_case.ids)) == 100
    assert hard_case.params["preset"] == "hard-case"


def test_high_risk_frames_have_large_cores_and_high_pss(hard_case):
    flags = phantoms.high_risk_flags(hard_case)
    lipid = (hard_case.masks == Label.LIPID).sum(axis=(1, 2))
    assert lipid[flags].min() > 0                       # every high-risk frame has a core
    assert lipid[flags].mean() > 10 * lipid[~flags].mean()
    labeller = Labeller(hard_case.pixel_size_mm)
    labeller(hard_case.masks)
    pss = labeller.last_result.pss
    assert pss[flags].mean() > 1.2 * pss[~flags].mean()
    top_decile = np.argsort(pss)[-10:]
    assert flags[top_decile].sum() >= 2                 # 8% of frames, well over 8% of the top decile


def test_hard_case_rejects_bad_share():
    with pytest.raises(ValueError, match="high_risk_share"):
        phantoms.generate_hard_case(10, size=64, high_risk_share=1.5)


def test_depth_from_mask_matches_drawn_radial_depth_near_the_wall():
    params = PhantomParams()
    block = draw(np.random.default_rng(0), 8, params, 64)
    masks, drawn = rasterise(block, 64, params)
    pixel = params.pixel_size_mm(64)
    measured = depth_outside_eem_mm(masks, pixel)
    near_wall = np.abs(drawn) < 0.5
    assert np.abs(measured - drawn)[near_wall].max() < pixel          # within a pixel
    assert np.all(measured[masks == Label.LUMEN] < 0)


def test_renderer_reproduces_the_cohort_look_per_region():
    cohort = phantoms.generate(32, size=64, seed=0)
    rendered = phantoms.BModeRenderer(seed=1)(cohort.masks)
    assert rendered.shape == cohort.images.shape and rendered.dtype == np.float32
    assert 0.0 <= rendered.min() and rendered.max() <= 1.0
    for label in Label:
        where = cohort.masks == label
        assert abs(rendered[where].mean() - cohort.images[where].mean()) < 0.03, label.name
    # Speckle: fresh draws, not a copy of the cohort's images.
    assert np.abs(rendered - cohort.images).mean() > 0.05


def test_renderer_rejects_bad_masks():
    renderer = phantoms.BModeRenderer()
    with pytest.raises(ValueError, match="square"):
        renderer(np.zeros((2, 64, 32), np.uint8))
    with pytest.raises(ValueError, match="codes"):
        renderer(np.full((1, 64, 64), 9, np.uint8))


def test_cli_writes_a_hard_case_dataset(tmp_path):
    from latentmine.cli import main
    from latentmine.data import load_dataset

    out = tmp_path / "hard"
    assert main(["phantoms", "--n", "25", "--size", "64", "--seed", "1", "--hard-case", "0.08",
                 "--out", str(out)]) == 0
    dataset = load_dataset(out)
    assert dataset.manifest["meta"]["generator"] == "latentmine.phantoms.generate_hard_case"
    assert sum(record["anatomy"]["population"] == "high-risk" for record in dataset.provenance) == 2
    assert dataset.manifest["meta"]["params"]["high_risk_share"] == 0.08
    assert dataset.manifest["meta"]["command"].endswith("--hard-case 0.08")
