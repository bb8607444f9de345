"""The loop on any task: a user's own task from docs/loop.md, the built-in tasks, starvation and the gate."""
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from loop_toys import ToyLabeller, pool_and_test, trained_vae

from latentmine import loop, models, sampling, tasks
from latentmine.errors import Starvation
from latentmine.loop import LoopConfig, SuggestiveLoop
from latentmine.tasks import shapes

torch.set_num_threads(1)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "loop.md"
TINY = dict(rounds=1, per_round=4, initial=4, initial_strategy="random", epochs=2, width=4, levels=2, batch_size=8)


def custom_task_example() -> str:
    text = DOCS.read_text()
    section = text[text.index("**Your own task.**"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_custom_task_of_the_docs_is_under_40_lines_and_acquires_with_random_and_gradient(capsys):
    code = custom_task_example()
    assert len(code.strip().splitlines()) < 40
    namespace = {}
    exec(compile(code, str(DOCS), "exec"), namespace)
    runs, brightness = namespace["runs"], namespace["brightness"]
    for strategy, run in runs.items():
        assert [row["n_train"] for row in run.metrics] == [4, 8, 12]
        np.testing.assert_allclose(run.train_set.labels, brightness(run.train_set.images, None, None), rtol=1e-6)
        assert all(np.isfinite(row["test_mse"]) for row in run.metrics)
    stepped = [p for p in runs["gradient"].provenance if p["round"] > 0]
    earlier = {p["id"]: p["round"] for p in runs["gradient"].provenance}
    assert stepped and all(p["pool_index"] == -1 and earlier[p["parent_id"]] < p["round"] for p in stepped)
    assert all(p["pool_index"] >= 0 for p in runs["random"].provenance)
    assert "gradient [" in capsys.readouterr().out


def shape_split(data, n_pool):
    pool = loop.Samples(data.images[:n_pool], data.masks[:n_pool], data.ids[:n_pool])
    test = loop.Samples(data.images[n_pool:], data.masks[n_pool:], data.ids[n_pool:])
    return pool, test


def shape_vae(data, n_pool):
    return models.train_vae(data.images[:n_pool], data.masks[:n_pool], latent_dim=6, width=4, epochs=8,
                            mask_classes=0, progress=False)


def test_classification_acquires_decoded_images_labelled_by_the_counting_tool(tmp_path):
    task = tasks.get_task("classification")
    data = task.generate(40, 16, 0)
    pool, test = shape_split(data, 32)
    config = LoopConfig(strategy="gradient", **TINY)
    run = SuggestiveLoop(shape_vae(data, 32), task.default_labeller(data), pool=pool, test=test, config=config,
                         run_dir=tmp_path / "run", task="classification", plots=True)
    rows = run.run(progress=False)
    assert [row["n_train"] for row in rows] == [4, 8] and 0.0 <= rows[-1]["test_accuracy"] <= 1.0
    np.testing.assert_array_equal(run.train_set.labels, shapes.count_blobs(run.train_set.images))
    assert run.train_set.labels.dtype == np.int64 and any(p["pool_index"] == -1 for p in run.provenance)
    assert (tmp_path / "run" / "plots" / "r001_acquired.png").stat().st_size > 1000
    again = SuggestiveLoop(shape_vae(data, 32), task.default_labeller(data), pool=pool, test=test, config=config,
                           run_dir=tmp_path / "run", task="classification")
    np.testing.assert_array_equal(again.train_set.labels, run.train_set.labels)  # acquired_labels/rNNN.npy reloaded
    with pytest.raises(ValueError, match="different task"):
        SuggestiveLoop(shape_vae(data, 32), None, pool=pool, test=test, config=config, run_dir=tmp_path / "run",
                       task="segmentation")


def test_segmentation_labels_real_samples_by_oracle_and_gradient_starves_with_a_clear_reason(tmp_path):
    task = tasks.get_task("segmentation")
    data = task.generate(40, 16, 1)
    pool, test = shape_split(data, 32)
    vae, oracle = shape_vae(data, 32), task.default_labeller(data)
    run = SuggestiveLoop(vae, oracle, pool=pool, test=test, config=LoopConfig(strategy="gradient-nn", **TINY),
                         run_dir=tmp_path / "nn", task=task)
    rows = run.run(progress=False)
    truth = dict(zip(data.ids, data.truth))
    np.testing.assert_array_equal(run.train_set.labels, np.stack([truth[i] for i in run.train_set.ids]))
    assert 0.0 <= rows[-1]["test_dice"] <= 1.0 and rows[-1]["rejected"] == 0
    starving = SuggestiveLoop(vae, oracle, pool=pool, test=test, config=LoopConfig(strategy="gradient", **TINY),
                              run_dir=tmp_path / "grad", task=task)
    with pytest.raises(Starvation, match=r"task 'segmentation', round 1, strategy 'gradient': the validity gate "
                                         r"rejected all 40 proposal\(s\) in 10 attempt\(s\) \(reasons: "
                                         r"\{'synthetic': 40\}\); nothing was labelled and F was not trained"):
        starving.run(progress=False)
    assert [row["round"] for row in starving.metrics] == [0] and len(starving.train_set) == 4
    assert starving.store.state() == (0, "done")  # nothing of round 1 was stored


def reject_all(proposals, config):
    return np.zeros(len(proposals), bool), Counter({"never": len(proposals)})


def test_a_gate_that_rejects_everything_starves_round_zero_and_the_bypass_acquires(tmp_path):
    pool, test = pool_and_test()
    strict = tasks.Task(**{**tasks.get_task("ivus-stress").__dict__, "gate": reject_all})
    config = LoopConfig(strategy="gradient", rounds=1, per_round=4, initial=4, epochs=1, width=4, levels=2)
    run = SuggestiveLoop(trained_vae(), ToyLabeller(), pool=pool, test=test, config=config, task=strict)
    with pytest.raises(Starvation, match=r"round 0, strategy 'latent-random': .*\{'never': 40\}"):
        run.run(progress=False)
    assert run.metrics == [] and len(run.train_set) == 0  # F never trained on an empty set
    bypass = SuggestiveLoop(trained_vae(), ToyLabeller(), pool=pool, test=test, config=config,
                            task=strict.without_gate())
    rows = bypass.run(progress=False)
    assert [row["n_train"] for row in rows] == [4, 8] and all(row["rejected"] == 0 for row in rows)


def test_a_gate_rejecting_a_real_pool_sample_is_reported_as_such(tmp_path):
    pool, test = pool_and_test()
    picky_ids = set(pool.ids[::2])

    def picky(proposals, config):  # rejects every other real sample
        passed = np.array([i < 0 or pool.ids[i] not in picky_ids for i in proposals.pool_index])
        return passed, Counter({"picky": int((~passed).sum())})

    task = tasks.Task(**{**tasks.get_task("ivus-stress").__dict__, "gate": picky})
    config = LoopConfig(strategy="random", rounds=1, per_round=4, initial=4, epochs=1, width=4, levels=2)
    run = SuggestiveLoop(trained_vae(), ToyLabeller(), pool=pool, test=test, config=config, task=task,
                         run_dir=tmp_path / "run")
    with pytest.warns(UserWarning, match=r"the validity gate rejected \d+ real pool sample\(s\)"):
        rows = run.run(progress=False)
    assert all(row["rejected_real"] == row["rejected"] > 0 for row in rows)
    _, meta = run.store.load_proposals(1)
    assert meta["rejected_real"] and set(meta["rejected_real"]) <= picky_ids
    assert not set(run.train_set.ids) & picky_ids


def test_a_labeller_of_the_wrong_kind_is_refused_naming_the_task(tmp_path):
    pool, test = pool_and_test()
    with pytest.raises(ValueError, match=r"task 'ivus-stress': the labeller returned shape \(8,\) .*expected "
                                         r"dense labels: finite float map, shape \(8, 32, 32\)"):
        SuggestiveLoop(trained_vae(), lambda masks: np.zeros(len(masks)), pool=pool, test=test,
                       config=LoopConfig(**{**TINY, "width": 4}))


def test_a_task_without_masks_refuses_a_mask_input(tmp_path):
    pool, test = pool_and_test()
    with pytest.raises(ValueError, match="task 'classification' needs LoopConfig.input_mode='image'"):
        SuggestiveLoop(trained_vae(), None, pool=pool, test=test, config=LoopConfig(input_mode="both"),
                       task="classification")


@pytest.mark.parametrize("name", ["classification", "segmentation"])
def test_image_tasks_refuse_the_wall_priors_and_studies_switch_them_off(name):
    with pytest.raises(ValueError, match=f"task '{name}' needs LoopConfig.priors='none', got 'depth'"):
        tasks.get_task(name).check_config(LoopConfig(input_mode="image", priors="depth"))
    from latentmine.study import preset
    assert preset("default").loop["priors"] != "none"
    assert preset("default").for_task(name).loop["priors"] == "none"


def test_strategies_see_the_task_through_the_context_only():
    for path in Path(sampling.__file__).parent.glob("*.py"):
        imports = re.findall(r"^\s*(?:from|import)\s+([.\w]+)", path.read_text(), re.M)
        assert not [m for m in imports if re.search(r"(^|\.)(fea|labels|tasks)(\.|$)", m)], path.name
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ctx = sampling.Context(None, None, None, 1.0, None, None, [], np.ones(0, bool), None, None, None, [], None)
    with pytest.raises(ValueError, match="needs Context.task"):
        ctx.valid(None)
