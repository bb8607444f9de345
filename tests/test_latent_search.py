"""The latent search beyond the published step: label-free hardness, hard seeds, re-encoding in a trust
region, diverse batches, and realistic images of decoded samples."""
import numpy as np
import pytest
import torch
from loop_toys import ToyLabeller, pool_and_test, trained_vae
from test_sampling import context, seeds

from latentmine.loop import LoopConfig, SuggestiveLoop
from latentmine.models import RenderedGenerator, decode_pairs
from latentmine.models.vae import encode_arrays
from latentmine.phantoms import BModeRenderer
from latentmine.sampling import get_strategy, hardness, latent_gradient, rayleigh_speckle
from latentmine.sampling.gradient import diverse_rows
from latentmine.sampling.hardness import decoded_input, training_hardness

torch.set_num_threads(1)


class PixelDropout(torch.nn.Module):
    """F(x) = dropout_0.5(x): per pixel 0 or 2x, so the MC variance of a pixel is x^2 exactly in expectation."""

    input_mode = "image"

    def __init__(self):
        super().__init__()
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(x[:, 0])


def test_mc_dropout_hardness_is_the_closed_form_variance_and_needs_no_label():
    ctx = context(hardness="mc-dropout", mc_samples=2000)
    ctx.target = PixelDropout()
    z, labels, masks = seeds(ctx, np.arange(4))
    with torch.no_grad():
        score = hardness(ctx, z, labels, masks, seed=3)
        again = hardness(ctx, z, labels * 0 + 7.0, masks * 0, seed=3)  # other labels: same score
        image = decoded_input(ctx, z)[:, 0]
    expected = (image ** 2).flatten(1).mean(1)
    torch.testing.assert_close(score, expected, rtol=0.05, atol=1e-6)
    torch.testing.assert_close(again, score)
    assert not ctx.target.training and not ctx.target.drop.training  # dropout switched off again


@pytest.mark.parametrize("kind", ["ensemble", "mc-dropout"])
def test_label_free_hardness_gradient_points_uphill(kind):
    ctx = context(hardness=kind, ensemble_members=3, ensemble_steps=20, mc_samples=4)
    z, labels, masks = seeds(ctx, np.arange(5))
    grad = latent_gradient(ctx, z, labels, masks, seed=11)
    unit = grad / grad.norm(dim=1, keepdim=True)
    with torch.no_grad():
        before = hardness(ctx, z, labels, masks, seed=11)
        up = hardness(ctx, z + 1e-2 * unit, labels, masks, seed=11)
        down = hardness(ctx, z - 1e-2 * unit, labels, masks, seed=11)
    assert (up > before).all() and (down < before).all()
    if kind == "mc-dropout":
        return  # the dropout masks of a row depend on its place in the batch
    # row-wise: one seed's gradient does not depend on the rest of the batch
    torch.testing.assert_close(latent_gradient(ctx, z[1:2], labels[1:2], masks[1:2], seed=11), grad[1:2],
                               rtol=1e-4, atol=1e-8)


def test_hardness_seed_selection_steps_from_the_hardest_seeds_first():
    ctx = context(seed_selection="hardness")
    proposals = get_strategy("gradient").propose(ctx, 3, np.random.default_rng(0))
    score = training_hardness(ctx, seed=0)  # the loss needs no dropout seed
    hardest = [ctx.train_ids[i] for i in np.argsort(-score, kind="stable")[:3]]
    assert proposals.parent_ids == hardest
    z, labels, masks = seeds(ctx, np.arange(len(ctx.train_ids)))
    with torch.no_grad():
        np.testing.assert_allclose(score, hardness(ctx, z, labels, masks).numpy(), rtol=1e-5)


def test_ensemble_seed_selection_trains_the_rounds_ensemble_on_first_use():
    # the seeds are scored before any step, under no_grad: the round's ensemble is trained right there
    ctx = context(seed_selection="hardness", hardness="ensemble", ensemble_members=2, ensemble_steps=5)
    proposals = get_strategy("gradient-nn").propose(ctx, 3, np.random.default_rng(0))
    assert len(set(proposals.pool_index.tolist())) == 3 and (proposals.pool_index >= 0).all()  # real frames
    score = training_hardness(ctx, seed=0)  # the cached ensemble: the ranking the proposal used
    hardest = [ctx.train_ids[i] for i in np.argsort(-score, kind="stable")[:3]]
    assert proposals.parent_ids == hardest and np.all(score > 0)


def test_reencoding_puts_the_step_through_the_encoder():
    ctx = context(step_size=0.4, reencode=True)
    proposals = get_strategy("gradient").propose(ctx, 3, np.random.default_rng(0))
    index = np.array([ctx.train_ids.index(p) for p in proposals.parent_ids])
    z, labels, masks = seeds(ctx, index)
    grad = latent_gradient(ctx, z, labels, masks)
    stepped = z + 0.4 * grad / grad.norm(dim=1, keepdim=True)
    images, decoded = decode_pairs(ctx.generator, stepped)
    expected = encode_arrays(ctx.generator, images.numpy(), decoded.numpy())
    np.testing.assert_allclose(proposals.z_new, expected.numpy(), rtol=1e-4, atol=1e-5)


def test_every_reencoded_step_stays_in_the_trust_region():
    ctx = context(step_size=0.5, steps=3, reencode=True, trust_radius=0.3)
    proposals = get_strategy("gradient").propose(ctx, 4, np.random.default_rng(1))
    assert (np.linalg.norm(proposals.z_new - proposals.z, axis=1) <= 0.3 + 1e-5).all()


def test_diverse_rows_never_keep_two_near_duplicates():
    ctx = context(diversity="latent")
    train = encode_arrays(ctx.generator, ctx.train_images, ctx.train_masks)
    far = train.norm(dim=1).max() + 10.0
    axis = torch.eye(train.shape[1])
    z1 = torch.stack([far * axis[0], far * axis[0] + 1e-3 * axis[1], -far * axis[0], train[0] + 1e-3 * axis[2]])
    picks = diverse_rows(ctx, z1, 2, np.random.default_rng(0))
    assert sorted(picks) in ([0, 2], [1, 2])  # the two far points; never both twins, never the one on a seed


@pytest.mark.parametrize("strategy", ["gradient", "gradient-nn"])
@pytest.mark.parametrize("kind", ["latent", "target"])
def test_diverse_batches_have_the_requested_size(strategy, kind):
    ctx = context(diversity=kind, oversample=3)
    proposals = get_strategy(strategy).propose(ctx, 4, np.random.default_rng(0))
    assert len(proposals) == 4 and len(set(proposals.parent_ids)) >= 2


def test_rayleigh_speckle_has_unit_mean_and_the_speckle_snr():
    images = np.full((4, 64, 64), 0.1, np.float32)
    speckled = rayleigh_speckle(images, np.random.default_rng(0))
    assert speckled.dtype == np.float32 and speckled.min() >= 0 and speckled.max() <= 1
    assert speckled.mean() == pytest.approx(0.1, rel=0.01)
    # fully developed speckle: mean / std = 1 / sqrt(4 / pi - 1) = 1.91 (Wagner et al. 1983)
    assert speckled.mean() / speckled.std() == pytest.approx(1.913, rel=0.02)


class MaskShade:
    """A renderer whose image is the mask code / 10: easy to recognise."""

    def __call__(self, masks, rng=None):
        return np.asarray(masks, np.float32) / 10.0


@pytest.mark.parametrize("strategy", ["gradient", "latent-random"])
def test_bmode_render_images_the_decoded_mask_and_leaves_the_latent_step_alone(strategy):
    plain = context(step_size=0.3)
    rendered = context(step_size=0.3, render="bmode")
    rendered.generator = RenderedGenerator(plain.generator, MaskShade())
    a = get_strategy(strategy).propose(plain, 4, np.random.default_rng(5))
    b = get_strategy(strategy).propose(rendered, 4, np.random.default_rng(5))
    np.testing.assert_array_equal(b.z_new, a.z_new)
    np.testing.assert_array_equal(b.masks, a.masks)
    np.testing.assert_array_equal(b.images, a.masks.astype(np.float32) / 10.0)
    speckled = context(step_size=0.3, render="speckle")
    c = get_strategy(strategy).propose(speckled, 4, np.random.default_rng(5))
    np.testing.assert_array_equal(c.masks, a.masks)
    assert not np.allclose(c.images, a.images) and 0.5 < c.images.mean() / a.images.mean() < 1.5


def test_the_cohort_renderer_gives_decoded_masks_speckled_bmode_images():
    ctx = context(render="bmode")
    ctx.generator = RenderedGenerator(ctx.generator, BModeRenderer(seed=0))
    proposals = get_strategy("latent-random").propose(ctx, 2, np.random.default_rng(0))
    images, masks = (p.numpy() for p in decode_pairs(ctx.generator, torch.from_numpy(proposals.z_new)))
    np.testing.assert_array_equal(proposals.masks, masks)
    assert proposals.images.shape == masks.shape and 0 <= proposals.images.min() and proposals.images.max() <= 1
    # speckle: far rougher than the smooth decoded image
    roughness = lambda x: np.abs(np.diff(x, axis=-1)).mean()  # noqa: E731
    assert roughness(proposals.images) > 2 * roughness(images)


def test_a_generator_without_renderer_asked_to_render_raises():
    pool, test = pool_and_test()
    with pytest.raises(ValueError, match="render='bmode'.*VAE has none"):
        SuggestiveLoop(trained_vae(), ToyLabeller(), pool=pool, test=test,
                       config=LoopConfig(render="bmode", width=8, levels=2))
    ctx = context(render="bmode")
    with pytest.raises(ValueError, match="render='bmode'"):
        get_strategy("latent-random").propose(ctx, 2, np.random.default_rng(0))


@pytest.mark.parametrize("field, value", [
    ("hardness", "variance"), ("seed_selection", "hardest"), ("diversity", "pixels"), ("render", "bmodes"),
    ("oversample", 0), ("reencode", "yes"),
])
def test_bad_latent_search_options_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"LoopConfig.{field}"):
        LoopConfig(**{field: value})


def test_mc_dropout_hardness_without_dropout_is_refused():
    with pytest.raises(ValueError, match="LoopConfig.hardness='mc-dropout'.*dropout"):
        LoopConfig(hardness="mc-dropout", dropout=0.0)


def test_a_bmode_run_trains_on_rendered_decoded_samples(tmp_path):
    from latentmine.loop.rendering import with_cohort_renderer

    vae = trained_vae()
    assert with_cohort_renderer(vae, "none", 0) is vae and with_cohort_renderer(vae, "speckle", 0) is vae
    generator = with_cohort_renderer(vae, "bmode", 0)
    assert isinstance(generator, RenderedGenerator) and with_cohort_renderer(generator, "bmode", 1) is generator
    pool, test = pool_and_test()
    config = LoopConfig(render="bmode", rounds=1, initial=4, per_round=4, epochs=1, width=8, levels=2,
                        initial_strategy="random")
    loop = SuggestiveLoop(generator, ToyLabeller(), pool=pool, test=test, config=config, run_dir=tmp_path / "run")
    loop.run(progress=False)
    decoded = [i for i, row in enumerate(loop.provenance) if row["pool_index"] < 0]
    assert len(decoded) >= 2   # gradient's round: stepped seeds, decoded
    images = loop.train_set.images[decoded]
    smooth, _ = decode_pairs(vae, torch.tensor([loop.provenance[i]["z_new"] for i in decoded], dtype=torch.float32))
    roughness = lambda x: np.abs(np.diff(x, axis=-1)).mean()  # noqa: E731
    assert roughness(images) > 2 * roughness(smooth.numpy())   # the speckled B-mode images were stored
