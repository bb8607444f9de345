"""Contour files in: rasterised masks, plaque components on top, bad contours named by file and frame."""
import numpy as np
import pytest

pytest.importorskip("pydicom", reason="the io extra (pydicom) is not installed")

from latentmine.cli import main  # noqa: E402
from latentmine.data import import_dicom, import_nifti, load_dataset, read_contours  # noqa: E402
from latentmine.fea.validate import mask_problems  # noqa: E402
from latentmine.labels import Label  # noqa: E402
from medical_files import write_dicom, write_nifti  # noqa: E402

SIZE, CENTRE = 48, 23.5


def _circle(radius, centre=(CENTRE, CENTRE), n=90, turns=1.0):
    t = np.linspace(0, 2 * np.pi * turns, n, endpoint=False)
    return np.stack([centre[0] + radius * np.cos(t), centre[1] + radius * np.sin(t)], axis=1)


def _bow_tie(radius):
    t = np.linspace(0, 2 * np.pi, 80, endpoint=False)
    return np.stack([CENTRE + radius * np.sin(t), CENTRE + radius * np.sin(2 * t) / 2], axis=1)  # a figure eight


#: frame -> {kind: [points, ...]}: 0 and 1 are good, 2-5 each break one rule.
SET = {
    0: {"lum": [_circle(8)], "med": [_circle(18)]},
    1: {"lum": [_circle(8)], "med": [_circle(18)],
        "lipid": [_circle(3, (CENTRE, CENTRE - 13)), _circle(4, (CENTRE - 7, CENTRE))],  # the second pokes into the lumen
        "calcium": [_circle(2.5, (CENTRE + 13, CENTRE))]},
    2: {"lum": [_bow_tie(8)], "med": [_circle(18)]},
    3: {"lum": [_circle(18)], "med": [_circle(8)]},
    4: {"lum": [_circle(8, turns=0.75)], "med": [_circle(18)]},
    5: {"lum": [_circle(8, (CENTRE + 9, CENTRE))], "med": [_circle(14)]},
}


def _write_per_frame(folder, frames=SET):
    folder.mkdir()
    for frame, kinds in frames.items():
        for kind, outlines in kinds.items():
            text = "\n\n".join("\n".join(f"{x:.3f},{y:.3f}" for x, y in points) for points in outlines)
            (folder / f"{kind}_frame_01_{frame:04d}.txt").write_text("x,y\n" + text + "\n")
    return folder


def _write_table(file, frames=SET):
    rows = ["frame,contour,part,x,y"]
    names = {"lum": "lumen", "med": "eem"}
    for frame, kinds in frames.items():
        for kind, outlines in kinds.items():
            rows += [f"{frame},{names.get(kind, kind)},{part},{x},{y}"
                     for part, points in enumerate(outlines) for x, y in points]
    file.write_text("\n".join(rows) + "\n")
    return file


@pytest.fixture
def pullback_file(tmp_path):
    frames = np.full((8, SIZE, SIZE), 90, np.uint8)
    return write_dicom(tmp_path / "run.dcm", frames, pixel_spacing=(0.05, 0.05))


def test_good_frames_rasterise_into_valid_masks_with_components_on_top(tmp_path, pullback_file):
    contours = _write_per_frame(tmp_path / "contours", {k: SET[k] for k in (0, 1)})
    ds = import_dicom(pullback_file, contours=contours)
    assert ds.ids == ["run-f00000", "run-f00001"] and all(mask_problems(m) == [] for m in ds.masks)
    plain, plaque = ds.masks
    assert (plain == Label.LUMEN).sum() == pytest.approx(np.pi * 8 ** 2, rel=0.06)
    assert np.isin(plain, [Label.LUMEN, Label.FIBROUS]).sum() == pytest.approx(np.pi * 18 ** 2, rel=0.03)
    assert np.array_equal(plaque == Label.LUMEN, plain == Label.LUMEN)  # components never eat the lumen
    assert (plaque == Label.LIPID).sum() == pytest.approx(np.pi * 3 ** 2 + np.pi * 4 ** 2 / 2 - 5, abs=12)
    assert plaque[int(CENTRE - 13), int(CENTRE)] == Label.LIPID and plaque[24, int(CENTRE + 13)] == Label.CALCIUM
    assert not (plain == Label.LIPID).any()


def test_one_table_per_pullback_reads_as_the_per_frame_files(tmp_path, pullback_file):
    folder = read_contours(_write_per_frame(tmp_path / "contours"))
    table = read_contours(_write_table(tmp_path / "contours.csv"))
    assert sorted(folder) == sorted(table) == list(range(6))
    for frame in folder:
        key = sorted((c.kind, len(c.points)) for c in folder[frame])
        assert key == sorted((c.kind, len(c.points)) for c in table[frame])
    spaced = tmp_path / "contours.txt"
    spaced.write_text((tmp_path / "contours.csv").read_text().replace(",", " "))
    assert [len(c.points) for c in read_contours(spaced)[1]] == [len(c.points) for c in table[1]]
    ds = import_dicom(pullback_file, contours=tmp_path / "contours.csv", invalid="skip")
    again = import_dicom(pullback_file, contours=tmp_path / "contours", invalid="skip")
    assert np.array_equal(ds.masks, again.masks)


def test_bad_contours_are_named_by_file_and_frame(tmp_path, pullback_file):
    contours = _write_per_frame(tmp_path / "contours")
    with pytest.raises(ValueError) as caught:
        import_dicom(pullback_file, contours=contours)
    message = str(caught.value)
    assert "4 of 6 frame(s) fail" in message
    assert "frame 2: " in message and "lum_frame_01_0002.txt: lumen contour crosses itself" in message
    assert "frame 3: " in message and "med_frame_01_0003.txt: the EEM lies inside the lumen" in message
    assert "frame 4: " in message and "lum_frame_01_0004.txt: lumen contour is open" in message
    assert "frame 5: " in message and "the lumen and EEM contours cross" in message


def test_skipped_frames_are_listed_with_reasons_and_unannotated_frames_left_out(tmp_path, pullback_file):
    contours = _write_per_frame(tmp_path / "contours")
    ds = import_dicom(pullback_file, contours=contours, invalid="skip")
    meta = ds.manifest["meta"]
    assert meta["frames"] == [0, 1] and sorted(meta["skipped_frames"]) == ["2", "3", "4", "5"]
    assert any("crosses itself" in reason for reason in meta["skipped_frames"]["2"])


def test_contours_rasterise_straight_onto_a_resampled_grid(tmp_path, pullback_file):
    contours = _write_per_frame(tmp_path / "contours", {0: SET[0]})
    ds = import_dicom(pullback_file, contours=contours, size=24)
    assert ds.pixel_size_mm == pytest.approx(0.1)
    assert (ds.masks[0] == Label.LUMEN).sum() == pytest.approx(np.pi * 4 ** 2, rel=0.12)
    assert mask_problems(ds.masks[0]) == []


def test_malformed_files_and_frames_beyond_the_pullback(tmp_path, pullback_file):
    folder = _write_per_frame(tmp_path / "far", {9: SET[0]})
    with pytest.raises(ValueError, match=r"contours for frame\(s\) \[9\], but the images have 8 frame"):
        import_dicom(pullback_file, contours=folder)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "lumen_0000.txt").write_text("1 2\n3 four\n")
    with pytest.raises(ValueError, match=r"lumen_0000\.txt:2: expected two numbers"):
        read_contours(bad)
    (bad / "lumen_0000.txt").unlink()
    (bad / "notes_0000.txt").write_text("1 2\n")
    with pytest.raises(ValueError, match=r"notes_0000\.txt: cannot tell the contour kind"):
        read_contours(bad)
    (tmp_path / "table.csv").write_text("frame,contour,x,y\n0,lumen,1,2\n0,plaque,1,2\n")
    with pytest.raises(ValueError, match=r"table\.csv:3: unknown contour 'plaque'"):
        read_contours(tmp_path / "table.csv")
    (tmp_path / "table.csv").write_text("frame,contour,x,y\n0,lumen,1\n")
    with pytest.raises(ValueError, match=r"table\.csv:2: expected 4 values"):
        read_contours(tmp_path / "table.csv")


def test_cli_nifti_with_contours(tmp_path):
    write_nifti(tmp_path / "img.nii.gz", np.full((SIZE, SIZE, 2), 90, np.uint8), np.diag([0.05, 0.05, 1, 1]))
    contours = _write_per_frame(tmp_path / "contours", {0: SET[0], 1: SET[1]})
    assert main(["import", "--nifti", str(tmp_path / "img.nii.gz"), "--contours", str(contours),
                 "--out", str(tmp_path / "ds")]) == 0
    ds = load_dataset(tmp_path / "ds")
    assert len(ds) == 2 and (np.asarray(ds.masks[1]) == Label.CALCIUM).any()
    assert np.array_equal(ds.masks, import_nifti(tmp_path / "img.nii.gz", contours=contours).masks)


def test_example_pullback_outlines_give_the_masks_back_exactly(tmp_path):
    from latentmine.data.examples import EXAMPLE_CODES, write_example_pullback

    files = write_example_pullback(tmp_path / "example", n=3, size=128)
    masks = np.load(files["masks"])
    from_contours = import_dicom(files["dicom"], contours=files["contours"])
    assert np.array_equal(from_contours.masks, masks) and (masks == Label.LIPID).any() and (masks == Label.CALCIUM).any()
    from_nifti = import_nifti(files["nifti"], files["labels"], remap=EXAMPLE_CODES)
    assert np.array_equal(from_nifti.masks, masks)
    np.testing.assert_allclose(from_nifti.images, from_contours.images, atol=1e-6)
