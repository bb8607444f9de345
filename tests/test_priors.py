"""F's prior channels: closed forms on a ring, zero off the wall, D4-equivariant, differentiable."""
import numpy as np
import pytest
import torch

from latentmine.fea.examples import plaque_mask, ring_mask
from latentmine.fea.reference import lame_stresses
from latentmine.labels import Label
from latentmine.models import FitRecipe, fit_target, predict
from latentmine.loop import LoopConfig
from latentmine.models import StressUNet
from latentmine.models.priors import wall_priors
from latentmine.models.target import onehot
from latentmine.units import DEFAULT_PRESSURE_KPA

SIZE, INNER, OUTER = 64, 10.0, 24.0


def probs(*masks):
    return onehot(torch.as_tensor(np.stack(masks).astype(np.int64)))


def wall_priors_kpa(mask_probs, priors):
    return wall_priors(mask_probs, priors, scale_kpa=1.0)


def pixel_radius(size):
    y, x = np.mgrid[0:size, 0:size] + 0.5
    return np.hypot(x - size / 2, y - size / 2)


def test_lame_channel_is_the_hoop_stress_of_the_ring():
    mask = ring_mask(SIZE, INNER, OUTER)
    lame = wall_priors_kpa(probs(mask), ["lame"])[0, 0].numpy()
    r = pixel_radius(SIZE)
    wall = mask == Label.FIBROUS
    want = lame_stresses(r, INNER, OUTER, DEFAULT_PRESSURE_KPA, 0.0)[1]
    # The equivalent radii come from pixel areas, which stand for the circles to within 1% here.
    assert np.abs(lame[wall] / want[wall] - 1).max() < 0.02
    assert np.all(lame[~wall] == 0)
    inner_rim, outer_rim = wall & (r < INNER + 1.5), wall & (r > OUTER - 1.5)
    assert lame[inner_rim].mean() > 2 * lame[outer_rim].mean()


def test_depth_runs_from_zero_at_the_lumen_to_one_at_the_outer_wall():
    mask = ring_mask(SIZE, INNER, OUTER)
    depth = wall_priors_kpa(probs(mask), ["depth"])[0, 0].numpy()
    r = pixel_radius(SIZE)
    wall = mask == Label.FIBROUS
    np.testing.assert_allclose(depth[wall], np.clip((r[wall] - INNER) / (OUTER - INNER), 0, 1), atol=0.01)
    assert np.all(depth[~wall] == 0)


def test_priors_commute_with_rotations_and_flips():
    mask = plaque_mask(SIZE)
    base = wall_priors_kpa(probs(mask), ["depth", "lame"])[0]
    for k in range(4):
        for flip in (False, True):
            moved = np.rot90(mask[:, ::-1] if flip else mask, k)
            want = torch.rot90(base.flip(-1) if flip else base, k, dims=(-2, -1))
            torch.testing.assert_close(wall_priors_kpa(probs(moved.copy()), ["depth", "lame"])[0], want,
                                       atol=1e-5, rtol=1e-5)


def test_priors_pass_gradients_to_soft_masks():
    logits = torch.randn(1, 5, SIZE, SIZE) + 8 * probs(ring_mask(SIZE, INNER, OUTER))
    logits.requires_grad_(True)
    wall_priors_kpa(logits.softmax(1), ["depth", "lame"]).sum().backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_bad_priors_are_named():
    with pytest.raises(ValueError, match="unknown prior 'thickness'"):
        wall_priors_kpa(probs(ring_mask(SIZE, INNER, OUTER)), ["thickness"])
    with pytest.raises(ValueError, match="at most once"):
        StressUNet("both", priors=("lame", "lame"))
    with pytest.raises(ValueError, match="need an IVUS mask"):
        StressUNet("image", priors=("lame",))
    with pytest.raises(ValueError, match="LoopConfig.priors: unknown prior 'wall'"):
        LoopConfig(input_mode="both", priors="lame+wall")


def test_prior_unet_trains_with_the_recipe():
    masks = np.stack([ring_mask(32, inner, 13.0) for inner in (4.0, 5.0, 6.0, 7.0)])
    images = (masks == Label.FIBROUS).astype(np.float32)
    labels = np.stack([wall_priors_kpa(probs(m), ["lame"])[0, 0].numpy() for m in masks])
    torch.manual_seed(0)
    model = StressUNet("both", width=4, levels=2, priors=("lame",))
    before = float(np.mean((predict(model, images, masks) - labels) ** 2))
    fit_target(model, images, masks, labels, recipe=FitRecipe(max_steps=60, batch_size=4, lr=1e-2), seed=0)
    after = float(np.mean((predict(model, images, masks) - labels) ** 2))
    assert after < 0.2 * before


def test_the_stress_task_builds_f_with_the_configured_priors():
    from latentmine.tasks import get_task

    config = LoopConfig(input_mode="both", width=4, levels=2, priors="depth+lame")
    model = get_task("ivus-stress").make_target(config)
    assert model.priors == ("depth", "lame") and model.down[0][0].in_channels == 1 + 5 + 2
    assert get_task("ivus-stress").make_target(LoopConfig(input_mode="both")).priors == ()
