"""Sampling strategies: the latent gradient step, the nearest-neighbour snap, uncertainty, the gate, the registry."""
import numpy as np
import pytest
import torch
from loop_toys import ToyLabeller, pool_and_test, trained_vae

from latentmine import sampling, tasks
from latentmine.fea.examples import plaque_mask, ring_mask
from latentmine.labels import Label
from latentmine.loop import LoopConfig, gate, gate_problems, wall_thickness
from latentmine.models import FitRecipe, StressUNet, WeightedMSE, fit_target
from latentmine.sampling import Context, get_strategy, latent_gradient, seed_loss

torch.set_num_threads(1)


def context(labeller=None, **options):
    pool, test = pool_and_test()
    labels = ToyLabeller()(test.masks)
    target = StressUNet(options.get("input_mode", "image"), width=8, levels=2)
    fit_target(target, test.images, test.masks, labels, recipe=FitRecipe(max_steps=4, batch_size=4, lr=1e-3),
               seed=0)
    config = LoopConfig(**{"width": 8, "levels": 2, **options})
    return Context(trained_vae(), target, WeightedMSE(config.peak_weight), config.label_scale, pool.images,
                   pool.masks, pool.ids, np.ones(len(pool), bool), test.images, test.masks, labels, test.ids, config,
                   labeller, task=tasks.get_task("ivus-stress"))


def seeds(ctx, index):
    with torch.no_grad():
        z, _ = ctx.generator.encode(torch.from_numpy(ctx.train_images[index]),
                                    torch.from_numpy(ctx.train_masks[index].astype(np.int64)))
    labels = torch.from_numpy(ctx.train_labels[index]) / ctx.label_scale
    return z, labels, torch.from_numpy(ctx.train_masks[index].astype(np.int64))


@pytest.mark.parametrize("options", [{}, {"input_mode": "both", "peak_weight": 2.0}, {"input_mode": "mask"}])
def test_latent_gradient_points_uphill_row_by_row(options):
    ctx = context(**options)
    z, labels, masks = seeds(ctx, np.arange(6))
    grad = latent_gradient(ctx, z, labels, masks)
    with torch.no_grad():
        before = seed_loss(ctx, z, labels, masks)
        after = seed_loss(ctx, z + 1e-2 * grad / grad.norm(dim=1, keepdim=True), labels, masks)
        downhill = seed_loss(ctx, z - 1e-2 * grad / grad.norm(dim=1, keepdim=True), labels, masks)
    assert (after > before).all() and (downhill < before).all()
    # one seed's gradient does not depend on the other seeds in the batch
    torch.testing.assert_close(latent_gradient(ctx, z[2:3], labels[2:3], masks[2:3]), grad[2:3],
                               rtol=1e-4, atol=1e-7)


def test_gradient_proposals_step_eta_along_the_normalised_gradient():
    ctx = context(step_size=0.3)
    proposals = get_strategy("gradient").propose(ctx, 5, np.random.default_rng(0))
    parents = [ctx.train_ids.index(p) for p in proposals.parent_ids]
    z, labels, masks = seeds(ctx, np.array(parents))
    np.testing.assert_allclose(proposals.z, z.numpy(), rtol=1e-5, atol=1e-6)
    grad = latent_gradient(ctx, z, labels, masks)
    expected = z + 0.3 * grad / grad.norm(dim=1, keepdim=True)
    np.testing.assert_allclose(proposals.z_new, expected.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(proposals.grad_norm, grad.norm(dim=1).numpy(), rtol=1e-4)
    decoded = ctx.generator.decode(torch.from_numpy(proposals.z_new))[1].argmax(1).numpy()
    np.testing.assert_array_equal(proposals.masks, decoded)  # the labelling tool labels G_mask(z')


def test_decoded_label_target_labels_the_decoded_seed_masks():
    labeller = ToyLabeller()
    ctx = context(labeller, label_target="decoded")
    proposals = get_strategy("gradient").propose(ctx, 4, np.random.default_rng(0))
    decoded = ctx.generator.decode(torch.from_numpy(proposals.z))[1].argmax(1).numpy().astype(np.uint8)
    valid = [m.tobytes() for m in decoded if not gate_problems(m)]
    assert valid and labeller.labelled == valid  # the tool labelled G_mask(z) of every valid seed, nothing else


@pytest.mark.parametrize("options, check", [
    (dict(steps=3, step_size=0.2, trust_radius=0.25), lambda d, z1: d <= 0.25 + 1e-5),
    (dict(step_size=5.0, max_norm=1.5), lambda d, z1: np.linalg.norm(z1, axis=1) <= 1.5 + 1e-4),
    (dict(steps=2, step_size=0.2), lambda d, z1: (d > 0.2) & (d <= 0.4 + 1e-5)),
])
def test_several_steps_trust_radius_and_latent_ball(options, check):
    ctx = context(**options)
    proposals = get_strategy("gradient").propose(ctx, 4, np.random.default_rng(1))
    distance = np.linalg.norm(proposals.z_new - proposals.z, axis=1)
    assert check(distance, proposals.z_new).all()


def test_nearest_neighbour_snaps_to_distinct_nearest_available_pool_samples():
    ctx = context()
    ctx.available[:10] = False
    proposals = get_strategy("gradient-nn").propose(ctx, 6, np.random.default_rng(2))
    chosen = proposals.pool_index
    assert len(set(chosen)) == 6 and (chosen >= 10).all()
    embeddings = sampling.gradient.pool_embeddings(ctx).numpy()
    first = np.linalg.norm(embeddings[10:] - proposals.z_new[0], axis=1).argmin() + 10
    assert chosen[0] == first
    np.testing.assert_array_equal(proposals.masks, ctx.pool_masks[chosen])


class DropoutEcho(torch.nn.Module):
    """F(x) = dropout(x): its MC-dropout variance grows with the squared image intensity."""

    input_mode = "image"

    def forward(self, x):
        return torch.nn.functional.dropout(x[:, 0], 0.5, self.training)


def test_uncertainty_proposes_the_highest_mc_dropout_variance_pool_samples():
    ctx = context(mc_samples=6, candidates=None)
    ctx.target = DropoutEcho()
    ctx.pool_images = ctx.pool_images.copy()
    ctx.pool_images[[3, 7]] = 1.0  # brightest: the largest variance under dropout
    ctx.available[3] = False
    proposals = get_strategy("uncertainty").propose(ctx, 2, np.random.default_rng(0))
    assert proposals.pool_index[0] == 7 and proposals.pool_index[1] != 3


def test_latent_random_and_random_propose_what_they_say():
    ctx = context()
    decoded = get_strategy("latent-random").propose(ctx, 3, np.random.default_rng(0))
    assert (decoded.pool_index == sampling.SYNTHETIC).all() and np.isnan(decoded.z).all()
    real = get_strategy("random").propose(ctx, 50, np.random.default_rng(0))
    assert sorted(real.pool_index) == list(range(40))  # capped at the available pool, no repeats


def test_registry_accepts_new_strategies_and_refuses_clashes():
    @sampling.register_strategy("first-k")
    class FirstK:
        name = "first-k"

        def propose(self, ctx, k, rng):
            return sampling.simple.real_samples(ctx, np.flatnonzero(ctx.available)[:k])

    assert "first-k" in sampling.available_strategies()
    assert list(get_strategy("first-k").propose(context(), 3, None).pool_index) == [0, 1, 2]
    with pytest.raises(ValueError, match="already registered"):
        sampling.register_strategy("random", FirstK)
    with pytest.raises(ValueError, match="unknown strategy 'nope'"):
        get_strategy("nope")


def test_gate_accepts_good_masks_and_names_what_is_wrong_with_bad_ones():
    good = [ring_mask(32, 6, 12), plaque_mask(64)]
    assert all(not gate_problems(m) for m in good)
    thin = ring_mask(32, 10, 11.5)
    island = ring_mask(32, 6, 12)
    island[1:3, 1:3] = Label.FIBROUS
    open_lumen = ring_mask(32, 6, 12)
    open_lumen[16, 16:] = Label.LUMEN
    no_lumen = np.where(good[0] == Label.LUMEN, Label.FIBROUS, good[0]).astype(np.uint8)
    passed, reasons = gate(np.stack([good[0], thin, island, open_lumen, no_lumen]))
    assert passed.tolist() == [True, False, False, False, False]
    # without a lumen, the wall is also an unloaded island
    assert reasons == {"thin-wall": 1, "island": 2, "open-lumen": 1, "open-wall": 1, "no-lumen": 1}
    assert wall_thickness(thin) < 2 <= wall_thickness(good[0])
    assert wall_thickness(ring_mask(32, 6, 12)) == pytest.approx(6, abs=1.0)
    assert not gate_problems(thin, min_wall_px=0)
