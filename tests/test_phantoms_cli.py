"""``latentmine phantoms``: dataset + contact sheet, refusal to clobber, labelling plumbing."""
import json

import numpy as np
import pytest

from latentmine.cli import main
from latentmine.cli import phantoms as command
from latentmine.data import load_dataset
from latentmine.labels import TISSUES, Label


class ConstantHoopLabeller:
    """Stands in for the FE labeller: 120 kPa in every wall pixel, 0 elsewhere."""

    def __call__(self, masks):
        return np.where(np.isin(masks, TISSUES), 120.0, 0.0).astype(np.float32)


def test_writes_a_dataset_and_a_contact_sheet(tmp_path, capsys):
    out = tmp_path / "cohort"
    assert main(["phantoms", "--n", "6", "--size", "64", "--seed", "2", "--out", str(out),
                 "--param", "lipid_probability=1.0", "--param", "plaque_burden=[0.6, 0.8]"]) == 0
    ds = load_dataset(out)
    assert ds.images.shape == (6, 64, 64) and ds.stress is None
    assert ds.manifest["meta"]["seed"] == 2 and ds.manifest["meta"]["params"]["lipid_probability"] == 1.0
    assert ds.manifest["meta"]["command"] == ("latentmine phantoms --n 6 --size 64 --seed 2 --param "
                                              "'lipid_probability=1.0' --param 'plaque_burden=[0.6, 0.8]'")
    assert ds.provenance[0]["source"] == "phantom" and "plaque_burden" in ds.provenance[0]["anatomy"]
    assert (out / "contact_sheet.png").stat().st_size > 1000
    assert "6 phantoms of 64x64 px" in capsys.readouterr().out


def test_refuses_to_replace_a_dataset_without_overwrite(tmp_path, capsys):
    out = tmp_path / "cohort"
    assert main(["phantoms", "--n", "3", "--size", "64", "--out", str(out)]) == 0
    before = (out / "images.npy").read_bytes()
    assert main(["phantoms", "--n", "4", "--size", "64", "--out", str(out)]) == 2
    assert "already holds a dataset" in capsys.readouterr().err
    assert (out / "images.npy").read_bytes() == before
    assert main(["phantoms", "--n", "4", "--size", "64", "--out", str(out), "--overwrite"]) == 0
    assert len(load_dataset(out)) == 4


@pytest.mark.parametrize("argv, message", [
    (["--param", "nonsense"], "NAME=VALUE"),
    (["--param", "plaque_burden=(1,2)"], "must be JSON"),
    (["--param", "wobble=1"], "unknown phantom parameter"),
    (["--size", "32"], "at least 64"),
])
def test_bad_arguments_are_clean_errors(tmp_path, capsys, argv, message):
    assert main(["phantoms", "--n", "2", "--out", str(tmp_path / "x"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_label_stores_stress_and_summarises_pss(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(command, "_make_labeller", lambda pixel_size_mm: ConstantHoopLabeller())
    out = tmp_path / "labelled"
    assert main(["phantoms", "--n", "4", "--size", "64", "--out", str(out), "--label", "--workers", "1"]) == 0
    ds = load_dataset(out)
    wall = np.isin(ds.masks, TISSUES)
    assert np.all(ds.stress[wall] == 120.0) and np.all(ds.stress[~wall] == 0.0)
    labelling = ds.manifest["meta"]["labelling"]
    assert labelling["labelled"] == 4 and labelling["pss_kpa_percentiles"]["median"] == 120.0
    assert labelling["share_within_literature"] == 1.0
    assert all(p["anatomy"]["pss_kpa"] == 120.0 for p in ds.provenance)
    assert "PSS kPa" in capsys.readouterr().out
    json.dumps(ds.manifest)


def test_summary_pss_is_the_labellers_own(tmp_path):
    from latentmine.fea import Labeller
    from latentmine.phantoms import generate

    out = tmp_path / "labelled"
    assert main(["phantoms", "--n", "3", "--size", "64", "--seed", "3", "--out", str(out), "--label",
                 "--workers", "1"]) == 0
    cohort = generate(3, size=64, seed=3)
    labeller = Labeller(cohort.pixel_size_mm)
    labeller(cohort.masks)
    provenance = load_dataset(out).provenance
    np.testing.assert_allclose([p["anatomy"]["pss_kpa"] for p in provenance], labeller.last_result.pss, rtol=1e-6)
    assert [p["anatomy"]["pss_rule"] for p in provenance] == list(labeller.last_result.pss_rule)
