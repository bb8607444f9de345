"""``latentmine label``: files written, summary printed, bad input reported."""
import json

import numpy as np

from latentmine.cli import main
from latentmine.fea.examples import ring_mask


def test_label_writes_png_json_and_npy_for_the_built_in_plaque(tmp_path, capsys):
    assert main(["label", "--size", "48", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "stress.json").read_text())
    entry = summary["masks"][0]
    assert entry["converged"] and 0 < entry["pss_kpa"] <= entry["max_principal_kpa"]
    assert entry["pss_rule"] == "thin-wall"  # the plaque's cap is 2 px at 48 px: thinner than the fit needs
    assert (tmp_path / "stress.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    labels = np.load(tmp_path / "stress.npy")
    assert labels.shape == (1, 48, 48) and labels.max() == np.float32(entry["max_principal_kpa"])
    assert "PSS" in capsys.readouterr().out


def test_label_reads_a_stack_of_masks(tmp_path):
    np.save(tmp_path / "masks.npy", np.stack([ring_mask(32, 6, 12), ring_mask(32, 8, 14)]))
    assert main(["label", "--masks", str(tmp_path / "masks.npy"), "--out", str(tmp_path / "out")]) == 0
    assert len(json.loads((tmp_path / "out" / "stress.json").read_text())["masks"]) == 2


def test_label_reports_bad_input(tmp_path, capsys):
    assert main(["label", "--masks", str(tmp_path / "missing.npy"), "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    open_lumen = ring_mask(32, 6, 12)
    open_lumen[16, 16:] = 1
    np.save(tmp_path / "bad.npy", open_lumen)
    assert main(["label", "--masks", str(tmp_path / "bad.npy"), "--out", str(tmp_path)]) == 2
    assert "lumen is open" in capsys.readouterr().err
    assert not (tmp_path / "stress.json").exists()
