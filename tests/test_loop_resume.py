"""Kill the loop anywhere, resume it: nothing lost, nothing labelled twice, same result as without the kill."""
import numpy as np
import pytest
import torch
from loop_toys import ToyLabeller, pool_and_test, trained_vae

from latentmine.loop import LabelsPending, LoopConfig, SuggestiveLoop
from latentmine.loop import core, human
from latentmine.loop.store import RunStore

torch.set_num_threads(1)
CONFIG = LoopConfig(strategy="gradient", initial_strategy="random", rounds=2, per_round=4, initial=4, epochs=2,
                    width=8, levels=2, batch_size=8, label_chunk=2, seed=1)


def open_loop(path, labeller):
    pool, test = pool_and_test()
    return SuggestiveLoop(trained_vae(), labeller, pool=pool, test=test, config=CONFIG, run_dir=path, plots=False)


class Kill(BaseException):
    """Stands for SIGKILL: nothing after it runs, and no ``except Exception`` catches it."""


def _once(function, when=lambda *a, **k: True):
    state = {"armed": True}

    def wrapper(*args, **kwargs):
        if state["armed"] and when(*args, **kwargs):
            state["armed"] = False
            raise Kill()
        return function(*args, **kwargs)
    return wrapper


KILLS = {
    "inside the labeller, round 1 chunk 2": lambda mp: None,
    "while proposing round 2": lambda mp: mp.setattr(RunStore, "save_proposals",
                                                     _once(RunStore.save_proposals, lambda s, r, *a: r == 2)),
    "after labels, before acquiring": lambda mp: mp.setattr(core.acquired, "append_round",
                                                            _once(core.acquired.append_round,
                                                                  lambda root, images, *a, **k: len(images) == 4
                                                                  and (root / "acquired").exists())),
    "after acquiring, before the state": lambda mp: mp.setattr(
        RunStore, "set_state", _once(RunStore.set_state, lambda s, r, stage: r == 1 and stage == "acquired")),
    "while training F": lambda mp: mp.setattr(core, "fit_target", _once(core.fit_target)),
    "after the checkpoint, before metrics": lambda mp: mp.setattr(RunStore, "write_metrics",
                                                                  _once(RunStore.write_metrics)),
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    labeller = ToyLabeller()
    rows = open_loop(tmp_path_factory.mktemp("ref") / "run", labeller).run(progress=False)
    return rows, sorted(labeller.labelled)


@pytest.mark.parametrize("where", KILLS)
def test_resume_after_a_kill_loses_and_repeats_nothing(tmp_path, monkeypatch, reference, where):
    first = ToyLabeller(fail_at=4 if where.startswith("inside") else None)  # call 1 labels the test set
    KILLS[where](monkeypatch)
    with pytest.raises((Kill, KeyboardInterrupt)):
        open_loop(tmp_path / "run", first).run(progress=False)
    monkeypatch.undo()
    second = ToyLabeller()
    resumed = open_loop(tmp_path / "run", second)
    rows = resumed.run(progress=False)
    ref_rows, ref_labelled = reference
    assert sorted(first.labelled + second.labelled) == ref_labelled  # each mask labelled exactly once
    assert [r["test_mse"] for r in rows] == [r["test_mse"] for r in ref_rows]
    assert [r["n_train"] for r in rows] == [r["n_train"] for r in ref_rows]
    assert len(set(resumed.train_set.ids)) == len(resumed.train_set)
    assert (tmp_path / "run" / "metrics.csv").read_text().count("\n") == len(ref_rows) + 1


def test_a_finished_run_reopened_labels_nothing(tmp_path):
    open_loop(tmp_path / "run", ToyLabeller()).run(progress=False)
    again = ToyLabeller()
    rows = open_loop(tmp_path / "run", again).run(progress=False)
    assert again.calls == 0 and len(rows) == 3


def test_suggest_then_ingest_matches_automatic_labelling(tmp_path, reference):
    run = open_loop(tmp_path / "run", ToyLabeller())
    run.run(rounds=0, progress=False)
    by_hand = open_loop(tmp_path / "run", None)
    for _ in range(2):
        with pytest.raises(LabelsPending, match="wait for labels"):
            by_hand.run(progress=False)
        r, proposals, ids = by_hand.propose_next()
        manifest = human.export_suggestions(tmp_path / f"s{r}", r, proposals.images, proposals.masks, ids)
        masks = np.stack([np.load(manifest.parent / f"{key}_mask.npy") for key in ids])
        np.testing.assert_array_equal(masks, proposals.masks)
        labels_dir = tmp_path / f"labels{r}"
        labels_dir.mkdir()
        for key, label in zip(ids, ToyLabeller()(masks)):
            np.save(labels_dir / f"{key}.npy", label)
        by_hand.ingest(human.read_labels(labels_dir, ids, masks.shape[1:]))
    ref_rows, _ = reference
    assert [r["test_mse"] for r in by_hand.metrics] == [r["test_mse"] for r in ref_rows]


def test_bad_ingested_labels_are_refused_by_name(tmp_path):
    run = open_loop(tmp_path / "run", ToyLabeller())
    run.run(rounds=0, progress=False)
    _, proposals, ids = run.propose_next()
    folder = tmp_path / "labels"
    folder.mkdir()
    with pytest.raises(ValueError, match=f"missing label for suggested sample '{ids[0]}'"):
        human.read_labels(folder, ids, (32, 32))
    for key in ids:
        np.save(folder / f"{key}.npy", np.zeros((32, 32), np.float32))
    np.save(folder / f"{ids[1]}.npy", np.zeros((16, 32), np.float32))
    with pytest.raises(ValueError, match=rf"{ids[1]}\.npy: expected a numeric array of shape \(32, 32\)"):
        human.read_labels(folder, ids, (32, 32))
    np.save(folder / "stranger.npy", np.zeros((32, 32)))
    with pytest.raises(ValueError, match="stranger.npy.*match no suggested id"):
        human.read_labels(folder, ids, (32, 32))
    good = {key: np.zeros((32, 32), np.float32) for key in ids}
    with pytest.raises(ValueError, match="missing"):
        run.ingest({key: good[key] for key in ids[1:]})
    with pytest.raises(ValueError, match="finite"):
        run.ingest({**good, ids[0]: np.full((32, 32), np.nan)})
