"""The one PSS definition: hand-computed cases, bad input, and the tool, the loop and the study agree."""
import numpy as np
import pytest

from latentmine.fea import Labeller, plaque_structural_stress, plaque_structural_stress_batch
from latentmine.fea.examples import ring_mask
from latentmine.fea.pss import pss_and_rule
from latentmine.labels import Label


def test_a_uniform_map_has_its_value_as_pss():
    mask = ring_mask(48, 8, 20)
    principal = np.where(mask == Label.FIBROUS, 37.5, 0.0)
    value, rule = pss_and_rule(principal, mask, 0.05)
    assert value == pytest.approx(37.5) and rule == "wall-fit"


def test_a_map_linear_in_the_depth_is_extrapolated_to_the_wall():
    """s = 100 - 2 (r - a) per pixel, with the first 2.5 px spoilt as the staircase edge spoils them.

    Only pixels 3-7 px deep enter the fit, and it recovers 100 at r = a.
    """
    size, a = 128, 30.0
    mask = ring_mask(size, a, 60)
    radius = np.hypot(*(np.mgrid[0:size, 0:size] + 0.5 - size / 2))
    principal = np.where(mask == Label.FIBROUS, 100.0 - 2.0 * (radius - a), 0.0)
    principal[(mask == Label.FIBROUS) & (radius < a + 2.5)] *= 1.5
    value, rule = pss_and_rule(principal, mask, 0.05)
    assert rule == "wall-fit"
    assert value == pytest.approx(100.0, abs=0.3)  # the depth coordinate is good to about 0.1 px


def test_a_wall_thinner_than_the_fit_falls_back_to_the_band_rule():
    """Wall of 5 px (< 7.5): the nodally averaged map, largest 2-3 steps from the lumen."""
    mask = ring_mask(48, 10, 15)
    principal = np.where(mask == Label.FIBROUS, 20.0, 0.0)
    principal[mask == Label.FIBROUS] += np.linspace(0, 1, int((mask == Label.FIBROUS).sum()))
    value, rule = pss_and_rule(principal, mask, 0.05)
    assert rule == "thin-wall"
    assert 20.0 < value < 21.0


def test_the_rule_is_the_one_that_gave_the_peak():
    """A thick ring with a thin lipid cap: the cap falls back, and it wins only when it is the peak."""
    size = 96
    mask = ring_mask(size, 20, 44)
    radius, theta = (np.hypot(*(np.mgrid[0:size, 0:size] + 0.5 - size / 2)),
                     np.arctan2(*(np.mgrid[0:size, 0:size] + 0.5 - size / 2)))
    mask[(radius >= 23) & (radius < 32) & (np.abs(theta) < 0.5)] = Label.LIPID  # a 3 px cap over a pool
    wall = np.isin(mask, [Label.FIBROUS, Label.LIPID])
    principal = np.where(wall, 50.0, 0.0)
    assert pss_and_rule(principal, mask, 0.05) == (pytest.approx(50.0), "wall-fit")
    cap = (mask == Label.FIBROUS) & (radius < 23) & (np.abs(theta) < 0.5)
    principal[cap] = 80.0
    value, rule = pss_and_rule(principal, mask, 0.05)
    assert rule == "thin-wall" and 50.0 < value <= 80.0


def test_pss_ignores_values_off_the_material():
    mask = ring_mask(48, 8, 20)
    principal = np.where(mask == Label.FIBROUS, 10.0, 0.0)
    noisy = np.where(mask == Label.FIBROUS, 10.0, 1e6)  # F may predict anything in the lumen and outside
    assert plaque_structural_stress(noisy, mask, 0.05) == plaque_structural_stress(principal, mask, 0.05)
    with_nan = np.where(mask == Label.FIBROUS, 10.0, np.nan)  # the solver's own map: NaN off material
    assert plaque_structural_stress(with_nan, mask, 0.05) == plaque_structural_stress(principal, mask, 0.05)


def test_pss_is_linear_in_a_common_scale():
    mask = ring_mask(48, 8, 20)
    radius = np.hypot(*(np.mgrid[0:48, 0:48] + 0.5 - 24))
    principal = np.where(mask == Label.FIBROUS, 100.0 * 8 ** 2 / radius ** 2, 0.0)
    base = plaque_structural_stress(principal, mask, 0.05)
    assert plaque_structural_stress(2.5 * principal, mask, 0.05) == pytest.approx(2.5 * base)
    assert 0 < base < 100.0  # below the value at the lumen edge: taken inside the wall


def test_batch_equals_one_by_one_and_names_bad_samples():
    masks = np.stack([ring_mask(40, 6, 16), ring_mask(40, 8, 18)])
    radius = np.hypot(*(np.mgrid[0:40, 0:40] + 0.5 - 20))
    maps = np.where(masks >= Label.FIBROUS, 50.0 / radius, 0.0)
    got = plaque_structural_stress_batch(maps, masks, 0.1)
    assert got.shape == (2,)
    assert got.tolist() == [plaque_structural_stress(m, k, 0.1) for m, k in zip(maps, masks)]
    broken = maps.copy()
    broken[1][masks[1] == Label.FIBROUS] = np.nan
    with pytest.raises(ValueError, match="sample 1 has non-finite"):
        plaque_structural_stress_batch(broken, masks, 0.1)
    no_lumen = masks.copy()
    no_lumen[0][no_lumen[0] == Label.LUMEN] = Label.FIBROUS
    with pytest.raises(ValueError, match="mask of sample 0 needs a lumen"):
        plaque_structural_stress_batch(maps, no_lumen, 0.1)
    with pytest.raises(ValueError, match="shape"):
        plaque_structural_stress_batch(maps[:, :30], masks, 0.1)
    for size in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="pixel_size_mm"):
            plaque_structural_stress(maps[0], masks[0], size)


def test_the_study_metric_scores_the_tools_own_pss():
    """The study's PSS of the tool's own map is ``StressResult.pss``; a map 10% high is 10% off."""
    from latentmine.study.metrics import stress_metrics

    masks = np.stack([ring_mask(64, 12.8, 28.8), ring_mask(64, 10, 20)])
    labeller = Labeller(0.125)
    labels = labeller(masks)
    result = labeller.last_result
    assert list(result.pss_rule) == ["wall-fit", "wall-fit"]
    np.testing.assert_array_equal(plaque_structural_stress_batch(labels, masks, 0.125), result.pss)
    assert stress_metrics(labels, labels, masks, pixel_size_mm=0.125)["pss_abs_err_kpa"] == 0.0
    high = stress_metrics(1.1 * labels, labels, masks, pixel_size_mm=0.125)["pss_abs_err_kpa"]
    assert high == pytest.approx(0.1 * np.mean(result.pss), rel=1e-5)
