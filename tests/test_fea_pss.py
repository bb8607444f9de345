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
    assert value == pytest.approx(37.5) and rule == "band"


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
    assert list(result.pss_rule) == ["band", "band"]
    np.testing.assert_array_equal(plaque_structural_stress_batch(labels, masks, 0.125), result.pss)
    assert stress_metrics(labels, labels, masks, pixel_size_mm=0.125)["pss_abs_err_kpa"] == 0.0
    high = stress_metrics(1.1 * labels, labels, masks, pixel_size_mm=0.125)["pss_abs_err_kpa"]
    assert high == pytest.approx(0.1 * np.mean(result.pss), rel=1e-5)
