"""The study's high-risk metrics: PSS error and MSE on the top decile of the test split by labelled PSS."""
import numpy as np
import pytest

from latentmine.fea import Labeller
from latentmine.fea.examples import ring_mask
from latentmine.fea.pss import plaque_structural_stress_batch
from latentmine.study.metrics import stress_metrics
from latentmine.tasks.stress_metrics import top_decile


def test_top_decile_takes_the_ceiling_of_a_tenth_and_breaks_ties_low():
    np.testing.assert_array_equal(top_decile(np.arange(10.0)), [9])
    np.testing.assert_array_equal(top_decile(np.arange(11.0)), [9, 10])
    np.testing.assert_array_equal(top_decile(np.ones(3)), [0])
    with pytest.raises(ValueError, match="top_decile"):
        top_decile(np.zeros(0))


def test_high_risk_metrics_see_only_the_top_pss_cases():
    mask = ring_mask(64, 12.8, 28.8)
    base = Labeller(0.125)(mask[None])[0]
    scale = np.arange(1.0, 12.0)  # 11 cases, PSS proportional to the scale: the top decile is the last two
    labels = scale[:, None, None] * base
    masks = np.repeat(mask[None], len(scale), axis=0)
    pred = labels.copy()
    pred[[9, 10]] *= 1.2   # the high-risk cases 20% high
    pred[0] *= 3.0         # a low-risk case far off: invisible to the high-risk metrics
    pss = plaque_structural_stress_batch(labels, masks, 0.125)
    metrics = stress_metrics(pred, labels, masks, pixel_size_mm=0.125)
    assert metrics["top_pss_abs_err_kpa"] == pytest.approx(0.2 * pss[[9, 10]].mean(), rel=1e-5)
    assert metrics["top_mse_kpa2"] == pytest.approx(np.mean((0.2 * labels[[9, 10]]) ** 2), rel=1e-5)
    assert metrics["pss_abs_err_kpa"] == pytest.approx((2.0 * pss[0] + 0.2 * pss[[9, 10]].sum()) / 11, rel=1e-5)


def test_the_hard_case_task_is_the_stress_task_on_the_hard_case_cohort():
    from latentmine.phantoms import generate_hard_case, high_risk_flags
    from latentmine.tasks import get_task

    plain, hard = get_task("ivus-stress"), get_task("ivus-stress-hard-case")
    assert hard.name == "ivus-stress-hard-case" and hard.headline == plain.headline
    assert hard.metric_info == plain.metric_info and hard.make_target is plain.make_target
    cohort = hard.generate(25, 64, 3)
    expected = generate_hard_case(25, size=64, seed=3)
    np.testing.assert_array_equal(cohort.masks, expected.masks)
    assert high_risk_flags(cohort).sum() == 2   # round(8% of 25)
