"""``latentmine run --task``: built-in tasks on generated data, a user's MODULE:FACTORY, resume, bad names."""
import json

import numpy as np

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
    assert "unknown task 'segmentaton'; known tasks: classification, ivus-stress, segmentation" in \
        capsys.readouterr().err
    assert main(["run", "--task", "segmentation", "--strategy", "gradient", "--set", "initial_strategy=random",
                 "--out", str(tmp_path / "seg"), *SMALL]) == 2
    assert "the validity gate rejected all" in capsys.readouterr().err
