"""Tasks: label checks, the registry, the built-in data, tools and scores (values computed by hand)."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from latentmine import models, tasks
from latentmine.models.categorical import CrossEntropy, SmallCNN
from latentmine.tasks import shapes
from latentmine.tasks.scores import classification_metrics, dice, segmentation_metrics

torch.set_num_threads(1)


@pytest.mark.parametrize("name, labels, problem", [
    ("ivus-stress", np.zeros((3, 8, 8), np.float32), "shape (3, 8, 8)"),            # 3 maps for 2 samples
    ("ivus-stress", np.full((2, 8, 8), np.nan, np.float32), "NaN or infinite"),
    ("ivus-stress", np.array([["a"] * 8] * 8 * 2).reshape(2, 8, 8), "dtype <U1"),
    ("segmentation", np.zeros((2, 8, 8), np.float32), "dtype float32, not integer"),
    ("segmentation", np.full((2, 8, 8), 3, np.int64), "class codes [3] outside 0..2"),
    ("classification", np.zeros((2, 8, 8), np.int64), "shape (2, 8, 8)"),          # a map, not a class
    ("classification", None, "returned None"),
])
def test_labels_of_the_wrong_shape_dtype_or_kind_name_the_task_the_kind_and_what_came(name, labels, problem):
    task = tasks.get_task(name)
    with pytest.raises(ValueError) as error:
        task.check_labels(labels, 2, (8, 8))
    message = str(error.value)
    assert f"task {name!r}" in message and problem in message
    assert f"expected {task.label_kind} labels" in message


def test_labels_of_the_right_kind_come_back_as_stored():
    assert tasks.get_task("classification").check_labels([2, 0], 2, (8, 8)).dtype == np.int64
    stress = tasks.get_task("ivus-stress").check_labels(np.ones((2, 8, 8), np.float64), 2, (8, 8))
    assert stress.dtype == np.float32 and stress.shape == (2, 8, 8)


def test_the_labeller_is_called_as_the_task_says_and_checked():
    calls = []
    stress = tasks.get_task("ivus-stress")  # the FE tool's convention: masks only
    masks = np.zeros((2, 8, 8), np.uint8)
    stress.call_labeller(lambda m: calls.append(m.shape) or np.zeros(m.shape, np.float32), masks, masks, ["a", "b"])
    counting = tasks.get_task("classification")
    counting.call_labeller(lambda i, m, ids: calls.append(tuple(ids)) or np.zeros(2, np.int64), masks, masks, ["a", "b"])
    assert calls == [(2, 8, 8), ("a", "b")]
    with pytest.raises(ValueError, match="task 'classification': the labeller returned shape"):
        counting.call_labeller(lambda i, m, ids: np.zeros((2, 3)), masks, masks, ["a", "b"])


def test_unknown_task_names_list_the_known_ones():
    with pytest.raises(ValueError, match="unknown task 'stres'; known tasks: classification, ivus-stress, "
                                         "ivus-stress-hard-case, segmentation"):
        tasks.get_task("stres")
    assert tasks.load_task("latentmine.tasks:segmentation").name == "segmentation"
    with pytest.raises(ValueError, match="could not be loaded"):
        tasks.load_task("latentmine.tasks:nothing_here")
    with pytest.raises(ValueError, match="returned dict, not a latentmine Task"):
        tasks.load_task("builtins:dict")


def test_a_task_refuses_an_inconsistent_definition():
    base = tasks.get_task("classification")
    with pytest.raises(ValueError, match="label_kind must be one of"):
        tasks.Task(**{**base.__dict__, "label_kind": "boxes"})
    with pytest.raises(ValueError, match="headline 'f1' is not one of its metrics"):
        tasks.Task(**{**base.__dict__, "headline": "f1"})
    with pytest.raises(ValueError, match=r"compared metrics \['f1'\] are not in metric_info"):
        tasks.Task(**{**base.__dict__, "compared": ("f1",)})
    with pytest.raises(ValueError, match="class labels need classes >= 2"):
        tasks.Task(**{**base.__dict__, "classes": 1})


def test_dice_of_a_perfect_prediction_is_one_and_of_a_shifted_one_matches_the_hand_count():
    truth = np.zeros((1, 8, 8), np.int64)
    truth[0, 2:6, 2:6] = 1                    # a 4x4 square: 16 pixels
    assert dice(truth, truth, 3) == 1.0       # class 2 is absent from both: left out, not counted as 0
    shifted = np.roll(truth, 1, axis=2)       # one column to the right: 12 of 16 pixels overlap
    assert dice(shifted, truth, 3) == pytest.approx(2 * 12 / (16 + 16))
    # logits are argmaxed; a class predicted where the truth has none scores 0 for that sample
    logits = np.zeros((1, 3, 8, 8))
    logits[0, 1][shifted[0] == 1] = 1.0
    logits[0, 2, 0, 0] = 2.0
    scores = segmentation_metrics(logits, SimpleNamespace(labels=truth), 3)
    assert scores["dice"] == pytest.approx((0.75 + 0.0) / 2)
    assert scores["pixel_accuracy"] == pytest.approx((64 - 4 - 4 - 1) / 64)


def test_accuracy_and_cross_entropy_on_a_known_toy_case():
    # softmax([0, log 3]) = [1/4, 3/4]; softmax([log 3, 0]) = [3/4, 1/4]
    logits = np.log([[1.0, 3.0], [3.0, 1.0], [1.0, 3.0], [1.0, 3.0]])
    scores = classification_metrics(logits, SimpleNamespace(labels=np.array([1, 0, 1, 0])))
    assert scores["accuracy"] == 0.75
    assert scores["cross_entropy"] == pytest.approx(-(3 * np.log(0.75) + np.log(0.25)) / 4)


def test_cross_entropy_loss_is_per_sample_for_classes_and_pixel_maps():
    logits, target = torch.randn(3, 4), torch.tensor([0.0, 3.0, 1.0])
    expected = torch.nn.functional.cross_entropy(logits, target.long(), reduction="none")
    torch.testing.assert_close(CrossEntropy()(logits, target, None), expected)
    maps, codes = torch.randn(2, 3, 5, 5), torch.randint(0, 3, (2, 5, 5))
    per_pixel = torch.nn.functional.cross_entropy(maps, codes, reduction="none")
    torch.testing.assert_close(CrossEntropy()(maps, codes.float(), None), per_pixel.flatten(1).mean(1))


def test_counting_tool_recovers_the_generated_counts_of_real_images():
    data = shapes.counting_discs(60, size=32, seed=3)
    assert set(np.unique(data.truth)) == {0, 1, 2} and not data.masks.any()
    np.testing.assert_array_equal(shapes.count_blobs(data.images), data.truth)


def test_segmentation_shapes_put_each_class_at_its_own_grey_level():
    data = shapes.segmentation_shapes(20, size=32, seed=1)
    assert data.images.shape == data.truth.shape == (20, 32, 32) and not data.masks.any()
    means = [data.images[data.truth == c].mean() for c in range(3)]
    assert means[0] < means[2] < means[1]  # background 0.15 < square 0.5 < disc 0.85
    np.testing.assert_allclose(means, [0.15, 0.85, 0.5], atol=0.02)


def test_the_oracle_labels_real_samples_by_id_and_the_gate_passes_real_samples_only():
    data = shapes.segmentation_shapes(4, size=16, seed=0)
    oracle = tasks.GroundTruthOracle.of(data)
    np.testing.assert_array_equal(oracle(data.images[[2, 0]], data.masks[[2, 0]], [data.ids[2], data.ids[0]]),
                                  data.truth[[2, 0]])
    with pytest.raises(ValueError, match="no label for \\['decoded-1'\\]"):
        oracle(data.images[:1], data.masks[:1], ["decoded-1"])
    passed, reasons = tasks.real_only(SimpleNamespace(pool_index=np.array([3, -1, 0, -1])), None)
    assert passed.tolist() == [True, False, True, False] and reasons == {"synthetic": 2}


def test_a_vae_without_masks_ignores_masks_and_decodes_zero_masks(tmp_path):
    data = shapes.counting_discs(16, size=16, seed=0)
    vae = models.train_vae(data.images, data.masks, latent_dim=4, width=4, epochs=2, mask_classes=0, progress=False)
    images = torch.from_numpy(data.images[:3])
    mu_a, _ = vae.encode(images, torch.zeros(3, 16, 16, dtype=torch.long))
    mu_b, _ = vae.encode(images, torch.randint(0, 4, (3, 16, 16)))
    torch.testing.assert_close(mu_a, mu_b)
    decoded, masks = models.decode_pairs(vae, torch.zeros(2, 4))
    assert decoded.shape == (2, 16, 16) and masks.shape == (2, 16, 16) and not masks.any()
    models.save_vae(tmp_path / "vae.pt", vae)
    assert models.load_vae(tmp_path / "vae.pt").mask_classes == 0  # checkpoints keep it


def test_small_cnn_maps_images_to_class_logits():
    model = SmallCNN(3, width=4, levels=3)
    assert model(torch.rand(5, 1, 16, 16)).shape == (5, 3)
    both = SmallCNN(2, input_mode="both", width=4, levels=2, mask_classes=3)
    assert both(torch.rand(2, 4, 8, 8)).shape == (2, 2)
