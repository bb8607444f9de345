"""The training recipe of F: exact D4 augmentation, early stopping, validated settings."""
import numpy as np
import pytest
import torch
from torch import nn

from latentmine.fea import Labeller
from latentmine.models import FitRecipe, d4, fit_target
from latentmine.models.recipe import D4_ORDER, d4_batch
from latentmine.phantoms import generate

torch.set_num_threads(1)


def test_d4_elements_are_eight_distinct_permutations():
    grid = torch.arange(16.0).reshape(4, 4)
    images = {tuple(d4(grid, k).flatten().tolist()) for k in range(D4_ORDER)}
    assert len(images) == D4_ORDER
    assert all(sorted(image) == list(range(16)) for image in images)
    assert torch.equal(d4(grid, 0), grid)
    assert torch.equal(d4(grid, 1), torch.tensor([[3., 7, 11, 15], [2, 6, 10, 14], [1, 5, 9, 13], [0, 4, 8, 12]]))
    with pytest.raises(ValueError, match="element"):
        d4(grid, 8)
    with pytest.raises(ValueError, match="square"):
        d4(torch.zeros(3, 4), 1)


def test_d4_batch_transforms_each_sample_by_its_own_element():
    x = torch.rand(8, 2, 6, 6)
    y = torch.rand(8, 6, 6)
    elements = torch.arange(8).flip(0)
    classes = torch.arange(8.0)
    tx, ty, tc = d4_batch(elements, x, y, classes)
    for i, k in enumerate(elements.tolist()):
        assert torch.equal(tx[i], d4(x[i], k)) and torch.equal(ty[i], d4(y[i], k))
    assert torch.equal(tc, classes)  # one value per sample: invariant, unchanged


def test_d4_augmentation_is_exact_for_the_finite_element_labeller():
    """Labelling a transformed mask gives the transformed label: the augmented pairs are true pairs."""
    cohort = generate(1, size=64, seed=3)
    labeller = Labeller(cohort.pixel_size_mm)
    mask = torch.from_numpy(cohort.masks[0].astype(np.int64))
    label = torch.from_numpy(labeller(cohort.masks[:1])[0])
    transformed = np.stack([d4(mask, k).numpy().astype(np.uint8) for k in range(1, D4_ORDER)])
    labels = labeller(transformed)
    peak = float(label.max())
    assert peak > 20.0  # kPa: a real plaque, not an empty map
    for k in range(1, D4_ORDER):
        expected = d4(label, k).numpy()
        assert np.abs(labels[k - 1] - expected).max() < 1e-4 * peak, k
        assert not np.allclose(expected, label.numpy())  # the plaque is not itself symmetric


class _Constant(nn.Module):
    """F that predicts one learnable value everywhere."""

    input_mode = "image"

    def __init__(self):
        super().__init__()
        self.value = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.value.expand(x.shape[0], *x.shape[2:])


def _constant_problem(n=4, size=8):
    images = np.zeros((n, size, size), np.float32)
    masks = np.zeros((n, size, size), np.uint8)
    return images, masks


def test_early_stopping_restores_the_best_weights_of_a_known_best_step():
    """Adam moves the constant by about lr per step towards the training target 1; the validation
    target is 0.5, so the validation loss is lowest at step 50 and rises after it."""
    images, masks = _constant_problem()
    model = _Constant()
    recipe = FitRecipe(max_steps=1000, batch_size=2, lr=0.01, schedule="constant", eval_every=10, patience=4)
    result = fit_target(model, images, masks, np.full(images.shape, 1.0, np.float32), recipe=recipe, seed=0,
                        validation=(images, masks, np.full(images.shape, 0.5, np.float32)), label_scale=1.0)
    assert result.best_step == 50
    assert result.steps == 50 + 4 * 10  # four evaluations without improvement, then stop
    assert float(model.value.detach()) == pytest.approx(0.5, abs=0.05)  # restored, not the last (about 0.85)
    assert result.history[-1]["step"] == 90 and result.history[-1]["val_loss"] > result.val_loss
    assert result.val_loss == pytest.approx(min(h["val_loss"] for h in result.history))
    assert result.val_loss == pytest.approx((float(model.value.detach()) - 0.5) ** 2, rel=1e-5)


def test_without_validation_every_step_runs_and_the_last_weights_stay():
    images, masks = _constant_problem()
    model = _Constant()
    recipe = FitRecipe(max_steps=30, batch_size=2, lr=0.01, schedule="constant", eval_every=10)
    result = fit_target(model, images, masks, np.ones(images.shape, np.float32), recipe=recipe, seed=0,
                        label_scale=1.0)
    assert result.steps == result.best_step == 30 and result.val_loss is None
    assert float(model.value.detach()) == pytest.approx(0.30, abs=0.04)
    assert fit_target(model, images, masks, images, recipe=recipe, seed=0, max_steps=0).steps == 0


@pytest.mark.parametrize("schedule", ["onecycle", "cosine"])
def test_schedules_peak_at_lr_and_anneal(schedule):
    recipe = FitRecipe(max_steps=100, lr=0.01, schedule=schedule)
    optimiser = recipe.optimiser([nn.Parameter(torch.zeros(()))])
    scheduler = recipe.scheduler(optimiser)
    rates = []
    for _ in range(100):
        rates.append(optimiser.param_groups[0]["lr"])
        optimiser.step()
        scheduler.step()
    assert max(rates) == pytest.approx(0.01, rel=1e-3)
    assert rates[-1] < 0.01 * 0.01


@pytest.mark.parametrize("steps", range(1, 9))
def test_onecycle_runs_for_every_short_budget(steps):
    """OneCycleLR divides by its warm-up length in steps, which is 0 at 3 steps with a 25% warm-up."""
    recipe = FitRecipe(max_steps=steps, lr=0.01, schedule="onecycle")
    optimiser = recipe.optimiser([nn.Parameter(torch.zeros(()))])
    scheduler = recipe.scheduler(optimiser)
    rates = []
    for _ in range(steps):
        optimiser.step()
        scheduler.step()
        rates.append(optimiser.param_groups[0]["lr"])
    assert all(0 < rate <= 0.01 * (1 + 1e-9) for rate in rates)


@pytest.mark.parametrize("field, value", [("max_steps", 0), ("batch_size", -1), ("lr", 0.0), ("lr", float("nan")),
                                          ("schedule", "linear"), ("weight_decay", -1e-4), ("augment", "flip"),
                                          ("eval_every", 0), ("patience", 1.5)])
def test_bad_recipe_settings_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match=f"FitRecipe.{field}"):
        FitRecipe(**{field: value})
