"""Importing a DICOM pullback: 2,000 frames of 512 x 512, resampled to 256 x 256 (target <= 20 s).

    PYTHONPATH=python .venv/bin/python -m pytest benchmarks/bench_io.py \
        --benchmark-json benchmarks/results/io.json

The pullback is a real multi-frame ultrasound DICOM file written with pydicom
(8 phantom B-mode frames at 512 x 512, 0.0155 mm pixels, cycled to 2,000
frames) with its masks in a ``.npy`` file. ``latentmine.data.import_dicom``
decodes, converts and resamples every frame, resamples every mask and checks
it against the labelling tool's rules. The peer is the least a script would
do: ``pydicom.dcmread(...).pixel_array`` and one Pillow resize per image and
mask, with no checks at all, in the same session and the same rounds. Each
case records frames per second (median round), CPU seconds of a round (all
threads) and the load average before and after, because the machine is shared.
"""
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pydicom", reason="the io extra (pydicom) is not installed")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from medical_files import write_dicom  # noqa: E402

FRAMES, NATIVE, SIZE = 2000, 512, 256
_seconds = {}


@pytest.fixture(scope="module")
def pullback(tmp_path_factory):
    from latentmine.phantoms import generate

    folder = tmp_path_factory.mktemp("pullback")
    cohort = generate(8, size=NATIVE, seed=0)
    cycle = np.arange(FRAMES) % len(cohort)
    write_dicom(folder / "pullback.dcm", np.round(cohort.images[cycle] * 255).astype(np.uint8),
                pixel_spacing=(cohort.pixel_size_mm, cohort.pixel_size_mm))
    np.save(folder / "masks.npy", cohort.masks[cycle])
    return folder / "pullback.dcm", folder / "masks.npy"


def _bench(benchmark, name, run, rounds=3):
    cpu, load_before = [], os.getloadavg()

    def timed():
        start = time.process_time()
        result = run()
        cpu.append(time.process_time() - start)
        return result

    images, masks = benchmark.pedantic(timed, rounds=rounds, iterations=1)
    assert images.shape == (FRAMES, SIZE, SIZE) and masks.shape == (FRAMES, SIZE, SIZE)
    median = benchmark.stats.stats.median
    _seconds[name] = median
    benchmark.extra_info.update(frames=FRAMES, native=NATIVE, size=SIZE, seconds_per_import=median,
                                frames_per_s=FRAMES / median, cpu_seconds_median=float(np.median(cpu)),
                                loadavg_before=load_before, loadavg_after=os.getloadavg(), cpu_count=os.cpu_count())
    return images, masks


@pytest.mark.benchmark(group="dicom-import")
def test_pydicom_and_pillow_without_checks_peer(benchmark, pullback):
    import pydicom
    from PIL import Image

    file, masks_file = pullback

    def run():
        pixels, masks = pydicom.dcmread(file).pixel_array, np.load(masks_file)
        images = np.empty((FRAMES, SIZE, SIZE), np.float32)
        small = np.empty((FRAMES, SIZE, SIZE), np.uint8)
        for i in range(FRAMES):
            frame = Image.fromarray(pixels[i].astype(np.float32) / 255, mode="F")
            images[i] = np.asarray(frame.resize((SIZE, SIZE), Image.Resampling.BILINEAR))
            small[i] = np.asarray(Image.fromarray(masks[i]).resize((SIZE, SIZE), Image.Resampling.NEAREST))
        return images, small

    _bench(benchmark, "peer", run)


@pytest.mark.benchmark(group="dicom-import")
def test_import_dicom(benchmark, pullback):
    from latentmine.data import import_dicom

    file, masks_file = pullback
    dataset = None

    def run():
        nonlocal dataset
        dataset = import_dicom(file, masks=masks_file, size=SIZE)
        return dataset.images, dataset.masks

    _bench(benchmark, "import_dicom", run)
    assert dataset.pixel_size_mm == pytest.approx(2 * 0.0155, rel=1e-3) and len(dataset) == FRAMES
    benchmark.extra_info["target_seconds"] = 20.0
    if "peer" in _seconds:
        benchmark.extra_info["seconds_vs_peer"] = _seconds["import_dicom"] / _seconds["peer"]
