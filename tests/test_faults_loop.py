"""Killed and damaged loop runs: a SIGKILLed ``latentmine run`` resumes; a corrupt checkpoint falls back."""
import csv
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from loop_toys import ToyLabeller, pool_and_test, rings, trained_vae

from latentmine import models
from latentmine.loop import LoopConfig, SuggestiveLoop
from latentmine.data import save_dataset
from parallel_toys import PACKAGE_PARENT, kill_when, mask_digest, toy_stress

TESTS = Path(__file__).resolve().parent
TIMING = ("label_seconds", "t_propose", "t_gate", "t_label", "t_train", "t_eval")


def sources(tmp_path):
    images, masks = rings(32, seed=3)
    pool = save_dataset(tmp_path / "pool", images[:24], masks[:24], pixel_size_mm=0.1)
    test = save_dataset(tmp_path / "test", images[24:], masks[24:], toy_stress(masks[24:]), pixel_size_mm=0.1)
    vae = models.save_vae(tmp_path / "vae.ckpt", trained_vae())
    return pool, test, vae


def command(*args):
    return [sys.executable, "-m", "latentmine.cli", "run", *map(str, args)]


def environment(log):
    return dict(os.environ, PYTHONPATH=os.pathsep.join([PACKAGE_PARENT, str(TESTS)]),
                LATENTMINE_TEST_LABEL_LOG=str(log), LATENTMINE_TEST_LABEL_DELAY="0.3")


def strip_timing(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def metrics(run):
    with open(run / "metrics.csv") as handle:
        return strip_timing(csv.DictReader(handle))


def labelled_masks(run):
    """Digests of the proposals whose label chunks are on disk, by (round, chunk)."""
    digests = []
    for labels in sorted(run.glob("rounds/r*/labels_*.npz")):
        with np.load(labels.parent / "proposals.npz", allow_pickle=False) as proposals:
            chunk = int(labels.stem.split("_")[1])
            digests += [mask_digest(m) for m in proposals["masks"][2 * chunk:2 * chunk + 2]]
    return digests


def test_a_killed_loop_run_resumes_from_its_last_durable_step(tmp_path):
    pool, test, vae = sources(tmp_path)
    settings = ["--pool", pool, "--test", test, "--vae", vae, "--strategy", "gradient", "--rounds", 1,
                "--per-round", 4, "--initial", 4, "--epochs", 2, "--batch-size", 8, "--threads", 1,
                "--set", "width=8", "--set", "levels=2", "--set", "label_chunk=2",
                "--set", "initial_strategy=random", "--labeller", "parallel_toys:digest_logger"]
    killed, fresh = tmp_path / "killed", tmp_path / "fresh"
    log, fresh_log = tmp_path / "killed.log", tmp_path / "fresh.log"
    errors = (tmp_path / "fresh.err").open("w")
    whole = subprocess.Popen(command(*settings, "--out", fresh), env=environment(fresh_log),  # alongside
                             stdout=subprocess.DEVNULL, stderr=errors)
    kill_when(command(*settings, "--out", killed), environment(log),
              lambda: (killed / "rounds" / "r000" / "labels_000.npz").exists(), timeout=120)
    durable = labelled_masks(killed)
    assert len(durable) == 2 and not (killed / "rounds" / "r001").exists(), "not killed mid-round"
    resumed = subprocess.run(command("--resume", killed, "--threads", 1), env=environment(log),
                             capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout
    assert whole.wait(timeout=180) == 0, (tmp_path / "fresh.err").read_text()
    errors.close()
    assert metrics(killed) == metrics(fresh)  # same seeds, same rounds, same scores
    labelled, reference = Counter(log.read_text().split()), Counter(fresh_log.read_text().split())
    assert all(labelled[d] == 1 for d in durable)  # durable before the kill: never labelled again
    assert set(labelled) == set(reference)  # the same samples in all
    assert sum(labelled.values()) - sum(reference.values()) <= 2  # at most the chunk in flight again


def test_a_run_whose_last_checkpoint_is_corrupt_retrains_from_the_previous_one(tmp_path):
    pool, test = pool_and_test()
    config = LoopConfig(strategy="random", rounds=1, per_round=4, initial=4, epochs=2, width=8, levels=2,
                        batch_size=8)
    first = SuggestiveLoop(trained_vae(), ToyLabeller(), pool=pool, test=test, config=config,
                           run_dir=tmp_path / "run", plots=False).run(progress=False)
    checkpoint = tmp_path / "run" / "checkpoints" / "target.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:-100])  # truncated after round 1 was done
    labeller = ToyLabeller()
    again = SuggestiveLoop(trained_vae(), labeller, pool=pool, test=test, config=config,
                           run_dir=tmp_path / "run", plots=False).run(progress=False)
    assert strip_timing(again) == strip_timing(first)  # retrained from round 0's checkpoint
    assert labeller.calls == 0  # nothing labelled again
