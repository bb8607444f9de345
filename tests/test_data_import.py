"""Importing users' PNG/TIFF pairs and arrays, exporting PNGs and contact sheets."""
import numpy as np
import pytest
from PIL import Image

from latentmine.data import contact_sheet, export_png, import_arrays, import_folder, load_dataset, save_dataset
from latentmine.fea.examples import ring_mask
from latentmine.labels import Label

#: A user's own codes: background 0, lumen 10, wall 20, lipid 30, calcium 40.
USER_CODES = {0: Label.OUTSIDE, 10: Label.LUMEN, 20: Label.FIBROUS, 30: Label.LIPID, 40: Label.CALCIUM}


def _user_mask(size=24, shift=0):
    mask = ring_mask(size, 4 + shift, 9)
    mask[4:6, 10:14] = Label.LIPID  # inside the wall band of the ring
    inverse = {int(v): k for k, v in USER_CODES.items()}
    return np.vectorize(inverse.get)(mask).astype(np.uint8), mask


def _write_pairs(tmp_path, n=3, fmt="png"):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir(exist_ok=True)
    masks.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    expected = []
    for i in range(n):
        grey = rng.integers(0, 256, (24, 24), dtype=np.uint8)
        user, mask = _user_mask(shift=i % 2)
        Image.fromarray(grey).save(images / f"frame{i}.{fmt}")
        Image.fromarray(user).save(masks / f"frame{i}.{'tif' if i % 2 else 'png'}")
        expected.append((grey / 255.0, mask))
    return images, masks, expected


@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_folder_import_matches_stems_and_remaps(tmp_path, fmt):
    images, masks, expected = _write_pairs(tmp_path, fmt=fmt)
    ds = import_folder(images, masks, remap=USER_CODES, pixel_size_mm=0.05)
    assert ds.ids == ["frame0", "frame1", "frame2"] and ds.pixel_size_mm == 0.05
    for i, (grey, mask) in enumerate(expected):
        np.testing.assert_allclose(ds.images[i], grey, atol=1e-6)
        assert np.array_equal(ds.masks[i], mask)
    assert ds.provenance[1]["mask_file"].endswith("frame1.tif")
    saved = load_dataset(save_dataset(tmp_path / "ds", ds.images, ds.masks, pixel_size_mm=ds.pixel_size_mm,
                                      ids=ds.ids, provenance=ds.provenance))
    assert np.array_equal(saved.masks, ds.masks)


def test_sixteen_bit_tiff_images_scale_to_unit_range(tmp_path):
    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    values = np.array([[0, 65535], [32768, 1000]], np.uint16)
    Image.fromarray(values).save(tmp_path / "i" / "a.tiff")
    Image.fromarray(np.array([[0, 1], [2, 2]], np.uint8)).save(tmp_path / "m" / "a.png")
    ds = import_folder(tmp_path / "i", tmp_path / "m", pixel_size_mm=0.1)
    np.testing.assert_allclose(ds.images[0], values / 65535.0, rtol=1e-6)


def test_unknown_codes_name_the_file_and_codes(tmp_path):
    images, masks, _ = _write_pairs(tmp_path, n=2)
    with pytest.raises(ValueError, match=r"frame0\.png: unknown label codes \[10, 20, 30\]"):
        import_folder(images, masks, pixel_size_mm=0.05)
    with pytest.raises(ValueError, match="not onto a Label code"):
        import_folder(images, masks, remap={10: 7}, pixel_size_mm=0.05)


def test_bad_folders_are_named(tmp_path):
    images, masks, _ = _write_pairs(tmp_path, n=2)
    (images / "extra.png").write_bytes((images / "frame0.png").read_bytes())
    with pytest.raises(ValueError, match="no partner.*extra"):
        import_folder(images, masks, remap=USER_CODES, pixel_size_mm=0.05)
    (masks / "extra.png").write_bytes(b"this is not a PNG")
    with pytest.raises(ValueError, match=r"extra\.png: unreadable"):
        import_folder(images, masks, remap=USER_CODES, pixel_size_mm=0.05)
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(masks / "extra.png")
    with pytest.raises(ValueError, match=r"extra\.png: size"):
        import_folder(images, masks, remap=USER_CODES, pixel_size_mm=0.05)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        import_folder(tmp_path / "nowhere", masks, pixel_size_mm=0.05)


def test_colour_masks_are_refused(tmp_path):
    images, masks, _ = _write_pairs(tmp_path, n=1)
    Image.new("RGB", (24, 24)).save(masks / "frame0.png")
    with pytest.raises(ValueError, match="frame0.png.*single-channel"):
        import_folder(images, masks, pixel_size_mm=0.05)


def test_array_import_remaps_and_checks():
    user, mask = _user_mask()
    ds = import_arrays(np.zeros((2, 24, 24), np.uint8), np.stack([user, user]), remap=USER_CODES, pixel_size_mm=0.1)
    assert np.array_equal(ds.masks[1], mask) and ds.images.dtype == np.float32
    with pytest.raises(ValueError, match="match one to one"):
        import_arrays(np.zeros((3, 24, 24)), np.stack([mask, mask]), pixel_size_mm=0.1)
    with pytest.raises(ValueError, match=r"unknown label codes \[10, 20, 30\] in sample\(s\) \[0\]"):
        import_arrays(np.zeros((1, 24, 24)), user[None], pixel_size_mm=0.1)
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\]"):
        import_arrays(np.full((1, 24, 24), 3.0), mask[None], pixel_size_mm=0.1)


def test_png_export_imports_back(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 1, (3, 24, 24)).astype(np.float32)
    masks = np.stack([_user_mask()[1]] * 3)
    ds = load_dataset(save_dataset(tmp_path / "ds", images, masks, pixel_size_mm=0.1, ids=["a", "b", "c"]))
    out = export_png(tmp_path / "png", ds, ids=["c", "a"])
    back = import_folder(out / "images", out / "masks", pixel_size_mm=0.1)
    assert back.ids == ["a", "c"]
    np.testing.assert_allclose(back.images, images[[0, 2]], atol=0.5 / 255 + 1e-6)
    assert np.array_equal(back.masks, masks[[0, 2]])
    with pytest.raises(FileExistsError, match="not empty"):
        export_png(out, ds)


def test_contact_sheet_has_a_row_per_sample(tmp_path):
    masks = np.stack([_user_mask()[1]] * 5)
    images = np.random.default_rng(2).uniform(0, 1, masks.shape).astype(np.float32)
    two = contact_sheet(tmp_path / "two.png", images, masks, n=2)
    four = contact_sheet(tmp_path / "four.png", images, masks, stress=images * 200, n=4)
    w2, h2 = Image.open(two).size
    w4, h4 = Image.open(four).size
    assert h4 > 1.6 * h2 and w4 > 1.3 * w2  # more rows; a third (stress) column
