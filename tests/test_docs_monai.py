"""The MONAI example of docs/cohort.md, run as it is written (skipped without MONAI)."""
import os
import re
import subprocess
import sys
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


def test_the_documented_monai_dataloader_runs_and_prints_what_the_doc_says(tmp_path):
    files = write_example_pullback(tmp_path / "data" / "example", n=4, size=256)
    ds = import_dicom(files["dicom"], masks=files["masks"], size=128)  # the doc's data/mine-128
    save_dataset(tmp_path / "data" / "mine-128", ds.images, ds.masks, pixel_size_mm=ds.pixel_size_mm, ids=ds.ids,
                 meta=ds.manifest["meta"])
    block = _monai_block()
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(DOC.parents[1] / "python"),
                                                              os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    printed = [line for line in done.stdout.splitlines() if line.startswith("torch.Size")]
    documented = [line.lstrip("# ") for line in block.splitlines() if line.startswith("# torch.Size")]
    assert printed == documented
