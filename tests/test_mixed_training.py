"""Mixed training of F: generated samples added to the real ones, capped per batch, down-weighted, and a
fine-tune on the real samples; each checked against the constant F's closed-form optimum."""
import numpy as np
import pytest
import torch
from test_recipe import _Constant, _constant_problem

from latentmine.loop import LoopConfig
from latentmine.models import FitRecipe, fit_target
from latentmine.models.recipe import mixed_batch


def _real_zero_generated_one(n_real: int, n_generated: int):
    """Real samples labelled 0, generated ones labelled 1: F's constant is the generated share it learns from."""
    images, masks = _constant_problem(n_real + n_generated)
    labels = np.zeros(images.shape, np.float32)
    labels[n_real:] = 1.0
    generated = np.arange(n_real + n_generated) >= n_real
    return images, masks, labels, generated


def _fit(recipe, n_real, n_generated):
    images, masks, labels, generated = _real_zero_generated_one(n_real, n_generated)
    model = _Constant()
    result = fit_target(model, images, masks, labels, recipe=recipe, seed=0, label_scale=1.0, generated=generated)
    return float(model.value.detach()), result


@pytest.mark.parametrize("share, expected", [(None, None), (0.25, 2), (0.9, 6), (0.0, 0)])
def test_a_batch_holds_the_capped_or_the_natural_generated_count(share, expected):
    generated = torch.tensor([False, True, True, True])  # natural share 3/4: 6 of a batch of 8
    generator = torch.Generator().manual_seed(0)
    counts = [int(generated[mixed_batch(generated, 8, share, generator)].sum()) for _ in range(200)]
    if expected is None:
        assert 5.5 < np.mean(counts) < 6.5 and len(set(counts)) > 1  # uniform draws: binomial around 6
    else:
        assert set(counts) == {expected}


def test_the_cap_moves_the_optimum_to_the_capped_share():
    recipe = FitRecipe(max_steps=1500, batch_size=8, lr=0.02, schedule="cosine", augment="none",
                       generated_share=0.25)
    value, _ = _fit(recipe, n_real=1, n_generated=3)
    assert value == pytest.approx(0.25, abs=0.03)   # 2 of 8 rows generated; uncapped it would be 0.75
    uncapped, _ = _fit(FitRecipe(max_steps=1500, batch_size=8, lr=0.02, schedule="cosine", augment="none"), 1, 3)
    assert uncapped == pytest.approx(0.75, abs=0.05)


def test_down_weighted_generated_samples_give_the_weighted_mean():
    recipe = FitRecipe(max_steps=1500, batch_size=8, lr=0.02, schedule="cosine", augment="none",
                       generated_weight=1 / 3)
    value, _ = _fit(recipe, n_real=2, n_generated=2)
    assert value == pytest.approx((2 / 3) / (2 + 2 / 3), abs=0.04)   # sum(w y) / sum(w) = 0.25


def test_the_fine_tune_ends_on_the_real_samples():
    recipe = FitRecipe(max_steps=300, batch_size=4, lr=0.01, schedule="constant", augment="none",
                       finetune_steps=200, finetune_lr=0.01)
    value, result = _fit(recipe, n_real=2, n_generated=2)
    assert result.finetuned == 200 and result.steps == 300
    assert abs(value) < 0.05   # about 0.5 after the mixed schedule, then walked to the real label 0
    _, only_generated = _fit(recipe, n_real=0, n_generated=4)
    assert only_generated.finetuned == 0   # nothing real to fine-tune on


def test_without_generated_flags_training_is_unchanged():
    images, masks = _constant_problem()
    recipe = FitRecipe(max_steps=40, batch_size=2, lr=0.01, schedule="constant", eval_every=10)
    values = []
    for generated in (None, np.zeros(len(images), bool)):
        model = _Constant()
        fit_target(model, images, masks, np.ones(images.shape, np.float32), recipe=recipe, seed=0,
                   label_scale=1.0, generated=generated)
        values.append(float(model.value.detach()))
    assert values[0] == values[1]
    with pytest.raises(ValueError, match="generated must be a boolean"):
        fit_target(_Constant(), images, masks, images, recipe=recipe, seed=0, generated=np.zeros(3, bool))


@pytest.mark.parametrize("field, value", [("generated_share", 1.5), ("generated_share", -0.1),
                                          ("generated_weight", -1.0), ("finetune_steps", -1),
                                          ("finetune_lr", 0.0)])
def test_bad_mixed_training_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"FitRecipe.{field}"):
        FitRecipe(**{field: value})
    with pytest.raises(ValueError, match=f"LoopConfig.{field}"):
        LoopConfig(**{field: value})
