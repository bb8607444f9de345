"""Study statistics, the resumable cell runner and the outputs, with cheap made-up cells."""
import csv
import json
import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from latentmine.storage import atomic_write_json
from latentmine.study import StudyConfig, preset, run_study_outputs
from latentmine.study.runner import cell_path, read_result, cohort_marker
from latentmine.study.stats import area_under_curve, labels_to_reach, mean_std, paired_wilcoxon

# --- statistics against hand-computed values -------------------------------------------------


def test_mean_and_sample_std_by_hand():
    mean, std = mean_std([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]])
    assert mean.tolist() == [3.0, 10.0]
    # sum of squared deviations 8 over n - 1 = 2 -> variance 4
    assert std.tolist() == [2.0, 0.0]


def test_labels_to_reach_interpolates_between_sizes():
    sizes = [25, 50, 100, 200]
    curve = [40.0, 20.0, 10.0, 6.0]
    assert labels_to_reach(sizes, curve, 8.0) == pytest.approx(150.0)  # halfway from 10 to 6
    assert labels_to_reach(sizes, curve, 15.0) == pytest.approx(75.0)
    assert labels_to_reach(sizes, curve, 40.0) == 25.0      # already at the first size
    assert labels_to_reach(sizes, curve, 5.0) is None       # never reached
    # higher-is-better metrics cross upwards
    assert labels_to_reach(sizes, [0.2, 0.4, 0.6, 0.8], 0.5, lower_is_better=False) == pytest.approx(75.0)


def test_labels_to_reach_counts_from_where_a_bumpy_curve_stays_below():
    # dips below 10 at 100 labels, rises above it at 200, stays below from 300 (11 -> 9 halfway)
    assert labels_to_reach([50, 100, 200, 400], [12.0, 8.0, 11.0, 9.0], 10.0) == pytest.approx(300.0)
    assert labels_to_reach([50, 100, 200, 400], [12.0, 8.0, 11.0, 12.0], 10.0) is None


def test_area_under_curve_by_trapezoid():
    sizes, curve = [0, 10, 30], [4.0, 2.0, 1.0]
    raw = 0.5 * (4 + 2) * 10 + 0.5 * (2 + 1) * 20  # 30 + 30
    assert area_under_curve(sizes, curve, normalise=False) == pytest.approx(raw)
    assert area_under_curve(sizes, curve) == pytest.approx(raw / 30)


def test_wilcoxon_matches_the_exact_distribution_by_hand():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    # all five differences negative: W = 0, the most extreme of 2**5 sign patterns on each side
    result = paired_wilcoxon(a, a + np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert result["statistic"] == 0.0
    assert result["p"] == pytest.approx(2 / 32) == result["min_p"] == 0.0625
    assert result["wins"] == 5 and result["median_difference"] == -3.0
    # one positive difference of rank 1: W = 1; P(W <= 1) = 2/32 per side -> p = 4/32
    mixed = paired_wilcoxon(a, a + np.array([-1.0, 2.0, 3.0, 4.0, 5.0]))
    assert mixed["statistic"] == 1.0 and mixed["p"] == pytest.approx(0.125)
    assert mixed["wins"] == 4
    assert paired_wilcoxon(a, a + [-1, 2, 3, 4, 5], lower_is_better=False)["wins"] == 1


def test_wilcoxon_of_identical_samples_is_undefined_not_an_error():
    result = paired_wilcoxon([1.0, 2.0], [1.0, 2.0])
    assert math.isnan(result["p"]) and result["wins"] == 0


def test_wilcoxon_refuses_unpaired_samples():
    with pytest.raises(ValueError, match="paired"):
        paired_wilcoxon([1.0, 2.0], [1.0])


# --- configuration -------------------------------------------------------------------------------


def test_presets_are_valid_and_ordered_by_scale():
    smoke, default, full, paper = preset("smoke"), preset("default"), preset("full"), preset("paper")
    assert smoke.sizes[-1] < default.sizes[-1] < full.sizes[-1] < paper.sizes[-1]
    assert 64 <= default.image_size <= 96 and default.image_size == full.image_size
    # 6 paired repeats, each with its own cohort and VAE: an exact two-sided Wilcoxon can reach p < 0.05
    assert default.repeats >= 6 and full.repeats >= 6 and not default.shared_cohort and not full.shared_cohort
    assert 2 / 2 ** default.repeats < 0.05
    assert [s for s in default.sizes if s <= 100] == [25, 50, 100]  # where strategies can differ
    assert [s for s in full.sizes if s <= 100] == [25, 50, 75, 100]
    # the budget at which F's validation MSE stopped falling (benchmarks/results/surrogate_budget.json):
    # the grid is cut to fit the machine, never the training
    assert default.f_max_steps >= 2000 and full.f_max_steps >= default.f_max_steps
    assert set(default.sizes) < set(full.sizes)
    assert paper.pool_size + paper.validation_size + paper.test_size == 1200 and paper.image_size >= 128
    assert default.strategies == ("random", "gradient")


@pytest.mark.parametrize("changes, message", [
    ({"sizes": (50, 25)}, "increasing"),
    ({"sizes": (25, 5000)}, "pool_size"),
    ({"sizes": (25, 60)}, "per_round"),
    ({"strategies": ("gradient",)}, "baseline"),
    ({"strategies": ("random", "magic")}, "unknown strategies"),
    ({"repeats": 0}, "repeats"),
    ({"f_max_steps": 0}, "f_max_steps"),
    ({"f_patience": 0}, "f_patience"),
    ({"f_schedule": "linear"}, "f_schedule"),
    ({"f_augment": "mixup"}, "f_augment"),
    ({"f_weight_decay": -0.1}, "f_weight_decay"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"acquisition_steps": -1}, "acquisition_steps"),
])
def test_bad_configurations_are_refused_by_name(changes, message):
    with pytest.raises(ValueError, match=message):
        StudyConfig(**changes)


def test_text_overrides_parse_by_field_type():
    config = preset("smoke").with_overrides({"repeats": "3", "learning_rate": "0.01", "sizes": "8,16",
                                             "strategies": "random,gradient-nn", "loop.step_size": "0.5"})
    assert (config.repeats, config.learning_rate, config.sizes) == (3, 0.01, (8, 16))
    assert config.strategies == ("random", "gradient-nn") and config.loop["step_size"] == 0.5
    with pytest.raises(ValueError, match="unknown study setting"):
        config.with_overrides({"colour": "red"})


def test_digest_ignores_which_cells_run_but_not_the_experiment():
    base = preset("smoke")
    assert base.with_overrides({"repeats": "4"}).digest() == base.digest()
    assert base.with_overrides({"f_max_steps": "99"}).digest() != base.digest()


# --- the runner with made-up cells ----------------------------------------------------------------

FAKE = StudyConfig(name="fake", pool_size=100, sizes=(10, 20, 40, 80), per_round=10, repeats=5,
                   strategies=("random", "gradient", "uncertainty"))
FACTOR = {"random": 1.0, "gradient": 0.5, "uncertainty": 1.5}


def fake_prepare(config, repeat, out):
    _log(out, f"prepare {repeat}")
    atomic_write_json(cohort_marker(out, repeat), {"config_digest": config.digest()})


def fake_cell(config, strategy, repeat, out, factor=None):
    """MSE = 1000 / size, scaled by strategy, with a repeat-dependent wobble; the high-risk MSE inversely."""
    _log(out, f"cell {strategy} {repeat}")
    factor = FACTOR[strategy] if factor is None else factor
    wobble = 1.0 + 0.02 * repeat
    points = [{"size": size, "mse_kpa2": 1000.0 / size * factor * wobble,
               "mae_kpa": 30.0 / size, "rel_l2": 1.0 / size, "pss_abs_err_kpa": 5.0,
               "accuracy": 1 - 1.0 / size / factor, "label_seconds": 0.01 * size,
               "wall_seconds": 0.02 * size, "val_mse_kpa2": 900.0 / size,
               "top_mse_kpa2": 2000.0 / size / factor * wobble}
              for size in config.sizes]
    rounds = [{"labelled": size, "seconds": {"train_f": 0.5, "label": 0.1}} for size in config.sizes]
    atomic_write_json(cell_path(out, strategy, repeat), {
        "config_digest": config.digest(), "strategy": strategy, "repeat": repeat, "points": points,
        "rounds": rounds, "seconds": {"total": 2.0}, "diagnostics": {"vae_recon": 0.1}})


def failing_cell(config, strategy, repeat, out):
    if strategy == "gradient" and repeat == 2:
        _log(out, f"cell {strategy} {repeat}")
        raise RuntimeError("simulated interruption")
    fake_cell(config, strategy, repeat, out)


def _log(out, line):
    with open(Path(out) / "executions.log", "a") as handle:
        handle.write(line + "\n")


def _executions(out):
    return Path(out, "executions.log").read_text().splitlines()


def test_outputs_are_written_and_numbers_follow_the_made_up_cells(tmp_path):
    summary = run_study_outputs(FAKE, tmp_path, cell_fn=fake_cell, prepare_fn=fake_prepare,
                                progress=False, command="latentmine study --preset fake")
    for name in ("results.csv", "summary.json", "learning_curves.png", "report.md"):
        assert (tmp_path / name).stat().st_size > 0
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert len(rows) == 3 * 4 * 5 * 9  # strategies x sizes x repeats x metrics
    # the target is random's mean final MSE: 1000/80 * mean(1 + 0.02 r) = 12.5 * 1.04 = 13
    assert summary["target_mse_kpa2"] == pytest.approx(13.0)
    # gradient's mean curve 500/size * 1.04 crosses 13 at size 40 exactly: half the labels
    assert summary["labels_to_reach"]["gradient"]["labels"] == pytest.approx(40.0)
    assert summary["labels_to_reach"]["gradient"]["fraction_of_baseline"] == pytest.approx(0.5)
    assert summary["labels_to_reach"]["uncertainty"]["labels"] is None
    assert summary["goal"]["met"] is True
    first = summary["wilcoxon"]["gradient"]["mse_kpa2"][0]
    assert first["p"] == pytest.approx(0.0625) and first["wins"] == 5
    assert summary["curves"]["random"]["mse_kpa2"]["std"][0] == pytest.approx(
        np.std([100 * (1 + 0.02 * r) for r in range(5)], ddof=1))
    # over the whole curve gradient is better in every repeat, uncertainty worse in every one
    whole = {n: summary["auc"][n]["mse_kpa2"]["vs_baseline"] for n in ("gradient", "uncertainty")}
    assert (whole["gradient"]["wins"], whole["uncertainty"]["wins"]) == (5, 0)
    assert whole["gradient"]["p"] == pytest.approx(0.0625) == whole["uncertainty"]["p"]
    assert "vs_baseline" not in summary["auc"]["random"]["mse_kpa2"]
    # the high-risk subset is compared too, not plotted: there gradient loses every repeat at every size
    top = summary["wilcoxon"]["gradient"]["top_mse_kpa2"]
    assert [t["wins"] for t in top] == [0, 0, 0, 0] and top[-1]["p"] == pytest.approx(0.0625)
    assert summary["auc"]["uncertainty"]["top_mse_kpa2"]["vs_baseline"]["wins"] == 5
    assert "top_mse_kpa2" not in summary["panels"]
    assert "top_pss_abs_err_kpa" not in summary["wilcoxon"]["gradient"]  # no cell measured it
    report = (tmp_path / "report.md").read_text()
    assert "Goal met" in report and "0.0625" in report and "latentmine study --preset fake" in report
    scoreboard = report[report.index("## Every strategy against `random`"):report.index("## Could")]
    rows = {line.split(" | ")[0].strip("| "): line for line in scoreboard.splitlines() if line.startswith("| ")}
    assert rows["gradient"].startswith("| gradient | 40 (50%) |") and rows["gradient"].count("5/5, 0.062") == 5
    assert rows["uncertainty"].startswith("| uncertainty | n/a |") and "0/5, 0.062" in rows["uncertainty"]
    assert json.loads((tmp_path / "summary.json").read_text())["digest"] == FAKE.digest()


def test_goal_not_met_is_reported_as_such(tmp_path):
    config = FAKE.with_overrides({"strategies": "random,gradient", "repeats": "2"})
    summary = run_study_outputs(config, tmp_path, cell_fn=worse_gradient_cell, prepare_fn=fake_prepare,
                                progress=False)
    assert summary["goal"]["met"] is False and summary["goal"]["beats_at_smallest"] == [False] * 3
    assert summary["labels_to_reach"]["gradient"]["labels"] is None
    assert "Goal NOT met" in (tmp_path / "report.md").read_text()


def worse_gradient_cell(config, strategy, repeat, out):
    fake_cell(config, strategy, repeat, out, factor=1.5 if strategy == "gradient" else 1.0)


def test_a_resumed_study_skips_finished_cells(tmp_path):
    with pytest.raises(RuntimeError, match="simulated interruption"):
        run_study_outputs(FAKE, tmp_path, cell_fn=failing_cell, prepare_fn=fake_prepare, progress=False)
    first = _executions(tmp_path)
    assert len([e for e in first if e.startswith("prepare")]) == 5
    assert len([e for e in first if e.startswith("cell")]) == 15  # all attempted, one failed
    assert read_result(cell_path(tmp_path, "gradient", 2), FAKE.digest()) is None
    run_study_outputs(FAKE, tmp_path, cell_fn=fake_cell, prepare_fn=fake_prepare, progress=False)
    resumed = _executions(tmp_path)[len(first):]
    assert resumed == ["cell gradient 2"]  # no repeat re-prepared, no finished cell recomputed
    run_study_outputs(FAKE, tmp_path, cell_fn=fake_cell, prepare_fn=fake_prepare, progress=False)
    assert len(_executions(tmp_path)) == len(first) + 1


def test_resume_runs_only_the_new_strategy(tmp_path):
    two = FAKE.with_overrides({"strategies": "random,gradient", "repeats": "2"})
    run_study_outputs(two, tmp_path, cell_fn=fake_cell, prepare_fn=fake_prepare, progress=False)
    before = len(_executions(tmp_path))
    three = two.with_overrides({"strategies": "random,gradient,uncertainty"})
    run_study_outputs(three, tmp_path, cell_fn=fake_cell, prepare_fn=fake_prepare, progress=False)
    assert _executions(tmp_path)[before:] == ["cell uncertainty 0", "cell uncertainty 1"]


def test_a_folder_of_another_experiment_is_refused(tmp_path):
    run_study_outputs(FAKE.with_overrides({"repeats": "1"}), tmp_path, cell_fn=fake_cell,
                      prepare_fn=fake_prepare, progress=False)
    with pytest.raises(ValueError, match="f_max_steps"):
        run_study_outputs(FAKE.with_overrides({"repeats": "1", "f_max_steps": "7"}), tmp_path,
                          cell_fn=fake_cell, prepare_fn=fake_prepare, progress=False)


def test_cells_run_on_a_process_pool(tmp_path):
    config = FAKE.with_overrides({"repeats": "2"})
    with ProcessPoolExecutor(max_workers=2) as pool:
        summary = run_study_outputs(config, tmp_path, executor=pool, cell_fn=fake_cell,
                                    prepare_fn=fake_prepare, progress=False)
    assert sorted(e for e in _executions(tmp_path) if e.startswith("cell")) == sorted(
        f"cell {s} {r}" for s in config.strategies for r in range(2))
    assert summary["curves"]["gradient"]["mse_kpa2"]["n"] == 2


# --- metrics ------------------------------------------------------------------------------------------


def test_stress_metrics_by_hand():
    from latentmine.fea import plaque_structural_stress
    from latentmine.study.metrics import stress_metrics

    masks = np.zeros((1, 5, 5), np.uint8)
    masks[0, 1:4, 1:4] = 2          # a ring of 8 fibrous pixels ...
    masks[0, 2, 2] = 1              # ... around one lumen pixel
    labels = np.where(masks == 2, 100.0, 0.0)
    labels[0, 1, 1] = 200.0         # the sample's peak
    pred = labels.copy()
    pred[0, 1, 2] += 15.0           # within 10% of the peak (20 kPa)
    pred[0, 1, 1] += 30.0           # beyond it; also the predicted peak-stress error
    pred[0, 0, 0] = 5.0             # off the material: counts in MSE, not in accuracy
    got = stress_metrics(pred, labels, masks, pixel_size_mm=0.1)
    assert got["mse_kpa2"] == pytest.approx((15 ** 2 + 30 ** 2 + 5 ** 2) / 25)
    assert got["mae_kpa"] == pytest.approx((15 + 30 + 5) / 25)
    assert got["rel_l2"] == pytest.approx(math.sqrt(15 ** 2 + 30 ** 2 + 5 ** 2) / math.sqrt(7 * 100 ** 2 + 200 ** 2))
    assert got["accuracy"] == pytest.approx(7 / 8)
    pss_error = abs(plaque_structural_stress(pred[0], masks[0], 0.1)
                    - plaque_structural_stress(labels[0], masks[0], 0.1))
    assert got["pss_abs_err_kpa"] == pytest.approx(pss_error) and pss_error > 0  # the tool's own PSS
    with pytest.raises(ValueError, match="one shape"):
        stress_metrics(pred[:, :4], labels, masks, pixel_size_mm=0.1)


def test_a_shared_cohort_is_prepared_once(tmp_path):
    run_study_outputs(FAKE.with_overrides({"shared_cohort": "true"}), tmp_path, cell_fn=fake_cell,
                      prepare_fn=fake_prepare, progress=False)
    assert [e for e in _executions(tmp_path) if e.startswith("prepare")] == ["prepare 0"]


class CountingTool:
    """A labelling tool that records what it was asked to label."""

    def __init__(self):
        self.calls = []

    def __call__(self, masks):
        self.calls.append(len(masks))
        return np.asarray(masks, np.float32) * 10


def test_pool_labels_are_replayed_and_other_masks_go_to_the_tool():
    from latentmine.study.cells import PoolLabels

    pool = np.arange(3 * 4, dtype=np.uint8).reshape(3, 2, 2) % 5
    stored = np.full((3, 2, 2), 7.0, np.float32) * np.arange(1, 4)[:, None, None]
    tool = CountingTool()
    labeller = PoolLabels(tool, pool, stored, np.array([0.5, 1.5, 2.5]))
    decoded = np.full((1, 2, 2), 4, np.uint8)
    labels = labeller(np.concatenate([pool[[2, 0]], decoded]))
    np.testing.assert_array_equal(labels[:2], stored[[2, 0]])
    np.testing.assert_array_equal(labels[2], 40.0)
    assert tool.calls == [1]  # only the decoded mask was labelled
    assert labeller.last_result.seconds[:2].tolist() == [2.5, 0.5] and labeller.last_result.seconds[2] >= 0
    assert labeller.version == "CountingTool"


def test_a_shared_result_is_computed_once_and_awaited_by_the_others(tmp_path):
    import threading

    from latentmine.study.cells import _claim_or_wait

    path = tmp_path / "shared" / "r0-n25-abc.json"
    assert _claim_or_wait(path, "d1") is None and path.with_suffix(".lock").exists()  # first caller computes
    waited = []
    waiter = threading.Thread(target=lambda: waited.append(_claim_or_wait(path, "d1", poll_seconds=0.01)))
    waiter.start()
    atomic_write_json(path, {"config_digest": "d1", "scores": {"mse_kpa2": 7.0}})
    waiter.join(timeout=10)
    assert waited == [{"config_digest": "d1", "scores": {"mse_kpa2": 7.0}}]
    # the owner failed: its lock vanished without a result of this study, so the next caller takes over
    other = tmp_path / "shared" / "r0-n50-abc.json"
    other.with_suffix(".lock").touch()
    taker = threading.Thread(target=lambda: waited.append(_claim_or_wait(other, "d1", poll_seconds=0.01)))
    taker.start()
    other.with_suffix(".lock").unlink()
    taker.join(timeout=10)
    assert waited[-1] is None and other.with_suffix(".lock").exists()
