"""Faults: corrupt and truncated checkpoints, unsafe payloads, escaping manifests, killed runs."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from latentmine import storage
from latentmine.data import load_dataset, save_dataset
from latentmine.parallel import label_many
from latentmine.storage import CheckpointError, load_checkpoint, save_checkpoint
from parallel_toys import PACKAGE_PARENT, ToyLabeller, kill_when, toy_masks, toy_stress

ROOT = Path(__file__).resolve().parents[1]

# --- checkpoints ---------------------------------------------------------------------------


def two_checkpoints(tmp_path):
    path = tmp_path / "model.ckpt"
    save_checkpoint(path, {"step": 1, "w": torch.arange(4.0)})
    save_checkpoint(path, {"step": 2, "w": torch.arange(4.0) * 2})
    return path


def test_saving_keeps_the_previous_good_checkpoint(tmp_path):
    path = two_checkpoints(tmp_path)
    assert load_checkpoint(path)["step"] == 2
    assert load_checkpoint(path.with_name("model.ckpt.prev"))["step"] == 1


@pytest.mark.parametrize("damage", ["truncate-payload", "truncate-header", "flip-byte", "empty", "delete"])
def test_a_damaged_checkpoint_is_a_clear_error_and_the_previous_one_loads(tmp_path, damage):
    path = two_checkpoints(tmp_path)
    blob = path.read_bytes()
    if damage == "truncate-payload":
        path.write_bytes(blob[:len(blob) - 100])
    elif damage == "truncate-header":
        path.write_bytes(blob[:40])
    elif damage == "flip-byte":
        path.write_bytes(blob[:-50] + bytes([blob[-50] ^ 0x01]) + blob[-49:])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
    with pytest.raises(CheckpointError, match="does not exist" if damage == "delete" else "corrupt") as error:
        load_checkpoint(path)
    assert str(path) in str(error.value)
    previous = load_checkpoint(path, fallback=True)
    assert previous["step"] == 1 and torch.equal(previous["w"], torch.arange(4.0))


def test_saving_over_a_corrupt_checkpoint_keeps_the_good_previous_one(tmp_path):
    path = two_checkpoints(tmp_path)
    path.write_bytes(path.read_bytes()[:-10])
    save_checkpoint(path, {"step": 3})
    assert load_checkpoint(path)["step"] == 3
    assert load_checkpoint(path.with_name("model.ckpt.prev"))["step"] == 1  # not the corrupt one


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = storage.atomic_write_text(tmp_path / "state.json", "old")

    def crash(*_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        storage.atomic_write_text(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["state.json"]


class Exploit:
    """Unpickling this would run code: it must never be unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_checkpoint_with_a_valid_checksum_but_arbitrary_objects_is_refused(tmp_path):
    marker = tmp_path / "code-ran"
    path = save_checkpoint(tmp_path / "evil.ckpt", {"payload": Exploit(marker)})  # checksum matches
    with pytest.raises(CheckpointError, match="could not be read safely"):
        load_checkpoint(path)
    assert not marker.exists()


# --- datasets ------------------------------------------------------------------------------


def small_dataset(tmp_path):
    masks = toy_masks(3, size=8)
    return save_dataset(tmp_path / "set", masks.astype(np.float32) / 4, masks, pixel_size_mm=0.05)


def rewrite_manifest(folder, key, name):
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["chunks"][0][key] = name
    manifest_path.write_text(json.dumps(manifest))


@pytest.mark.parametrize("name", ["../outside.npy", "sub/../../outside.npy", "/etc/passwd", "link.npy"])
def test_a_manifest_path_cannot_escape_the_dataset_folder(tmp_path, name):
    folder = small_dataset(tmp_path)
    outside = tmp_path / "outside.npy"
    np.save(outside, np.zeros((3, 8, 8), np.uint8))
    (folder / "link.npy").symlink_to(outside)
    rewrite_manifest(folder, "masks", name)
    with pytest.raises(ValueError, match="escapes the dataset folder|outside the dataset folder") as error:
        load_dataset(folder)
    assert "manifest.json" in str(error.value)


@pytest.mark.parametrize("damage", ["pickled", "truncated"])
def test_a_damaged_array_in_a_dataset_is_refused_by_name(tmp_path, damage):
    folder = small_dataset(tmp_path)
    marker = tmp_path / "code-ran"
    if damage == "pickled":
        np.save(folder / "masks.npy", np.array([Exploit(marker)], dtype=object), allow_pickle=True)
    else:
        (folder / "masks.npy").write_bytes((folder / "masks.npy").read_bytes()[:-20])
    with pytest.raises(ValueError, match="masks.npy"):
        load_dataset(folder)
    assert not marker.exists()


# --- labelling journal and killed runs -----------------------------------------------------


def label_counts(log_dir, n):
    return [len((log_dir / str(i)).read_text().splitlines()) if (log_dir / str(i)).exists() else 0
            for i in range(n)]


def test_a_journal_relabels_only_missing_and_corrupt_chunks(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    masks, log = toy_masks(12), tmp_path / "log"
    log.mkdir()
    options = dict(executor=ThreadPoolExecutor(1), chunk_size=3, journal=tmp_path / "journal", progress=False)
    first = label_many(masks, ToyLabeller(log_dir=log), **options)
    parts = sorted((tmp_path / "journal").glob("part-*.ckpt"))
    assert [p.name for p in parts] == [f"part-{i:07d}-00003.ckpt" for i in (0, 3, 6, 9)]
    parts[1].write_bytes(parts[1].read_bytes()[:-7])  # truncated: samples 3..5 again
    parts[3].unlink()                                 # never written: samples 9..11 again
    with pytest.warns(RuntimeWarning, match="part-0000003-00003.ckpt is truncated or corrupt"):
        again = label_many(masks, ToyLabeller(log_dir=log), **options)
    assert label_counts(log, 12) == [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2]
    np.testing.assert_array_equal(again.stress, first.stress)
    assert again.status.tolist() == ["ok"] * 12
    with pytest.raises(ValueError, match="written for other masks"):
        label_many(masks[:6], ToyLabeller(), **options)


DRIVER = """
import sys
import numpy as np
from latentmine.parallel import LocalProcessPool, label_many
from parallel_toys import ToyLabeller, toy_masks

if __name__ == "__main__":
    journal, log, out = sys.argv[1:4]
    with LocalProcessPool(2) as pool:
        batch = label_many(toy_masks(16), ToyLabeller(log_dir=log, delay=0.05), executor=pool,
                           chunk_size=2, journal=journal, progress=False)
    np.save(out, batch.stress)
"""


def test_a_killed_labelling_run_resumes_without_relabelling_durable_samples(tmp_path):
    driver, journal, log, out = tmp_path / "driver.py", tmp_path / "journal", tmp_path / "log", tmp_path / "out.npy"
    driver.write_text(DRIVER)
    log.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PACKAGE_PARENT, str(ROOT / "tests")]))
    command = [sys.executable, str(driver), str(journal), str(log), str(out)]
    kill_when(command, env, lambda: list(journal.glob("part-*.ckpt")))
    durable = sorted(journal.glob("part-*.ckpt"))
    assert durable and not out.exists(), "the run was not killed mid-way"
    kept = np.concatenate([load_checkpoint(p)["indices"].numpy() for p in durable])
    before = label_counts(log, 16)
    assert subprocess.run(command, env=env, timeout=120).returncode == 0
    after = label_counts(log, 16)
    np.testing.assert_array_equal(np.load(out), toy_stress(toy_masks(16)))
    assert all(after[i] == before[i] == 1 for i in kept)  # durable samples never labelled again
    assert min(after) == 1
    assert sum(after) - 16 <= sum(before) - len(kept)  # only in-flight work was repeated


STUDY_DRIVER = """
import os, sys, time
from latentmine.parallel import LocalProcessPool
from latentmine.storage import atomic_write_json
from latentmine.study import preset, run_study
from latentmine.study.runner import cell_path, cohort_marker


def prepare(config, cohort, out):
    atomic_write_json(cohort_marker(out, cohort), {"config_digest": config.digest()})


def cell(config, strategy, repeat, out):
    with open(os.path.join(out, "executions.log"), "a") as log:
        log.write(f"{strategy} {repeat}\\n")
    time.sleep(0.25)
    atomic_write_json(cell_path(out, strategy, repeat), {
        "config_digest": config.digest(), "strategy": strategy, "repeat": repeat,
        "value": repeat * 100 + len(strategy)})


if __name__ == "__main__":
    config = preset("smoke").with_overrides({"repeats": "4"})
    with LocalProcessPool(2) as pool:
        cells = run_study(config, sys.argv[1], cell_fn=cell, prepare_fn=prepare, executor=pool,
                          progress=False)
    print(sorted((c["strategy"], c["repeat"], c["value"]) for c in cells))
"""


def test_a_killed_study_resumes_without_recomputing_finished_cells(tmp_path):
    driver, out, fresh = tmp_path / "study_driver.py", tmp_path / "study", tmp_path / "fresh"
    driver.write_text(STUDY_DRIVER)
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    kill_when([sys.executable, str(driver), str(out)], env, lambda: list(out.glob("cells/*.json")))
    finished = {p.stem for p in out.glob("cells/*.json")}
    assert finished and len(finished) < 8, "the study was not killed mid-way"
    resumed = subprocess.run([sys.executable, str(driver), str(out)], env=env, capture_output=True,
                             text=True, timeout=120)
    uninterrupted = subprocess.run([sys.executable, str(driver), str(fresh)], env=env,
                                   capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0 and resumed.stdout == uninterrupted.stdout
    executions = (out / "executions.log").read_text().splitlines()
    counts = {line.replace(" ", "-r"): executions.count(line) for line in set(executions)}
    assert all(counts[name] == 1 for name in finished)  # finished before the kill: never run again
    assert sorted(counts) == sorted(p.stem for p in (fresh / "cells").glob("*.json"))  # each cell ran
