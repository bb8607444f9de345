"""NIfTI volumes in: slices as frames, spacing from the affine, anisotropy, remap, bad input."""
import numpy as np
import pytest

pytest.importorskip("nibabel", reason="the io extra (nibabel) is not installed")

from latentmine.cli import main  # noqa: E402
from latentmine.data import import_nifti, load_dataset  # noqa: E402
from latentmine.labels import Label  # noqa: E402
from medical_files import USER_CODES, pullback, user_codes, write_nifti  # noqa: E402


def _volumes(n=3, size=32):
    frames, masks = pullback(n, size)
    return np.moveaxis(frames, 0, 2), np.moveaxis(user_codes(masks), 0, 2), masks


def test_slices_become_frames_with_spacing_from_a_rotated_affine(tmp_path):
    image, labels, masks = _volumes()
    turn = np.radians(30)
    affine = np.array([[0.05 * np.cos(turn), -0.05 * np.sin(turn), 0, 10],
                       [0.05 * np.sin(turn), 0.05 * np.cos(turn), 0, -4],
                       [0, 0, 0.2, 7], [0, 0, 0, 1]])
    write_nifti(tmp_path / "img.nii.gz", image, affine)
    write_nifti(tmp_path / "lab.nii.gz", labels.astype(np.float32), affine)  # labels stored as floats, as often
    ds = import_nifti(tmp_path / "img.nii.gz", tmp_path / "lab.nii.gz", remap=USER_CODES)
    assert ds.pixel_size_mm == pytest.approx(0.05) and ds.ids == ["img-f00000", "img-f00001", "img-f00002"]
    np.testing.assert_allclose(ds.images, np.moveaxis(image, 2, 0) / 255, atol=1e-6)
    assert np.array_equal(ds.masks, masks)
    assert ds.manifest["meta"]["frame_spacing_mm"] == pytest.approx(0.2)
    np.testing.assert_allclose(ds.manifest["meta"]["affine"], affine)


def test_units_in_microns_are_converted(tmp_path):
    image, labels, masks = _volumes(1)
    write_nifti(tmp_path / "img.nii", image, np.diag([50, 50, 200, 1.0]), unit="micron")
    write_nifti(tmp_path / "lab.nii", labels, np.diag([50, 50, 200, 1.0]), unit="micron")
    assert import_nifti(tmp_path / "img.nii", tmp_path / "lab.nii", remap=USER_CODES).pixel_size_mm == pytest.approx(0.05)


def test_anisotropic_affine_is_refused_or_resampled(tmp_path):
    size = 32
    rows, cols = np.mgrid[0:size, 0:2 * size]
    circle = ((rows + 0.5 - size / 2) * 0.1) ** 2 + ((cols + 0.5 - size) * 0.05) ** 2
    mask = np.where(circle < 0.9 ** 2, Label.LUMEN, np.where(circle < 1.5 ** 2, Label.FIBROUS, Label.OUTSIDE))
    affine = np.diag([0.1, 0.05, 1.0, 1.0])
    write_nifti(tmp_path / "img.nii.gz", (mask * 50).astype(np.uint8)[..., None], affine)
    write_nifti(tmp_path / "lab.nii.gz", mask.astype(np.uint8)[..., None], affine)
    with pytest.raises(ValueError, match=r"img\.nii\.gz: pixels are not square \(row spacing 0\.1 mm, column spacing 0\.05"):
        import_nifti(tmp_path / "img.nii.gz", tmp_path / "lab.nii.gz")
    ds = import_nifti(tmp_path / "img.nii.gz", tmp_path / "lab.nii.gz", size=32)
    assert ds.pixel_size_mm == pytest.approx(0.1) and ds.ids == ["img"]
    assert (ds.masks[0] == Label.LUMEN).sum() == pytest.approx(np.pi * 9 ** 2, rel=0.1)


def test_float_images_outside_unit_range_are_scaled_and_recorded(tmp_path):
    image, labels, _ = _volumes(2)
    write_nifti(tmp_path / "img.nii", image.astype(np.float32) * 4 - 100, np.eye(4) * [0.05, 0.05, 1, 1])
    write_nifti(tmp_path / "lab.nii", labels, np.eye(4) * [0.05, 0.05, 1, 1])
    ds = import_nifti(tmp_path / "img.nii", tmp_path / "lab.nii", remap=USER_CODES)
    low, high = ds.manifest["meta"]["intensity"]["scaled_from"]
    assert (low, high) == (float(image.min()) * 4 - 100, float(image.max()) * 4 - 100)
    np.testing.assert_allclose(ds.images[1], (image[:, :, 1] * 4.0 - 100 - low) / (high - low), atol=1e-5)


def test_bad_pairs_name_the_file_and_frame(tmp_path):
    image, labels, _ = _volumes(3)
    affine = np.diag([0.05, 0.05, 1, 1.0])
    write_nifti(tmp_path / "img.nii", image, affine)
    write_nifti(tmp_path / "lab.nii", labels, affine)
    write_nifti(tmp_path / "short.nii", labels[:, :, :2], affine)
    moved = affine.copy()
    moved[0, 3] = 1.0  # one mm off
    write_nifti(tmp_path / "moved.nii", labels, moved)
    write_nifti(tmp_path / "halves.nii", labels + 0.5, affine)
    with pytest.raises(ValueError, match=r"short\.nii: label volume of shape \(32, 32, 2\) does not match"):
        import_nifti(tmp_path / "img.nii", tmp_path / "short.nii")
    with pytest.raises(ValueError, match=r"moved\.nii: its affine differs"):
        import_nifti(tmp_path / "img.nii", tmp_path / "moved.nii")
    with pytest.raises(ValueError, match=r"lab\.nii: frame\(s\) 0, 1, 2: unknown label codes \[10, 20\]"):
        import_nifti(tmp_path / "img.nii", tmp_path / "lab.nii")
    with pytest.raises(ValueError, match=r"halves\.nii: masks must hold integer label codes"):
        import_nifti(tmp_path / "img.nii", tmp_path / "halves.nii", remap=USER_CODES)
    (tmp_path / "junk.nii").write_bytes(b"not a nifti file at all")
    with pytest.raises(ValueError, match=r"junk\.nii: not a readable NIfTI file"):
        import_nifti(tmp_path / "junk.nii", tmp_path / "lab.nii")


def test_cli_nifti_import_with_named_remap(tmp_path, capsys):
    image, labels, masks = _volumes(2)
    affine = np.diag([0.05, 0.05, 1, 1.0])
    write_nifti(tmp_path / "img.nii.gz", image, affine)
    write_nifti(tmp_path / "lab.nii.gz", labels, affine)
    assert main(["import", "--nifti", str(tmp_path / "img.nii.gz"), "--masks", str(tmp_path / "lab.nii.gz"),
                 "--remap", "0=OUTSIDE,10=LUMEN,20=FIBROUS,30=LIPID,40=CALCIUM", "--out", str(tmp_path / "ds")]) == 0
    assert np.array_equal(load_dataset(tmp_path / "ds").masks, masks)
    assert "imported 2 frame(s) of 32x32 px (0.0500 mm/px)" in capsys.readouterr().out
