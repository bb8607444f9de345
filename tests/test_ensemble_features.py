"""F's ensemble (batched training equals one-by-one training) and its feature maps (closed forms)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as nnf
from loop_toys import ToyLabeller, rings

from latentmine.models import FitRecipe, StressUNet
from latentmine.models.ensemble import TargetEnsemble, batch_schedule, fit_ensemble
from latentmine.models.features import bottleneck_features, gaussian_sketch, last_layer_gradient_features
from latentmine.models.training import target_input

torch.set_num_threads(1)


def labelled(n=12, size=16):
    images, masks = rings(n, seed=3, size=size)
    return images, masks, ToyLabeller()(masks)


@pytest.mark.parametrize("augment", ["d4", "none"])
def test_batched_ensemble_training_equals_training_each_member_alone(augment):
    images, masks, labels = labelled()
    prototype = StressUNet("both", width=4, levels=2, dropout=0.0)
    recipe = FitRecipe(max_steps=6, batch_size=4, lr=1e-2, weight_decay=1e-3, augment=augment)
    runs = {}
    for batched in (True, False):
        ensemble = TargetEnsemble(prototype, 3, seed=5)
        losses = fit_ensemble(ensemble, images, masks, labels, recipe=recipe, seed=1, batched=batched)
        runs[batched] = ensemble, losses
    (one, loss_one), (alone, loss_alone) = runs[True], runs[False]
    # A convolution bias right before a one-channel GroupNorm group has a zero gradient up to rounding,
    # which Adam scales up to +-lr: compare what the members compute, and the weights that matter.
    np.testing.assert_allclose(loss_one, loss_alone, rtol=1e-4)
    np.testing.assert_allclose(one.predict(images, masks), alone.predict(images, masks), rtol=1e-3, atol=1e-2)
    for name in ("head.weight", "head.bias", "down.0.0.weight"):
        torch.testing.assert_close(one.params[name], alone.params[name], rtol=1e-3, atol=1e-5)
    start = TargetEnsemble(prototype, 3, seed=5)
    assert not torch.allclose(start.params["head.weight"], one.params["head.weight"])  # it trained
    assert not torch.allclose(start.params["head.weight"][0], start.params["head.weight"][1])  # own inits
    predictions = one.predict(images, masks)
    assert predictions.shape == (3, 12, 16, 16)
    np.testing.assert_allclose(predictions[1], one.member(1)(target_input("both", images, masks)).detach() * 100,
                               rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("batched", [True, False])
def test_the_ensemble_trains_when_called_under_no_grad(batched):
    # the loop's label-free seed hardness scores under no_grad and trains the round's ensemble lazily
    images, masks, labels = labelled()
    recipe = FitRecipe(max_steps=4, batch_size=4, lr=1e-2, augment="none")
    ensemble = TargetEnsemble(StressUNet("both", width=4, levels=2), 2, seed=5)
    start = ensemble.params["head.weight"].clone()
    with torch.no_grad():
        losses = fit_ensemble(ensemble, images, masks, labels, recipe=recipe, seed=1, batched=batched)
    assert np.all(np.isfinite(losses)) and not torch.allclose(start, ensemble.params["head.weight"])


def test_members_follow_the_recipes_schedule_and_augmentation(monkeypatch):
    """A one-cycle schedule reaches the recipe's peak rate, and D4 turns every drawn batch."""
    import latentmine.models.ensemble as module

    images, masks, labels = labelled()
    rates, turned = [], []
    step = torch.optim.AdamW.step

    def record(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", record)
    d4_batch = module.d4_batch
    monkeypatch.setattr(module, "d4_batch", lambda elements, *t: turned.append(int((elements > 0).sum()))
                        or d4_batch(elements, *t))
    recipe = FitRecipe(max_steps=8, batch_size=4, lr=2e-2, schedule="onecycle")
    fit_ensemble(TargetEnsemble(StressUNet("both", width=4, levels=2), 2, seed=0), images, masks, labels,
                 recipe=recipe, seed=0)
    assert len(rates) == 8 and max(rates) == pytest.approx(2e-2, rel=0.05) and rates[0] < 2e-3 and rates[-1] < 2e-3
    assert len(turned) == 8 and sum(turned) > 8 * 2 * 4 / 2  # 7 of 8 draws are not the identity


def test_each_member_walks_its_own_epochs():
    schedule = batch_schedule(10, 2, 5, 4, seed=0)  # 20 draws per member: two whole epochs
    assert schedule.shape == (2, 5, 4)
    for member in schedule.reshape(2, -1):
        assert sorted(member[:10].tolist()) == list(range(10)) == sorted(member[10:].tolist())
    assert not torch.equal(schedule[0], schedule[1])
    assert batch_schedule(3, 1, 2, 16, seed=0).shape == (1, 2, 3)  # a batch is at most the data
    with pytest.raises(ValueError, match="at least 2 members"):
        TargetEnsemble(StressUNet(), 1, seed=0)


def test_last_layer_gradient_features_are_the_jacobian_of_the_map_in_the_last_layer():
    images, masks, _ = labelled(3, size=8)
    model = StressUNet("image", width=2, levels=2).eval()
    identity = last_layer_gradient_features(model, images, masks, sketch=lambda d: torch.eye(d))
    inputs = target_input("image", images, masks)
    jacobians = []
    for x in inputs:  # d y_p / d W for every output pixel p, by autograd
        rows = []
        for p in range(64):
            model.zero_grad()
            model(x[None])[0].flatten()[p].backward()
            rows.append(model.head.weight.grad.flatten().clone())
        jacobians.append(torch.stack(rows))
    kernel = np.array([[float((a * b).sum()) for b in jacobians] for a in jacobians])
    np.testing.assert_allclose(identity @ identity.T, kernel, rtol=1e-4)  # sum over pixels of <J_p, J_p'>
    sketched = last_layer_gradient_features(model, images, masks, sketch_dim=4096, seed=0)
    # the sketch keeps inner products: error std sqrt(2 / sketch_dim) = 2.2% of |a||b|; allow 4.5 std
    scale = np.sqrt(np.outer(np.diag(kernel), np.diag(kernel)))
    assert (np.abs(sketched @ sketched.T - kernel) <= 0.1 * scale).all()
    assert sketched.shape == (3, 4096)
    big = gaussian_sketch(256, 2048, seed=1)
    assert abs(float((big ** 2).sum(1).mean()) - 1.0) < 0.05  # E ||P^T e_i||^2 = 1


def test_bottleneck_features_pool_the_bottleneck_to_a_grid():
    images, masks, _ = labelled(2, size=16)
    model = StressUNet("image", width=4, levels=3).eval()
    x = target_input("image", images, masks)
    with torch.no_grad():
        bottom = model.down[2](nnf.max_pool2d(model.down[1](nnf.max_pool2d(model.down[0](x), 2)), 2))
    features = bottleneck_features(model, images, masks, grid=2)
    np.testing.assert_allclose(features, nnf.adaptive_avg_pool2d(bottom, 2).flatten(1).numpy(), rtol=1e-5)
    assert features.shape == (2, 16 * 4)
