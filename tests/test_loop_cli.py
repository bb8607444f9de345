"""The loop's commands: train-vae, run (and --resume), suggest -> ingest, and their error messages."""
import json

import numpy as np
import pytest
import torch
from loop_toys import ToyLabeller, pool_and_test

from latentmine.cli import main
from latentmine.data import save_dataset

torch.set_num_threads(1)
FLAGS = ["--per-round", "3", "--initial", "3", "--epochs", "1", "--set", "width=4", "--set", "levels=2",
         "--labeller", "loop_toys:ToyLabeller"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    pool, test = pool_and_test(n_pool=16, n_test=4)
    save_dataset(root / "pool", pool.images, pool.masks, pixel_size_mm=0.1, ids=pool.ids)
    save_dataset(root / "test", test.images, test.masks, ToyLabeller()(test.masks), pixel_size_mm=0.1, ids=test.ids)
    assert main(["train-vae", "--data", str(root / "pool"), "--out", str(root / "vae"), "--latent-dim", "4",
                 "--width", "4", "--epochs", "2", "--batch-size", "8"]) == 0
    return root


def new_run(files, out, *extra):
    return ["run", "--pool", str(files / "pool"), "--test", str(files / "test"), "--vae", str(files / "vae" / "vae.pt"),
            "--out", str(out), *FLAGS, *extra]


def test_run_then_resume_for_more_rounds(files, tmp_path, capsys):
    assert main(new_run(files, tmp_path / "run", "--strategy", "random", "--rounds", "1")) == 0
    assert "n_train" in capsys.readouterr().out
    assert main(["run", "--resume", str(tmp_path / "run"), "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 4  # header, rounds 0, 1, 2
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["config"]["per_round"] == 3 and config["sources"]["labeller"] == "loop_toys:ToyLabeller"


def test_suggest_and_ingest_by_files(files, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(new_run(files, run, "--strategy", "random", "--rounds", "0")) == 0
    assert main(["suggest", str(run), "--out", str(tmp_path / "todo")]) == 0
    manifest = json.loads((tmp_path / "todo" / "manifest.json").read_text())
    assert manifest["round"] == 1 and len(manifest["ids"]) == 3
    labels = tmp_path / "labels"
    labels.mkdir()
    for key in manifest["ids"]:
        mask = np.load(tmp_path / "todo" / manifest["files"][key]["mask_npy"])
        np.save(labels / f"{key}.npy", ToyLabeller()(mask[None])[0])
    assert main(["ingest", str(run), str(labels)]) == 0
    assert "3 label(s) added; the run now has 6 labelled samples" in capsys.readouterr().out
    assert main(["ingest", str(run), str(labels)]) == 2
    assert "no suggestions wait for labels" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["run", "--pool", "nowhere"], "a new run needs --test, --vae, --out"),
    (["run", "--resume", "/nonexistent/run"], "is not a run folder"),
    (["run", "--resume", "x", "--epochs", "3"], "only --rounds may change"),
    (["train-vae", "--data", "/nonexistent", "--out", "x"], "dataset /nonexistent does not exist"),
    (["suggest", "/nonexistent/run"], "is not a run folder"),
])
def test_bad_invocations_give_clear_errors(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_settings_are_named(files, tmp_path, capsys):
    assert main(new_run(files, tmp_path / "a", "--set", "colour=blue")) == 2
    assert "unknown setting(s) ['colour']" in capsys.readouterr().err
    assert main(new_run(files, tmp_path / "b", "--strategy", "best")) == 2
    assert "unknown strategy 'best'" in capsys.readouterr().err
