"""DICOM pullbacks in: spacing tags, grey conversion, resampling, polar frames, masks, bad input."""
import numpy as np
import pytest

pytest.importorskip("pydicom", reason="the io extra (pydicom) is not installed")

from latentmine.data import import_dicom, load_dataset  # noqa: E402
from latentmine.data.grid import square_grid  # noqa: E402
from latentmine.fea.examples import ring_mask  # noqa: E402
from latentmine.fea.validate import mask_problems  # noqa: E402
from latentmine.labels import Label  # noqa: E402
from medical_files import USER_CODES, pullback, user_codes, write_dicom  # noqa: E402


def test_multiframe_with_pixel_spacing_keeps_every_grey_level_and_mask(tmp_path):
    frames, masks = pullback(4)
    file = write_dicom(tmp_path / "run.dcm", frames, pixel_spacing=(0.05, 0.05), pullback_rate=0.5, frame_time=33.3)
    ds = import_dicom(file, masks=masks)
    assert ds.pixel_size_mm == 0.05 and ds.ids == [f"run-f{i:05d}" for i in range(4)]
    np.testing.assert_allclose(ds.images, frames / 255.0, atol=1e-6)
    assert np.array_equal(ds.masks, masks)
    meta = ds.manifest["meta"]
    assert meta["spacing_from"].startswith("PixelSpacing") and meta["frame_spacing_mm"] == pytest.approx(0.5 * 0.0333)
    assert [p["frame"] for p in ds.provenance] == [0, 1, 2, 3] and ds.provenance[0]["file"] == str(file)


def test_missing_spacing_is_refused_unless_given(tmp_path):
    frames, masks = pullback(2)
    file = write_dicom(tmp_path / "bare.dcm", frames)
    with pytest.raises(ValueError, match=r"bare\.dcm: no pixel spacing.*pixel_size_mm"):
        import_dicom(file, masks=masks)
    assert import_dicom(file, masks=masks, pixel_size_mm=0.04).pixel_size_mm == 0.04


def test_ultrasound_region_deltas_are_cm(tmp_path):
    frames, masks = pullback(2)
    ds = import_dicom(write_dicom(tmp_path / "us.dcm", frames, regions=[(0.004, 0.004)]), masks=masks)
    assert ds.pixel_size_mm == pytest.approx(0.04) and "PhysicalDelta" in ds.manifest["meta"]["spacing_from"]
    with pytest.raises(ValueError, match=r"two\.dcm: ultrasound regions .* different physical deltas"):
        import_dicom(write_dicom(tmp_path / "two.dcm", frames, regions=[(0.004, 0.004), (0.01, 0.01)]), masks=masks)


def test_anisotropic_pixels_need_a_square_grid(tmp_path):
    size = 32
    frames = np.zeros((1, size, 2 * size), np.uint8)
    rows, cols = np.mgrid[0:size, 0:2 * size]
    ellipse = ((rows + 0.5 - size / 2) * 0.1) ** 2 + ((cols + 0.5 - size) * 0.05) ** 2  # a circle in mm
    mask = np.where(ellipse < 0.9 ** 2, Label.LUMEN, np.where(ellipse < 1.5 ** 2, Label.FIBROUS, Label.OUTSIDE))
    file = write_dicom(tmp_path / "aniso.dcm", frames, pixel_spacing=(0.1, 0.05))
    with pytest.raises(ValueError, match=r"aniso\.dcm: pixels are not square.*size"):
        import_dicom(file, masks=mask[None])
    ds = import_dicom(file, masks=mask[None], size=32)
    assert ds.pixel_size_mm == pytest.approx(0.1) and ds.masks.shape == (1, 32, 32)
    lumen_rows, lumen_cols = np.nonzero(ds.masks[0] == Label.LUMEN)
    assert np.ptp(lumen_rows) == np.ptp(lumen_cols)  # round again on square pixels
    assert (ds.masks[0] == Label.LUMEN).sum() == pytest.approx(np.pi * 9 ** 2, rel=0.1)


def test_rgb_frames_become_their_bt601_luminance(tmp_path):
    rng = np.random.default_rng(1)
    colour = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    masks = np.stack([ring_mask(16, 3, 6)] * 2)
    ds = import_dicom(write_dicom(tmp_path / "rgb.dcm", colour, photometric="RGB", pixel_spacing=(0.1, 0.1)), masks=masks)
    expected = (0.299 * colour[..., 0] + 0.587 * colour[..., 1] + 0.114 * colour[..., 2]) / 255
    np.testing.assert_allclose(ds.images, expected, atol=1e-5)
    grey, _ = pullback(2, 16)
    as_rgb = np.repeat(grey[..., None], 3, axis=-1)  # B-mode stored as R = G = B
    ds = import_dicom(write_dicom(tmp_path / "bmode.dcm", as_rgb, photometric="RGB", pixel_spacing=(0.1, 0.1)),
                      masks=masks)
    np.testing.assert_allclose(ds.images, grey / 255, atol=1e-6)


def test_monochrome1_is_inverted_and_bits_stored_sets_the_scale(tmp_path):
    frames = np.array([[[0, 1023], [512, 100]]], np.uint16)
    mask = np.zeros((1, 2, 2), np.uint8)
    file = write_dicom(tmp_path / "m1.dcm", frames, photometric="MONOCHROME1", pixel_spacing=(0.1, 0.1), bits=10)
    ds = import_dicom(file, masks=mask, invalid="keep")
    np.testing.assert_allclose(ds.images[0], 1 - frames[0] / 1023, atol=1e-6)


def test_resampling_to_a_square_grid_follows_the_grid_map(tmp_path):
    rows, cols = 40, 64
    ramp = np.tile(np.round(np.linspace(0, 252, cols)).astype(np.uint8), (rows, 1))[None]
    mask = np.zeros((1, rows, cols), np.uint8)
    mask[0, 8:32, 12:52] = Label.FIBROUS
    mask[0, 14:26, 24:40] = Label.LUMEN
    ds = import_dicom(write_dicom(tmp_path / "wide.dcm", ramp, pixel_spacing=(0.05, 0.05)), masks=mask, size=32)
    grid = square_grid((rows, cols), (0.05, 0.05), 32)
    assert ds.pixel_size_mm == pytest.approx(0.1) and grid.scale == (0.5, 0.5)
    # native column c lands at c * 0.5 + offset; the ramp is linear, so interior values match exactly
    out_cols = np.arange(4, 28)
    native = (out_cols - grid.offset[1]) / grid.scale[1]
    np.testing.assert_allclose(ds.images[0, 16, out_cols], np.interp(native, np.arange(cols), ramp[0, 0] / 255),
                               atol=2e-3)
    assert grid.padding[:2] == (12, 12) and np.all(ds.images[0, :5] == 0)  # the black band above the frame
    assert ds.manifest["meta"]["grid"]["shape"] == [32, 32]


def test_polar_frames_scan_convert_to_rings_with_the_right_radii_and_angles(tmp_path):
    n_angles, n_radii, dr = 64, 16, 0.05
    polar = np.full((n_angles, n_radii), Label.OUTSIDE, np.uint8)
    polar[:, :12] = Label.FIBROUS
    polar[:, :5] = Label.LUMEN
    polar[:8, 7:10] = Label.LIPID  # A-lines 0-7: the first 45 degrees clockwise from 3 o'clock
    image = (polar * 40).astype(np.uint8)[None]
    ds = import_dicom(write_dicom(tmp_path / "polar.dcm", image), masks=polar[None], polar=True,
                      pixel_size_mm=dr, size=32)
    mask = ds.masks[0]
    assert ds.pixel_size_mm == pytest.approx(dr) and mask_problems(mask) == []
    assert (mask == Label.LUMEN).sum() == pytest.approx(np.pi * 5 ** 2, rel=0.12)
    assert np.isin(mask, [Label.LUMEN, Label.FIBROUS, Label.LIPID]).sum() == pytest.approx(np.pi * 12 ** 2, rel=0.06)
    r, c = np.nonzero(mask == Label.LIPID)
    angles = np.degrees(np.arctan2(r - 15.5, c - 15.5))
    assert angles.min() > -3 and angles.max() < 48  # below 3 o'clock on screen, within the 45-degree sector


def test_folder_of_single_frame_files_in_instance_order(tmp_path):
    frames, masks = pullback(3)
    folder = tmp_path / "series"
    folder.mkdir()
    for i in range(3):  # file names in the opposite order to the Instance Numbers
        write_dicom(folder / f"img{9 - i}.dcm", frames[i:i + 1], pixel_spacing=(0.05, 0.05), instance=i + 1)
    (folder / "README.txt").write_text("not DICOM")
    ds = import_dicom(folder, masks=masks)
    np.testing.assert_allclose(ds.images, frames / 255.0, atol=1e-6)
    assert ds.provenance[0]["file"].endswith("img9.dcm")


def test_masks_must_match_frames_and_codes_need_a_remap(tmp_path):
    frames, masks = pullback(3)
    file = write_dicom(tmp_path / "run.dcm", frames, pixel_spacing=(0.05, 0.05))
    with pytest.raises(ValueError, match=r"2 mask\(s\) for 3 frame"):
        import_dicom(file, masks=masks[:2])
    with pytest.raises(ValueError, match=r"do not match the frames of .*run\.dcm"):
        import_dicom(file, masks=masks[:, :16])
    np.save(tmp_path / "user.npy", user_codes(masks))
    with pytest.raises(ValueError, match=r"user\.npy: frame\(s\) 0, 1, 2: unknown label codes \[10, 20\]"):
        import_dicom(file, masks=tmp_path / "user.npy")
    ds = import_dicom(file, masks=tmp_path / "user.npy", remap=USER_CODES, frames=[2, 0])
    assert np.array_equal(ds.masks, masks[[2, 0]]) and ds.ids == ["run-f00002", "run-f00000"]
    assert np.array_equal(import_dicom(file, masks=masks[1:2], frames=[1]).masks, masks[1:2])


def test_failing_masks_are_named_by_frame_or_skipped_and_listed(tmp_path):
    frames, masks = pullback(3)
    masks[1, 0:2, 0:2] = Label.FIBROUS  # an island, not connected to the loaded wall
    file = write_dicom(tmp_path / "run.dcm", frames, pixel_spacing=(0.05, 0.05))
    with pytest.raises(ValueError, match=r"1 of 3 frame\(s\) fail .*frame 1: 1 material island"):
        import_dicom(file, masks=masks)
    ds = import_dicom(file, masks=masks, invalid="skip")
    assert ds.ids == ["run-f00000", "run-f00002"] and list(ds.manifest["meta"]["skipped_frames"]) == ["1"]
    assert ds.manifest["meta"]["frames"] == [0, 2]


def test_cli_import_writes_a_dataset_and_a_failed_one_leaves_nothing(tmp_path, capsys):
    from latentmine.cli import main

    frames, masks = pullback(3)
    file = write_dicom(tmp_path / "run.dcm", frames, pixel_spacing=(0.05, 0.05))
    np.save(tmp_path / "user.npy", user_codes(masks))
    remap = ",".join(f"{code}={int(label)}" for code, label in USER_CODES.items())
    assert main(["import", "--dicom", str(file), "--masks", str(tmp_path / "user.npy"), "--remap", remap,
                 "--size", "16", "--out", str(tmp_path / "ds")]) == 0
    ds = load_dataset(tmp_path / "ds")
    assert len(ds) == 3 and ds.pixel_size_mm == pytest.approx(0.1) and "--size 16" in ds.manifest["meta"]["command"]
    assert main(["import", "--dicom", str(file), "--masks", str(tmp_path / "user.npy"), "--out", str(tmp_path / "bad")]) == 2
    assert "unknown label codes" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "run.dcm", "user.npy"]  # no partial or hidden folder


def test_start_up_imports_none_of_the_io_libraries_or_torch():
    import subprocess
    import sys

    code = ("import sys, latentmine.data; from latentmine.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'pydicom', 'nibabel', 'monai') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
