"""The smoke preset end to end through the command line: real phantoms, FE labels, VAE, loop, F."""
import csv
import json

import numpy as np
import pytest

from latentmine.cli import main
from latentmine.study import preset
from latentmine.study.runner import cell_path

OUTPUTS = ("results.csv", "summary.json", "learning_curves.png", "report.md")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("study-smoke")
    status = main(["study", "--preset", "smoke", "--out", str(out), "--serial", "--no-progress"])
    return status, out


def test_smoke_study_writes_every_output(smoke_run):
    status, out = smoke_run
    assert status == 0
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0, name
    config = preset("smoke")
    rows = list(csv.DictReader(open(out / "results.csv")))
    cells = {(r["strategy"], int(r["size"]), int(r["repeat"])) for r in rows}
    assert cells == {(s, n, r) for s in config.strategies for n in config.sizes for r in range(config.repeats)}
    report = (out / "report.md").read_text()
    assert "latentmine study --preset smoke" in report
    # With 2 repeats the exact two-sided Wilcoxon p is at least 0.5 (read from summary.json,
    # since a timing in the report may print as any number).
    summary = json.loads((out / "summary.json").read_text())
    p_values = [test["p"] for metrics in summary["wilcoxon"].values() for tests in metrics.values()
                for test in tests if test["p"] is not None]
    assert p_values and min(p_values) >= 0.5
    assert "2/2^2 = 0.5" in report


def test_smoke_numbers_are_physical(smoke_run):
    _, out = smoke_run
    summary = json.loads((out / "summary.json").read_text())
    for strategy, curves in summary["curves"].items():
        mse, mae = np.array(curves["mse_kpa2"]["mean"]), np.array(curves["mae_kpa"]["mean"])
        assert np.all(mse > 0) and np.all(mae > 0) and np.all(mae ** 2 <= mse + 1e-9)  # Jensen
        assert all(0 <= a <= 1 for a in curves["accuracy"]["mean"])
        labelling = curves["label_seconds"]["mean"]
        assert labelling[0] > 0 and labelling == sorted(labelling), strategy
    diagnostics = summary["diagnostics"]
    assert diagnostics["random"]["synthetic_share"]["mean"] == 0.0       # real pool samples only
    assert diagnostics["gradient"]["synthetic_share"]["mean"] > 0.0      # decoded samples
    # paired design: at the first size both strategies trained on the same shared initial samples
    first = {s: summary["curves"][s]["mse_kpa2"]["mean"][0] for s in ("random", "gradient")}
    assert first["random"] == pytest.approx(first["gradient"])


def test_the_report_states_the_steps_f_trained_and_its_best_step(smoke_run):
    _, out = smoke_run
    summary, config = json.loads((out / "summary.json").read_text()), preset("smoke")
    for steps in summary["steps_per_size"].values():
        assert len(steps["mean"]) == len(steps["best_mean"]) == len(config.sizes)
        for low, mean, high, best in zip(steps["min"], steps["mean"], steps["max"], steps["best_mean"]):
            assert 1 <= low <= mean <= high <= config.f_max_steps and 1 <= best <= mean
    random = summary["steps_per_size"]["random"]
    row = (f"| {config.sizes[0]} | {random['mean'][0]:,.0f} [{random['min'][0]:,.0f}–{random['max'][0]:,.0f}], "
           f"best {random['best_mean'][0]:,.0f} |")
    assert row in (out / "report.md").read_text()


def test_rerunning_the_smoke_study_recomputes_nothing(smoke_run):
    _, out = smoke_run
    config = preset("smoke")
    stamps = {cell: cell_path(out, *cell).stat().st_mtime_ns for cell in config.cells()}
    assert main(["study", "--preset", "smoke", "--out", str(out), "--serial", "--no-progress"]) == 0
    assert {cell: cell_path(out, *cell).stat().st_mtime_ns for cell in config.cells()} == stamps


def test_a_bad_setting_is_a_clean_error(tmp_path, capsys):
    assert main(["study", "--preset", "smoke", "--out", str(tmp_path), "--set", "colour=red"]) == 2
    assert "unknown study setting 'colour'" in capsys.readouterr().err
