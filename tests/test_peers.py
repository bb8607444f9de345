"""The peer strategies: ensemble, coreset, lcmd and typiclust, on hand-computed cases and in the loop."""
import numpy as np
import pytest
import torch
from loop_toys import ToyLabeller, pool_and_test, trained_vae

from latentmine import sampling, tasks
from latentmine.labels import Label
from latentmine.loop import LoopConfig, SuggestiveLoop
from latentmine.models import FitRecipe, StressUNet, WeightedMSE, fit_target
from latentmine.sampling import (Context, disagreement, get_strategy, k_centre, largest_cluster_max_distance,
                                 typical_picks)
from latentmine.sampling.typiclust import kmeans, typicality

torch.set_num_threads(1)
STRESS = tasks.get_task("ivus-stress")
PEERS = ("ensemble", "coreset", "lcmd", "typiclust")
FAST = dict(width=8, levels=2, ensemble_members=3, ensemble_steps=4, batch_size=4, candidates=None)


def context(n_train=8, **options):
    """A trained F on 8 labelled rings; 40 pool rings, of which the first 5 are labelled and 2 more proposed."""
    pool, _ = pool_and_test()
    labels = ToyLabeller()(pool.masks[:n_train])
    target = StressUNet("image", width=8, levels=2)
    fit_target(target, pool.images[:n_train], pool.masks[:n_train], labels,
               recipe=FitRecipe(max_steps=2 * -(-n_train // 4), batch_size=4, lr=1e-3), seed=0)
    config = LoopConfig(**{**FAST, **options})
    available = np.ones(len(pool), bool)
    available[:n_train] = False
    return Context(trained_vae(), target, WeightedMSE(), config.label_scale, pool.images, pool.masks, pool.ids,
                   available, pool.images[:n_train], pool.masks[:n_train], labels, pool.ids[:n_train], config,
                   task=STRESS)


def test_coreset_picks_the_hand_computed_farthest_point_sequence():
    #            a       b       c       d       e        labelled centre at (0, 0)
    points = np.array([[1, 0], [4, 0], [0, 3], [6, 6], [5, 0]], float)
    # min distances to the centres: a 1, b 4, c 3, d 8.49, e 5 -> d; then e (5 < 6.08); then c (3 < 5.83);
    # then a and b are both at distance 1 (a from the centre, b from e): the tie goes to the lower row, a
    assert k_centre(points, np.zeros((1, 2)), 4, np.random.default_rng(0)) == [3, 4, 2, 0]


def test_lcmd_matches_a_hand_computed_case_where_k_centre_differs():
    # centres 0 and 100; cluster of 0: {±6, ±7, ±8} (sum of squared distances 298), cluster of 100: {112} (144)
    pool = np.array([6, 7, 8, -6, -7, -8, 112], float)[:, None]
    centres = np.array([[0.0], [100.0]])
    # largest cluster first: 8 (ties with -8, lower row); 8 takes over 6 and 7, leaving {-6, -7, -8} (149)
    # against {112} (144): -8; then only {112} is left with a positive size
    assert largest_cluster_max_distance(pool, centres, 3) == [2, 5, 6]
    assert k_centre(pool, centres, 3, np.random.default_rng(0)) == [6, 2, 5]  # the single far point first
    # with no centre, the first pick is the largest norm (bmdal_reg), then the farthest from it
    assert largest_cluster_max_distance(np.array([[1.0], [-3.0], [2.0]]), np.zeros((0, 1)), 2) == [1, 2]


def test_typicality_is_the_inverse_mean_distance_to_the_nearest_neighbours():
    points = np.array([[0.0], [1.0], [3.0]])
    np.testing.assert_allclose(typicality(points, 2), 1 / (np.array([2.0, 1.5, 2.5]) + 1e-5))
    np.testing.assert_allclose(typicality(points, 1), 1 / (np.array([1.0, 1.0, 2.0]) + 1e-5))


def blobs(rng, centres, spread=1.0, core=0.01):
    """Per blob: 5 tightly packed core points (the densest) and 10 scattered ones."""
    parts, cores = [], []
    for c in centres:
        cores.append(np.arange(5) + sum(len(p) for p in parts))
        parts.append(np.concatenate([c + rng.normal(0, core, (5, 2)), c + rng.normal(0, spread, (10, 2))]))
    return np.concatenate(parts), cores


def test_typiclust_takes_the_densest_point_of_each_blob_and_skips_labelled_blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [50, 0], [0, 50]], float)
    points, cores = blobs(rng, centres)
    picks = typical_picks(points, np.zeros((0, 2)), 3, np.random.default_rng(1))
    assert sorted(p // 15 for p in picks) == [0, 1, 2]  # one per blob
    assert all(p in np.concatenate(cores) for p in picks)  # from the dense core
    picks = typical_picks(points, centres[:1] + 0.5, 2, np.random.default_rng(1))  # a label in blob 0
    assert sorted(p // 15 for p in picks) == [1, 2]
    labels = kmeans(points, 3, np.random.default_rng(2))
    assert len({tuple(np.unique(labels[i * 15:(i + 1) * 15])) for i in range(3)}) == 3


def test_ensemble_disagreement_is_the_material_variance_or_the_pss_variance():
    masks = np.full((2, 4, 4), Label.OUTSIDE, np.uint8)
    masks[:, 1:3, 1:3] = Label.LUMEN
    masks[:, 0, :] = Label.FIBROUS  # 4 material pixels, the first row, next to the lumen
    agree = np.ones((3, 4, 4))
    differ = np.stack([np.zeros((4, 4)), np.ones((4, 4)), 2 * np.ones((4, 4))])
    differ[:, 3, :] = 100.0  # outside the material: never counts
    predictions = np.stack([agree, differ], axis=1)  # (M=3, N=2, 4, 4)
    np.testing.assert_allclose(disagreement(predictions, masks, "material", STRESS), [0.0, 2 / 3])
    np.testing.assert_allclose(disagreement(predictions, masks, "pss", STRESS), [0.0, 2 / 3], rtol=1e-6)


class Gain(torch.nn.Module):
    """F(x) = a * image: members with different gains agree on a black image and disagree on a bright one."""

    input_mode = "image"

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.ones(()))

    def forward(self, x):
        return self.a * x[:, 0]


def test_ensemble_ranks_a_sample_its_members_disagree_on_above_one_they_agree_on():
    ctx = context()
    ctx.pool_images = np.full_like(ctx.pool_images, 0.5)
    ctx.pool_images[20], ctx.pool_images[21] = 1.0, 0.0  # most and least disagreement between the gains
    ensemble = sampling.ensemble.TargetEnsemble(Gain(), 3, seed=0)
    ensemble.params["a"] = torch.tensor([0.5, 1.0, 1.5])
    ctx.cache[("ensemble", ctx.round, len(ctx.train_ids))] = ensemble  # this round's ensemble
    order = get_strategy("ensemble").propose(ctx, 32, np.random.default_rng(0)).pool_index
    assert order[0] == 20 and order[-1] == 21


def test_the_rounds_ensemble_has_independent_members_and_serves_uncertainty():
    ctx = context(uncertainty_estimator="ensemble")
    ensemble = sampling.round_ensemble(ctx)
    weights = [ensemble.member(m).head.weight for m in range(3)]
    assert not torch.allclose(weights[0], weights[1])  # independently initialised
    assert sampling.round_ensemble(ctx) is ensemble  # trained once per round
    scores = disagreement(ensemble.predict(ctx.pool_images, ctx.pool_masks), ctx.pool_masks, "material", STRESS)
    assert np.isfinite(scores).all() and (scores > 0).all()
    chosen = get_strategy("uncertainty").propose(ctx, 2, np.random.default_rng(0)).pool_index
    variance = ensemble.predict(ctx.pool_images, ctx.pool_masks).var(axis=0).reshape(40, -1).mean(1)
    variance[~ctx.available] = -np.inf
    assert list(chosen) == list(np.argsort(-variance, kind="stable")[:2])


@pytest.mark.parametrize("strategy", PEERS)
def test_each_strategy_proposes_k_distinct_pool_samples_that_are_left(strategy):
    ctx = context()
    ctx.available[[12, 30]] = False  # proposed earlier in this round
    proposals = get_strategy(strategy).propose(ctx, 6, np.random.default_rng(0))
    chosen = proposals.pool_index
    assert len(chosen) == 6 == len(set(chosen.tolist())) and ctx.available[chosen].all()
    np.testing.assert_array_equal(proposals.masks, ctx.pool_masks[chosen])
    with pytest.raises(ValueError, match="exceeds the 30 pool samples left"):
        get_strategy(strategy).propose(ctx, 31, np.random.default_rng(0))


class NoLayers(torch.nn.Module):
    """An F without a bottleneck or a last layer to take features from."""

    input_mode = "image"

    def forward(self, x):
        return x[:, 0]


@pytest.mark.parametrize("strategy, breaks", [
    ("coreset", lambda ctx: setattr(ctx, "target", NoLayers())),
    ("lcmd", lambda ctx: setattr(ctx, "target", NoLayers())),
    ("ensemble", lambda ctx: setattr(ctx, "target", None)),
    ("typiclust", lambda ctx: setattr(ctx, "generator", None)),
])
def test_missing_features_are_a_value_error(strategy, breaks):
    ctx = context()
    breaks(ctx)
    with pytest.raises(ValueError, match="features are missing"):
        get_strategy(strategy).propose(ctx, 2, np.random.default_rng(0))


def test_covered_samples_count_as_centres_and_options_choose_the_features():
    ctx = context(coreset_features="latent")
    first = get_strategy("coreset").propose(ctx, 1, np.random.default_rng(0)).pool_index[0]
    ctx.available[first] = False  # proposed: the next call must stay away from it as from a labelled sample
    pool, train = ctx.cache[("coreset-latent", 0, 8)]
    second = get_strategy("coreset").propose(ctx, 1, np.random.default_rng(0)).pool_index[0]
    rows = np.flatnonzero(ctx.available)
    expected = k_centre(pool[rows], np.concatenate([train, pool[[first]]]), 1, None)[0]
    assert second == rows[expected] and second != first
    with pytest.raises(ValueError, match="coreset_features"):
        LoopConfig(coreset_features="pixels")


@pytest.mark.parametrize("strategy", PEERS)
def test_the_loop_runs_each_strategy_without_labelling_twice(tmp_path, strategy):
    pool, test = pool_and_test()
    labeller = ToyLabeller()
    config = LoopConfig(strategy=strategy, rounds=2, per_round=4, initial=4, epochs=1, **FAST)
    run = SuggestiveLoop(trained_vae(), labeller, pool=pool, test=test, config=config, run_dir=tmp_path / "run")
    rows = run.run(progress=False)
    ids = run.train_set.ids
    assert [row["strategy"] for row in rows] == ["random", strategy, strategy]
    assert len(ids) == 12 == len(set(ids)) and all(i.startswith("p") for i in ids)
    assert len(labeller.labelled) == 8 + 12


def test_run_and_study_commands_take_the_peer_strategies(tmp_path):
    from latentmine.cli import main
    from latentmine.cli.study import study_config
    from latentmine.data import save_dataset
    from latentmine.study import STRATEGY_SETS

    pool, test = pool_and_test(n_pool=16, n_test=4)
    save_dataset(tmp_path / "pool", pool.images, pool.masks, pixel_size_mm=0.1, ids=pool.ids)
    save_dataset(tmp_path / "test", test.images, test.masks, ToyLabeller()(test.masks), pixel_size_mm=0.1,
                 ids=test.ids)
    assert main(["train-vae", "--data", str(tmp_path / "pool"), "--out", str(tmp_path / "vae"), "--latent-dim", "4",
                 "--width", "4", "--epochs", "2", "--batch-size", "8"]) == 0
    assert main(["run", "--pool", str(tmp_path / "pool"), "--test", str(tmp_path / "test"),
                 "--vae", str(tmp_path / "vae" / "vae.pt"), "--out", str(tmp_path / "run"), "--strategy", "ensemble",
                 "--rounds", "1", "--per-round", "3", "--initial", "3", "--epochs", "1", "--set", "width=4",
                 "--set", "levels=2", "--set", "ensemble_members=2", "--set", "ensemble_steps=2",
                 "--set", "ensemble_score=\"pss\"", "--labeller", "loop_toys:ToyLabeller"]) == 0
    assert len((tmp_path / "run" / "metrics.csv").read_text().splitlines()) == 3
    args = type("Args", (), dict(preset="default", strategies="peers,latent-random", repeats=None, overrides=[]))
    config = study_config(args)
    assert config.strategies == STRATEGY_SETS["peers"] + ("latent-random",) == (
        "random", "uncertainty", "ensemble", "coreset", "lcmd", "typiclust", "gradient", "gradient-nn", "latent-random")
