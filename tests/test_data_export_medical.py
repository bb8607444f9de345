"""Stress labels out as NIfTI and DICOM: the DICOM -> dataset -> FE label -> NIfTI round trip, affines, MONAI lists."""
import numpy as np
import pytest

pytest.importorskip("pydicom", reason="the io extra (pydicom) is not installed")
nibabel = pytest.importorskip("nibabel", reason="the io extra (nibabel) is not installed")

from latentmine.data import (export_dicom, export_nifti, from_monai_list, import_dicom, import_nifti,  # noqa: E402
                             load_dataset, save_dataset, to_monai_list)
from latentmine.fea import Labeller  # noqa: E402
from medical_files import USER_CODES, pullback, user_codes, write_dicom, write_nifti  # noqa: E402


def _labelled(tmp_path, **import_options):
    frames, masks = pullback(3, 32)
    file = write_dicom(tmp_path / "run.dcm", frames, pixel_spacing=(0.05, 0.05), pullback_rate=0.5, frame_time=40)
    ds = import_dicom(file, masks=masks, **import_options)
    path = save_dataset(tmp_path / "ds", ds.images, ds.masks, pixel_size_mm=ds.pixel_size_mm, ids=ds.ids,
                        meta=ds.manifest["meta"], provenance=ds.provenance)
    ds = load_dataset(path)
    stress = Labeller(ds.pixel_size_mm)(np.asarray(ds.masks))
    return ds, stress, file


def test_dicom_in_labelled_and_nifti_out_reads_back_the_same_stresses_and_spacing(tmp_path):
    ds, stress, _ = _labelled(tmp_path)
    assert stress.max() > 10  # kPa under 120 mmHg: a real solve, not zeros
    out = export_nifti(ds, tmp_path / "stress.nii.gz", stress)
    image = nibabel.load(out)
    data = np.asanyarray(image.dataobj)
    assert data.dtype == np.float32 and data.shape == (32, 32, 3)
    for k in range(3):
        assert np.array_equal(data[:, :, k], stress[k])
    np.testing.assert_allclose(nibabel.affines.voxel_sizes(image.affine), [0.05, 0.05, 0.5 * 40 / 1000])
    assert image.header.get_xyzt_units()[0] == "mm" and image.header.get_intent()[2] == "stress kPa"
    with pytest.raises(FileExistsError, match="stress.nii.gz exists"):
        export_nifti(ds, out, stress)


def test_nifti_export_keeps_the_source_affine_and_places_resampled_skipped_frames(tmp_path):
    frames, masks = pullback(4, 32)
    affine = np.array([[0, -0.05, 0, 3], [0.05, 0, 0, -2], [0, 0, 0.4, 9], [0, 0, 0, 1.0]])
    write_nifti(tmp_path / "img.nii", np.moveaxis(frames, 0, 2), affine)
    write_nifti(tmp_path / "lab.nii", np.moveaxis(user_codes(masks), 0, 2), affine)
    ds = import_nifti(tmp_path / "img.nii", tmp_path / "lab.nii", remap=USER_CODES)
    stress = np.random.default_rng(0).uniform(0, 300, (4, 32, 32)).astype(np.float32)
    same = nibabel.load(export_nifti(ds, tmp_path / "same.nii", stress))
    np.testing.assert_allclose(same.affine, affine, atol=1e-9)
    masks[1, 0:2, 0:2] = 2
    write_nifti(tmp_path / "lab.nii", np.moveaxis(user_codes(masks), 0, 2), affine)
    small = import_nifti(tmp_path / "img.nii", tmp_path / "lab.nii", remap=USER_CODES, size=16, invalid="skip")
    image = nibabel.load(export_nifti(small, tmp_path / "small.nii", stress[[0, 2, 3], ::2, ::2]))
    data = np.asanyarray(image.dataobj)
    assert data.shape == (16, 16, 4) and np.isnan(data[:, :, 1]).all() and np.isfinite(data[:, :, [0, 2, 3]]).all()
    np.testing.assert_array_equal(data[:, :, 3], stress[3, ::2, ::2])
    # the same world point sits at the centre of the field before and after resampling (frame 2)
    centre_native = affine @ [15.5, 15.5, 2, 1]
    np.testing.assert_allclose(image.affine @ [7.5, 7.5, 2, 1], centre_native, atol=1e-9)
    np.testing.assert_allclose(nibabel.affines.voxel_sizes(image.affine), [0.1, 0.1, 0.4])


def test_dicom_export_is_a_secondary_capture_in_the_source_study(tmp_path):
    import pydicom

    ds, stress, source = _labelled(tmp_path)
    out = export_dicom(ds, tmp_path / "stress.dcm", stress)
    written, original = pydicom.dcmread(out), pydicom.dcmread(source)
    assert written.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7.3" and written.NumberOfFrames == 3
    assert written.StudyInstanceUID == original.StudyInstanceUID and written.PatientID == "P001"
    assert written.SourceImageSequence[0].ReferencedSOPInstanceUID == original.SOPInstanceUID
    kpa = pydicom.pixels.apply_rescale(written.pixel_array, written)
    assert float(written.RescaleSlope) < 0.01 and written.RescaleType == "kPa"
    np.testing.assert_allclose(kpa, stress, atol=float(written.RescaleSlope) / 2 + 1e-6)
    assert [float(v) for v in written.PixelSpacing] == [0.05, 0.05]


def test_exports_refuse_a_dataset_without_stress(tmp_path):
    ds, stress, _ = _labelled(tmp_path)
    with pytest.raises(ValueError, match="has no stress labels"):
        export_nifti(ds, tmp_path / "s.nii")
    with pytest.raises(ValueError, match=r"do not match the dataset's frames \(3, 32, 32\)"):
        export_dicom(ds, tmp_path / "s.dcm", stress[:2])
    with pytest.raises(ValueError, match=r"must end in \.nii or \.nii\.gz"):
        export_nifti(ds, tmp_path / "s.png", stress)


def test_monai_list_round_trip_and_a_monai_dataloader(tmp_path):
    ds, stress, _ = _labelled(tmp_path)
    ds.stress = stress
    items = to_monai_list(ds, tmp_path / "monai")
    assert sorted(items[0]) == ["image", "label", "stress"] and len(items) == 3
    back = from_monai_list(tmp_path / "monai" / "datalist.json")
    assert back.ids == ds.ids and back.pixel_size_mm == pytest.approx(ds.pixel_size_mm)
    assert np.array_equal(back.images, ds.images) and np.array_equal(back.masks, ds.masks)
    with pytest.raises(ValueError, match=r"item 0 must be a dict with 'image' and 'label'"):
        from_monai_list([{"img": "x"}])
    monai = pytest.importorskip("monai", reason="the monai extra is not installed")
    from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged

    loader = monai.data.DataLoader(
        monai.data.Dataset(items, transform=Compose([LoadImaged(keys=["image", "label", "stress"]),
                                                     EnsureChannelFirstd(keys=["image", "label", "stress"])])),
        batch_size=3)
    batch = next(iter(loader))
    assert tuple(batch["image"].shape) == (3, 1, 32, 32)
    np.testing.assert_array_equal(batch["image"][:, 0].numpy(), np.asarray(ds.images))
    np.testing.assert_array_equal(batch["label"][:, 0].numpy(), np.asarray(ds.masks))
    np.testing.assert_array_equal(batch["stress"][:, 0].numpy(), stress)
    np.testing.assert_allclose(batch["image"].pixdim[0][:2].numpy(), [0.05, 0.05])


def test_cli_label_then_export_and_monai_import(tmp_path, capsys):
    from latentmine.cli import main

    ds, _, _ = _labelled(tmp_path)
    assert main(["label", "--masks", str(ds.path / "masks.npy"), "--pixel-size-mm", "0.05",
                 "--out", str(tmp_path / "labels")]) == 0
    assert main(["export", str(ds.path), "--stress", str(tmp_path / "labels" / "stress.npy"),
                 "--nifti", str(tmp_path / "s.nii.gz"), "--dicom", str(tmp_path / "s.dcm"),
                 "--monai", str(tmp_path / "monai")]) == 0
    stress = np.load(tmp_path / "labels" / "stress.npy")
    assert np.array_equal(np.moveaxis(nibabel.load(tmp_path / "s.nii.gz").get_fdata(dtype=np.float32), 2, 0), stress)
    assert main(["import", "--monai", str(tmp_path / "monai" / "datalist.json"), "--out", str(tmp_path / "back")]) == 0
    assert np.array_equal(load_dataset(tmp_path / "back").masks, ds.masks)
    assert main(["import", "--monai", str(tmp_path / "monai" / "datalist.json"), "--masks", str(ds.path / "masks.npy"),
                 "--out", str(tmp_path / "again")]) == 2
    assert "--masks and --contours do not apply" in capsys.readouterr().err
    assert main(["export", str(ds.path), "--nifti", str(tmp_path / "t.nii.gz")]) == 2
    assert "has no stress labels" in capsys.readouterr().err


def test_dicom_export_of_a_dataset_not_from_dicom_starts_its_own_study(tmp_path):
    import pydicom

    frames, masks = pullback(2, 32)
    write_nifti(tmp_path / "img.nii", np.moveaxis(frames, 0, 2), np.diag([0.05, 0.05, 0.4, 1.0]))
    write_nifti(tmp_path / "lab.nii", np.moveaxis(user_codes(masks), 0, 2), np.diag([0.05, 0.05, 0.4, 1.0]))
    ds = import_nifti(tmp_path / "img.nii", tmp_path / "lab.nii", remap=USER_CODES)
    stress = np.linspace(-5, 200, 2 * 32 * 32, dtype=np.float32).reshape(2, 32, 32)  # compressive values too
    written = pydicom.dcmread(export_dicom(ds, tmp_path / "s.dcm", stress))
    assert written.StudyInstanceUID and "SourceImageSequence" not in written
    np.testing.assert_allclose(pydicom.pixels.apply_rescale(written.pixel_array, written), stress,
                               atol=float(written.RescaleSlope) / 2 + 1e-5)
    assert [float(v) for v in written.SliceLocationVector] == pytest.approx([0.0, 0.4])
