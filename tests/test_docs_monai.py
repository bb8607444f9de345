"""The MONAI example of docs/cohort.md, run as it is written (skipped without MONAI)."""
import re
from pathlib import Path

import pytest

pytest.importorskip("nibabel", reason="the io extra (nibabel) is not installed")
pytest.importorskip("monai", reason="the monai extra is not installed")

from latentmine.data import import_dicom, save_dataset  # noqa: E402
from latentmine.data.examples import write_example_pullback  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "cohort.md"


def _monai_block() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("Feeding a MONAI `Dataset` and `DataLoader`")
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def test_the_documented_monai_dataloader_runs_and_prints_what_the_doc_says(tmp_path, monkeypatch, capsys):
    files = write_example_pullback(tmp_path / "data" / "example", n=4, size=256)
    ds = import_dicom(files["dicom"], masks=files["masks"], size=128)  # the doc's data/mine-128
    save_dataset(tmp_path / "data" / "mine-128", ds.images, ds.masks, pixel_size_mm=ds.pixel_size_mm, ids=ds.ids,
                 meta=ds.manifest["meta"])
    block = _monai_block()
    monkeypatch.chdir(tmp_path)
    exec(compile(block, str(DOC), "exec"), {"__name__": "docs_example"})  # in this process: MONAI is imported once
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("torch.Size")]
    documented = [line.lstrip("# ") for line in block.splitlines() if line.startswith("# torch.Size")]
    assert printed == documented and len(printed) == 1
