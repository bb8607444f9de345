"""Datasets on disk: round trip, atomic writes, appends, manifest checks, splits."""
import json
import os

import numpy as np
import pytest

from latentmine.data import ChunkedArray, append, load_dataset, save_dataset, split, subset
from latentmine.data.manifest import MANIFEST
from latentmine.fea.examples import ring_mask
from latentmine.labels import Label


def _arrays(n=6, size=16, seed=0, stress=True):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, (n, size, size)).astype(np.float32)
    masks = np.stack([ring_mask(size, 3 + i % 2, 6) for i in range(n)])
    labels = rng.uniform(0, 300, (n, size, size)).astype(np.float32) if stress else None
    return images, masks, labels


@pytest.fixture
def saved(tmp_path):
    images, masks, stress = _arrays()
    path = save_dataset(tmp_path / "ds", images, masks, stress, pixel_size_mm=0.05, ids=[f"s{i}" for i in range(6)],
                        meta={"generator": "test", "seed": 3}, provenance=[{"round": i} for i in range(6)])
    return path, images, masks, stress


def _folders(parent):
    return sorted(p.name for p in parent.iterdir())


def test_round_trip_memory_maps_and_records(saved):
    path, images, masks, stress = saved
    ds = load_dataset(path)
    assert isinstance(ds.images, np.memmap) and isinstance(ds.masks, np.memmap)
    assert np.array_equal(ds.images, images) and np.array_equal(ds.masks, masks) and np.array_equal(ds.stress, stress)
    assert ds.ids == [f"s{i}" for i in range(6)] and ds.pixel_size_mm == 0.05
    assert ds.provenance[4] == {"round": 4}
    m = ds.manifest
    assert m["meta"] == {"generator": "test", "seed": 3} and m["units"]["stress"].startswith("kPa")
    assert m["labels"]["CALCIUM"] == Label.CALCIUM and m["package_version"]
    assert _folders(path.parent) == ["ds"]  # no temporary folder left


def test_existing_dataset_is_kept_without_overwrite(saved):
    path, images, masks, _ = saved
    with pytest.raises(FileExistsError, match=str(path)):
        save_dataset(path, images[:2], masks[:2], pixel_size_mm=0.1)
    assert len(load_dataset(path)) == 6
    save_dataset(path, images[:2], masks[:2], pixel_size_mm=0.1, overwrite=True)
    assert len(load_dataset(path)) == 2 and load_dataset(path).stress is None
    assert _folders(path.parent) == ["ds"]


def test_a_foreign_folder_is_never_replaced(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    images, masks, _ = _arrays(2)
    with pytest.raises(FileExistsError, match="holds no dataset"):
        save_dataset(tmp_path / "mine", images, masks, pixel_size_mm=0.1, overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def _fail_after(monkeypatch, calls):
    real, count = np.save, {"n": 0}

    def flaky(*args, **kwargs):
        count["n"] += 1
        if count["n"] > calls:
            raise OSError("disk full (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(np, "save", flaky)


def test_interrupted_overwrite_keeps_the_old_dataset(saved, monkeypatch):
    path, images, masks, stress = saved
    _fail_after(monkeypatch, 1)
    with pytest.raises(OSError, match="simulated"):
        save_dataset(path, images[:3], masks[:3], stress[:3], pixel_size_mm=0.2, overwrite=True)
    monkeypatch.undo()
    ds = load_dataset(path)
    assert len(ds) == 6 and np.array_equal(ds.images, images) and ds.pixel_size_mm == 0.05
    assert _folders(path.parent) == ["ds"]  # the partial copy is gone


def test_failed_rename_into_place_restores_the_old_dataset(saved, monkeypatch):
    from latentmine.data import dataset as module

    path, images, masks, _ = saved
    real = os.replace

    def refuse_staging(src, dst):
        if ".tmp-" in str(src) and str(dst) == str(path):
            raise OSError("rename failed (simulated)")
        return real(src, dst)

    monkeypatch.setattr(module.os, "replace", refuse_staging)
    with pytest.raises(OSError, match="simulated"):
        save_dataset(path, images[:2], masks[:2], pixel_size_mm=0.3, overwrite=True)
    monkeypatch.undo()
    assert len(load_dataset(path)) == 6 and _folders(path.parent) == ["ds"]


def test_interrupted_new_dataset_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    images, masks, _ = _arrays(3)
    _fail_after(monkeypatch, 1)
    with pytest.raises(OSError):
        save_dataset(tmp_path / "new", images, masks, pixel_size_mm=0.1)
    monkeypatch.undo()
    assert not list(tmp_path.rglob(MANIFEST))
    with pytest.raises(FileNotFoundError, match="no dataset"):
        load_dataset(tmp_path / "new")


def test_append_adds_chunks_lazily(saved):
    path, images, masks, stress = saved
    more_i, more_m, more_s = _arrays(4, seed=1)
    append(path, more_i, more_m, more_s, ids=[f"t{i}" for i in range(4)], provenance=[{"round": 9}] * 4)
    assert (path / "images.000001.npy").is_file() and np.load(path / "images.npy").shape[0] == 6
    ds = load_dataset(path)
    assert isinstance(ds.images, ChunkedArray) and ds.images.shape == (10, 16, 16)
    whole = np.concatenate([images, more_i])
    assert np.array_equal(np.asarray(ds.images), whole)
    assert np.array_equal(ds.images[[7, 1, 9]], whole[[7, 1, 9]]) and np.array_equal(ds.images[-1], whole[-1])
    assert np.array_equal(ds.stress[4:8], np.concatenate([stress, more_s])[4:8])
    assert ds.ids[-1] == "t3" and ds.provenance[-1] == {"round": 9} and ds.manifest["count"] == 10
    picked = subset(ds, ["t1", "s2"])
    assert np.array_equal(picked.masks, np.stack([more_m[1], masks[2]]))


@pytest.mark.parametrize("case, message", [
    ("duplicate", "already in the dataset"),
    ("shape", "cannot append"),
    ("no stress", "stress labels"),
])
def test_bad_appends_are_refused_and_change_nothing(saved, case, message):
    path, images, masks, stress = saved
    args = {"duplicate": (images[:1], masks[:1], stress[:1], ["s0"]),
            "shape": (images[:1, :8, :8], masks[:1, :8, :8], stress[:1, :8, :8], ["x"]),
            "no stress": (images[:1], masks[:1], None, ["x"])}[case]
    with pytest.raises(ValueError, match=message):
        append(path, *args[:3], ids=args[3])
    assert len(load_dataset(path)) == 6 and _folders(path) == sorted(["images.npy", "masks.npy", "stress.npy", MANIFEST])


def test_interrupted_append_leaves_the_dataset_as_it_was(saved, monkeypatch):
    path, images, masks, stress = saved
    _fail_after(monkeypatch, 1)
    with pytest.raises(OSError):
        append(path, images[:2], masks[:2], stress[:2], ids=["a", "b"])
    monkeypatch.undo()
    assert len(load_dataset(path)) == 6
    assert _folders(path) == sorted(["images.npy", "masks.npy", "stress.npy", MANIFEST])


def test_chunked_array_indexes_like_the_concatenation():
    parts = [np.arange(12).reshape(3, 4), np.arange(12, 20).reshape(2, 4), np.arange(20, 24).reshape(1, 4)]
    lazy, whole = ChunkedArray(parts), np.concatenate(parts)
    for key in (0, 4, -1, slice(1, 5), slice(None, None, -2), [5, 0, 3], whole[:, 0] % 3 == 0, np.array([], int)):
        assert np.array_equal(lazy[key], whole[key])
    assert np.array_equal(lazy[2:5, 1], whole[2:5, 1]) and np.array_equal(lazy[4, 1:3], whole[4, 1:3])
    with pytest.raises(IndexError):
        lazy[6]
    with pytest.raises(ValueError, match="disagree"):
        ChunkedArray([np.zeros((1, 4)), np.zeros((1, 5))])


def _edit_manifest(path, change):
    manifest = json.loads((path / MANIFEST).read_text())
    change(manifest)
    (path / MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(count=7), "ids"),
    (lambda m: m.update(shape=[8, 8]), "masks.npy|images.npy"),
    (lambda m: m["chunks"][0].update(images="../outside.npy"), "escapes"),
    (lambda m: m["chunks"][0].update(images="/etc/passwd"), "escapes"),
    (lambda m: m["chunks"][0].update(masks="stress.npy"), "masks"),
    (lambda m: m.update(format="something"), "manifest"),
])
def test_manifest_disagreeing_with_arrays_is_named(saved, change, message):
    path = saved[0]
    _edit_manifest(path, change)
    with pytest.raises(ValueError, match=message):
        load_dataset(path)


def test_symlink_escaping_the_folder_is_rejected(saved, tmp_path):
    path = saved[0]
    outside = tmp_path / "elsewhere.npy"
    np.save(outside, np.zeros((6, 16, 16), np.float32))
    os.symlink(outside, path / "link.npy")
    _edit_manifest(path, lambda m: m["chunks"][0].update(images="link.npy"))
    with pytest.raises(ValueError, match="outside the dataset folder"):
        load_dataset(path)


def test_corrupt_files_are_named(saved):
    path = saved[0]
    blob = (path / "images.npy").read_bytes()
    (path / "images.npy").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="images.npy"):
        load_dataset(path)
    (path / MANIFEST).write_text("{not json")
    with pytest.raises(ValueError, match=MANIFEST):
        load_dataset(path)


@pytest.mark.parametrize("kwargs, message", [
    ({"masks": np.zeros((5, 16, 16), np.uint8)}, "match one to one"),
    ({"masks": np.full((6, 16, 16), 9, np.uint8)}, "unknown label codes \\[9\\]"),
    ({"masks": np.zeros((6, 16, 16), np.float32)}, "integer"),
    ({"stress": np.zeros((6, 8, 8), np.float32)}, "stress has shape"),
    ({"images": np.full((6, 16, 16), np.nan, np.float32)}, "NaN"),
    ({"ids": ["a"] * 6}, "repeated ids"),
    ({"pixel_size_mm": 0.0}, "pixel_size_mm"),
])
def test_bad_arrays_are_refused(tmp_path, kwargs, message):
    images, masks, stress = _arrays()
    args = {"images": images, "masks": masks, "stress": stress, "pixel_size_mm": 0.1, **kwargs}
    with pytest.raises(ValueError, match=message):
        save_dataset(tmp_path / "bad", args.pop("images"), args.pop("masks"), args.pop("stress"), **args)
    assert not (tmp_path / "bad").exists()


def test_split_is_reproducible_disjoint_and_complete():
    ids = [f"id{i}" for i in range(101)]
    parts = split(ids, fractions=(0.1, 0.7, 0.2), seed=4)
    assert parts == split(ids, fractions=(0.1, 0.7, 0.2), seed=4)
    assert parts != split(ids, fractions=(0.1, 0.7, 0.2), seed=5)
    assert [len(parts[k]) for k in ("train", "pool", "test")] == [10, 71, 20]
    assert sorted(sum(parts.values(), [])) == sorted(ids)
    assert split(10, fractions=(0.5, 0.0, 0.5), seed=0)["pool"] == []
    with pytest.raises(ValueError, match="summing to 1"):
        split(10, fractions=(0.5, 0.5, 0.5), seed=0)


def test_split_of_a_dataset_uses_its_ids_and_subset_names_unknown_ids(saved):
    ds = load_dataset(saved[0])
    parts = split(ds, fractions=(0.5, 0.0, 0.5), seed=1)
    assert sorted(parts["train"] + parts["test"]) == sorted(ds.ids)
    assert np.array_equal(subset(ds, parts["test"]).images, ds.images[[ds.ids.index(i) for i in parts["test"]]])
    with pytest.raises(ValueError, match="nope"):
        subset(ds, ["s1", "nope"])
