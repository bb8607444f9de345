"""``latentmine run --task``: built-in tasks on generated data, a user's MODULE:FACTORY, resume, bad names."""
import json

import numpy as np

from latentmine import tasks
from latentmine.cli import main

SMALL = ["--rounds", "1", "--per-round", "4", "--initial", "4", "--epochs", "1", "--n-pool", "24", "--n-test", "8",
         "--size", "16", "--vae-epochs", "2", "--set", "width=4", "--set", "levels=2"]


def test_run_a_built_in_task_on_its_generated_data_and_resume_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--task", "classification", "--strategy", "gradient", "--set", "initial_strategy=random",
                 "--out", str(out), *SMALL]) == 0
    printed = capsys.readouterr().out
    assert "test_accuracy" in printed and "8 labelled samples" in printed
    snapshot = json.loads((out / "config.json").read_text())
    assert snapshot["task"]["name"] == "classification" and snapshot["sources"]["generate"]["n_pool"] == 24
    assert main(["run", "--resume", str(out), "--rounds", "2"]) == 0
    assert "12 labelled samples" in capsys.readouterr().out
    labels = np.concatenate([np.load(p) for p in sorted((out / "acquired_labels").glob("r*.npy"))])
    assert labels.shape == (12,) and labels.dtype == np.int64


def test_run_takes_a_users_task_as_module_factory(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_tasks.py").write_text(
        "import dataclasses\nfrom latentmine import tasks\n\n"
        "def counting():\n    return dataclasses.replace(tasks.get_task('classification'), name='my-counting')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["run", "--task", "my_tasks:counting", "--strategy", "random", "--out", str(tmp_path / "r"),
                 *SMALL]) == 0
    assert json.loads((tmp_path / "r" / "config.json").read_text())["task"]["name"] == "my-counting"


def test_an_unknown_task_lists_the_known_ones_and_starvation_exits_with_status_2(tmp_path, capsys):
    assert main(["run", "--task", "segmentaton", "--out", str(tmp_path / "x")]) == 2
    known = ", ".join(tasks.available_tasks())
    assert {"classification", "ivus-stress", "segmentation"} <= set(tasks.available_tasks())
    assert f"unknown task 'segmentaton'; known tasks: {known}" in capsys.readouterr().err
    assert main(["run", "--task", "segmentation", "--strategy", "gradient", "--set", "initial_strategy=random",
                 "--out", str(tmp_path / "seg"), *SMALL]) == 2
    assert "the validity gate rejected all" in capsys.readouterr().err


def test_study_runs_any_task_and_reports_its_headline_metric(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["study", "--task", "classification", "--preset", "smoke", "--out", str(out), "--serial",
                 "--no-progress", "--set", "image_size=16", "--set", "vae_epochs=3", "--set", "f_width=4"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"]["name"] == "classification" and summary["config"]["task"] == "classification"
    assert summary["headline"]["metric"] == "accuracy" and summary["headline"]["lower_is_better"] is False
    assert summary["panels"] == ["accuracy", "cross_entropy"] and "target_mse_kpa2" not in summary
    final = summary["curves"]["random"]["accuracy"]["mean"][-1]
    assert summary["headline"]["target"] == final and 0.0 <= final <= 1.0
    assert set(summary["wilcoxon"]["gradient"]) == {"accuracy", "cross_entropy"}
    report = (out / "report.md").read_text()
    assert "Labels needed to reach the baseline's final accuracy" in report and "at or above the target" in report
    assert "has a higher mean test accuracy at each of the three smallest sizes" in report
    assert (out / "learning_curves.png").stat().st_size > 1000


def test_a_study_on_the_default_task_keeps_its_digest():
    import hashlib

    from latentmine.study import preset

    def digest_before_tasks(config):  # StudyConfig.digest as it was: no task field
        data = {k: v for k, v in config.to_dict().items() if k not in ("strategies", "repeats", "task")}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    for name in ("smoke", "default"):  # old study folders resume unchanged
        assert preset(name).digest() == digest_before_tasks(preset(name))
    other = preset("smoke").for_task("segmentation")
    assert other.digest() != digest_before_tasks(other)
    assert other.strategies == ("random", "gradient-nn") and other.loop["input_mode"] == "image"
