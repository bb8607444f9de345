"""The suggestive-labelling loop end to end: acquisition, provenance, metrics, determinism, bad configs."""
import json

import numpy as np
import pytest
import torch
from loop_toys import ToyLabeller, pool_and_test, trained_vae

from latentmine import backend as loop_backend
from latentmine import loop
from latentmine.loop import LoopConfig, SuggestiveLoop

torch.set_num_threads(1)
SMALL = dict(rounds=2, per_round=4, initial=4, epochs=2, width=8, levels=2, batch_size=8)


def make(tmp_path, labeller=None, name="run", plots=False, **changes):
    pool, test = pool_and_test()
    config = LoopConfig(**{**SMALL, **changes})
    return SuggestiveLoop(trained_vae(), labeller or ToyLabeller(), pool=pool, test=test, config=config,
                          run_dir=tmp_path / name, plots=plots)


def test_gradient_loop_acquires_labels_and_records_provenance(tmp_path):
    labeller = ToyLabeller()
    run = make(tmp_path, labeller, strategy="gradient", initial_strategy="random", plots=True)
    rows = run.run(progress=False)
    assert [row["round"] for row in rows] == [0, 1, 2]
    assert [row["strategy"] for row in rows] == ["random", "gradient", "gradient"]
    assert rows[-1]["n_train"] == len(run.train_set) == sum(row["n_acquired"] for row in rows)
    assert len(run.train_set) > 4  # gradient rounds acquired decoded samples past the gate
    stepped = [p for p in run.provenance if p["round"] > 0]
    assert stepped and all(p["strategy"] == "gradient" and p["parent_id"] for p in stepped)
    for p in stepped:  # z' = z + eta g/||g||: one step of exactly step_size
        assert np.linalg.norm(np.subtract(p["z_new"], p["z"])) == pytest.approx(0.5, rel=1e-4)
        assert p["grad_norm"] > 0 and p["labeller_version"] == "toy-1" and p["gate"] == "passed"
    # every acquired sample passed the gate and carries the toy labeller's label of its own mask
    assert all(not loop.gate_problems(m) for m in run.train_set.masks)
    np.testing.assert_allclose(run.train_set.labels, ToyLabeller()(run.train_set.masks))
    lines = (run.run_dir / "metrics.csv").read_text().splitlines()
    assert len(lines) == 4 and "test_mae" in lines[0]
    assert (run.run_dir / "plots" / "learning_curve.png").stat().st_size > 1000
    assert json.loads((run.run_dir / "config.json").read_text())["config"]["strategy"] == "gradient"


@pytest.mark.parametrize("strategy", ["random", "gradient-nn", "uncertainty"])
def test_real_sample_strategies_never_label_a_pool_sample_twice(tmp_path, strategy):
    labeller = ToyLabeller()
    run = make(tmp_path, labeller, strategy=strategy, rounds=3)
    run.run(progress=False)
    ids = run.train_set.ids
    assert len(ids) == 16 and len(set(ids)) == 16 and all(i.startswith("p") for i in ids)
    assert len(labeller.labelled) == 8 + 16  # test set once, then each acquired sample once


def test_training_on_more_labels_lowers_the_test_error(tmp_path):
    run = make(tmp_path, strategy="random", rounds=3, per_round=10, epochs=15, lr=3e-3)
    rows = run.run(progress=False)
    assert rows[-1]["test_mae"] < 0.7 * rows[0]["test_mae"]
    assert loop.evaluate(run.target, run.test)["mae"] == pytest.approx(rows[-1]["test_mae"], rel=1e-5)


def test_same_seed_same_run_other_seed_other_run(tmp_path):
    runs = [make(tmp_path, name=f"r{i}", strategy="gradient", seed=seed).run(progress=False)
            for i, seed in enumerate([3, 3, 5])]  # seeds whose rounds all acquire
    keys = ("n_train", "rejected", "test_mse", "train_loss")
    assert [[row[k] for k in keys] for row in runs[0]] == [[row[k] for k in keys] for row in runs[1]]
    assert [row["test_mse"] for row in runs[0]] != [row["test_mse"] for row in runs[2]]


def test_budgets_in_samples_and_labeller_seconds_stop_the_run(tmp_path):
    rows = make(tmp_path, strategy="random", rounds=5, budget_samples=10).run(progress=False)
    assert [row["n_train"] for row in rows] == [4, 8, 10]
    rows = make(tmp_path, name="seconds", strategy="random", rounds=5, budget_seconds=1e-9).run(progress=False)
    assert [row["n_train"] for row in rows] == [4] and rows[0]["label_seconds"] > 1e-9


def test_the_first_f_trains_its_fresh_budget_and_warm_rounds_their_own(tmp_path):
    rows = make(tmp_path, strategy="uncertainty", fit_steps=2, fresh_fit_steps=7).run(progress=False)
    assert [row["f_steps"] for row in rows] == [7, 2, 2]  # no validation split: every budget runs in full
    cold = make(tmp_path, name="cold", strategy="uncertainty", fit_steps=2, fresh_fit_steps=5, warm_start=False)
    assert [row["f_steps"] for row in cold.run(progress=False)] == [5, 5, 5]  # every round starts fresh
    plain = make(tmp_path, name="plain", strategy="uncertainty", fit_steps=3)
    assert [row["f_steps"] for row in plain.run(progress=False)] == [3, 3, 3]


@pytest.mark.parametrize("changes, message", [
    (dict(strategy="magic"), "unknown strategy 'magic'"),
    (dict(fresh_fit_steps=-1), "fresh_fit_steps must be an integer >= 0"),
    (dict(per_round=0), "per_round must be an integer >= 1"),
    (dict(input_mode="pixels"), "input_mode must be one of"),
    (dict(step_size=-1.0), "step_size must be > 0"),
    (dict(label_target="oracle"), "label_target must be one of"),
])
def test_bad_configs_are_refused_with_the_field_named(changes, message):
    with pytest.raises(ValueError, match=message):
        LoopConfig(**changes)


def test_a_run_folder_refuses_another_config(tmp_path):
    make(tmp_path, strategy="random", rounds=1).run(progress=False)
    with pytest.raises(ValueError, match="different config.*per_round"):
        make(tmp_path, strategy="random", rounds=1, per_round=5)


def test_mismatched_data_is_refused():
    pool, test = pool_and_test()
    with pytest.raises(ValueError, match="test images are"):
        SuggestiveLoop(trained_vae(), ToyLabeller(), pool=pool, test={"images": test.images[:, :16, :16],
                                                                      "masks": test.masks[:, :16, :16]})


def test_device_is_checked_and_not_part_of_a_runs_identity(tmp_path):
    with pytest.raises(ValueError, match="device must be"):
        LoopConfig(device="tpu")
    make(tmp_path, strategy="random", rounds=1).run(progress=False)
    resumed = make(tmp_path, strategy="random", rounds=2, device="auto")  # same run: more rounds, any device
    assert [row["round"] for row in resumed.run(progress=False)] == [0, 1, 2]
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            make(tmp_path, name="gpu", device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not (torch.cuda.is_available() and loop_backend.cuda_available()),
                    reason="needs a CUDA device and a CUDA build of torch")
def test_gradient_loop_runs_on_the_gpu(tmp_path):
    run = make(tmp_path, strategy="gradient", initial_strategy="random", device="cuda")
    rows = run.run(progress=False)
    assert rows[-1]["n_train"] > 4 and np.isfinite(rows[-1]["test_mae"])
    assert next(run.target.parameters()).is_cuda
