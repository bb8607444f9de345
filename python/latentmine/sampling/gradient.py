"""The method: step labelled seeds' latent points along the gradient of F's loss.

Mo et al., "Efficient Deep Representation Learning by Adaptive Latent Space
Sampling", arXiv 2004.02757. For a labelled seed ``x`` with label ``y``:
``z = mu_E(x)``; ``L(z) = loss(F(G(z)), y)``; ``g = dL/dz``;
``z' = z + eta * g / ||g||`` (repeated ``steps`` times). Moving uphill on F's
loss lands on samples F gets wrong, which are then labelled. Two samplers:

* ``gradient`` ("interpolation"): decode ``G(z')`` and label the synthetic pair;
* ``gradient-nn`` ("nearest neighbour"): label the real pool sample whose
  embedding ``mu_E`` is nearest to ``z'``.

Options (read from ``ctx.options``): ``step_size``, ``steps``,
``trust_radius`` (``||z' - z|| <= r``), ``max_norm`` (``||z'|| <= R``),
``noise_std`` (``resample_noise`` if larger when replacing gate rejections),
and ``label_target`` ("seed": ``y`` is the seed's own label; "decoded": ``y``
is a fresh label of the decoded seed mask ``G_mask(z)``).

Beyond the published method (each off by default):

* ``hardness``: the score the step ascends, F's loss or a label-free
  disagreement of F on ``G(z)``; ``seed_selection="hardness"`` steps from the
  hardest seeds (:mod:`latentmine.sampling.hardness`);
* ``reencode``: after every step ``z <- mu_E(G(z))``, which pulls ``z`` back
  to where the encoder puts real samples; with ``trust_radius`` each step
  (not only the last) is projected into the ball ``||z' - z|| <= r``, so
  several small steps form a trust-region walk;
* ``diversity`` ("latent": the stepped ``z'``; "target": F's bottleneck on
  ``G(z')``): ``oversample * k`` seeds are stepped and greedy k-centre
  (:func:`latentmine.sampling.coreset.k_centre`, the training set as the first
  centres) keeps ``k`` of them, so that one round does not propose
  near-duplicates;
* ``render``: the image of a decoded proposal (:mod:`latentmine.sampling.realism`).
"""
from __future__ import annotations

import numpy as np
import torch

from ..models.vae import decode_pairs, encode_arrays
from ..ops import latent_step
from .base import Context, Proposals, register_strategy, torch_generator
from .coreset import coverage_features, k_centre
from .hardness import choose_seeds, hardness, seed_labels
from .realism import realistic_images
from .simple import LatentRandom, latent_dim, real_samples

DIVERSITY = ("none", "latent", "target")


def latent_gradient(ctx: Context, z: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor,
                    seed: int = 0) -> torch.Tensor:
    """``d hardness / dz`` for every seed at once: F and G in eval mode, so each row depends on its own seed only.

    The hardness is ``options.hardness`` (:func:`latentmine.sampling.hardness.hardness`;
    by default the loss :func:`seed_loss`); ``seed`` fixes MC-dropout masks.
    """
    z = z.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(hardness(ctx, z, labels, masks, seed=seed).sum(), z)
    return grad


def reencode(ctx: Context, z: torch.Tensor) -> torch.Tensor:
    """``mu_E(G(z))``: the decoded pair (clamped image, hard mask) encoded again."""
    images, masks = decode_pairs(ctx.generator, z)
    return encode_arrays(ctx.generator, images.numpy(), masks.numpy()).to(z.device)


def within_radius(z: torch.Tensor, z0: torch.Tensor, radius: float | None) -> torch.Tensor:
    """``z`` with every row's offset from ``z0`` shortened to at most ``radius`` (unchanged for None)."""
    if radius is None:
        return z
    offset = z - z0
    length = offset.norm(dim=1, keepdim=True)
    return z0 + offset * torch.clamp(radius / length.clamp_min(1e-12), max=1.0)


def ascend(ctx: Context, z0: torch.Tensor, labels, masks, rng: np.random.Generator):
    """``options.steps`` normalised gradient steps from ``z0``; returns ``(z', ||g(z0)||)``.

    With ``options.reencode`` every step is followed by ``z <- mu_E(G(z))``;
    every step ends inside ``options.trust_radius`` of ``z0``.
    """
    opts = ctx.options
    noise = opts.noise_std if ctx.attempt == 0 else max(opts.noise_std, opts.resample_noise)
    generator = torch_generator(rng, z0.device)
    dropout_seed = int(rng.integers(2 ** 62))
    z, first_norm = z0, None
    for _ in range(opts.steps):
        grad = latent_gradient(ctx, z, labels, masks, seed=dropout_seed)
        if first_norm is None:
            first_norm = grad.norm(dim=1)
        z = latent_step(z.contiguous(), grad.contiguous(), opts.step_size, max_norm=opts.max_norm,
                        noise_std=noise, generator=generator)
        if opts.reencode:
            z = reencode(ctx, z)
        z = within_radius(z, z0, opts.trust_radius)
    return z.detach(), first_norm


def _seed_targets(ctx: Context, index: np.ndarray, z0: torch.Tensor):
    """Labels (normalised) and masks to step against: the seeds' own, or fresh labels of G_mask(z0)."""
    device = z0.device
    labels, masks = seed_labels(ctx, index, device)
    if ctx.options.label_target == "seed":
        return labels, masks
    if ctx.labeller is None:
        raise ValueError("label_target='decoded' needs a labeller")
    images, decoded = (part.numpy() for part in decode_pairs(ctx.generator, z0))
    valid = ctx.valid(Proposals.make(images, decoded, latent_dim=latent_dim(ctx.generator)))
    if valid.any():  # seeds whose decoded sample the tool cannot label keep their own label
        fresh = np.asarray(ctx.label(images[valid], decoded[valid]), np.float32) / ctx.label_scale
        rows = torch.from_numpy(valid).to(device)
        labels[rows] = torch.from_numpy(fresh).to(device)
        masks[rows] = torch.from_numpy(decoded[valid].astype(np.int64)).to(device)
    return labels, masks


def _step_seeds(ctx: Context, k: int, rng: np.random.Generator):
    """Step ``k`` seeds (``oversample * k`` when a diverse batch is asked for, then k-centre keeps ``k``)."""
    diverse = ctx.options.diversity != "none"
    index = choose_seeds(ctx, k * ctx.options.oversample if diverse else k, rng)
    z0 = encode_arrays(ctx.generator, ctx.train_images[index], ctx.train_masks[index])
    labels, masks = _seed_targets(ctx, index, z0)
    z1, grad_norm = ascend(ctx, z0, labels, masks, rng)
    if diverse:
        keep = np.asarray(diverse_rows(ctx, z1, k, rng), np.int64)
        rows = torch.from_numpy(keep).to(z1.device)
        index, z0, z1, grad_norm = index[keep], z0[rows], z1[rows], grad_norm[rows]
    provenance = dict(parent_ids=[ctx.train_ids[i] for i in index], z=z0.cpu().numpy(), z_new=z1.cpu().numpy(),
                      grad_norm=grad_norm.cpu().numpy(), step_size=np.full(len(index), ctx.options.step_size,
                                                                           np.float32))
    return z1, provenance


def diverse_rows(ctx: Context, z1: torch.Tensor, k: int, rng: np.random.Generator) -> list[int]:
    """``k`` rows of the stepped ``z1`` by greedy k-centre, the training set's features as the first centres.

    ``options.diversity`` "latent" compares ``z1`` with ``mu_E`` of the
    training set; "target" compares F's bottleneck on ``G(z1)`` with F's
    bottleneck on the training set.
    """
    kind = ctx.options.diversity
    if kind not in DIVERSITY[1:]:
        raise ValueError(f"diversity must be one of {DIVERSITY}, got {kind!r}")
    train = coverage_features(ctx, kind)(ctx.train_images, ctx.train_masks)
    if kind == "latent":
        candidates = z1.cpu().numpy()
    else:
        images, masks = decode_pairs(ctx.generator, z1)
        candidates = coverage_features(ctx, kind)(images.numpy(), masks.numpy())
    return k_centre(np.asarray(candidates, np.float32), np.asarray(train, np.float32), k, rng)


@register_strategy("gradient")
class GradientInterpolation:
    """Decode ``G(z')`` of gradient-stepped seeds ("interpolation" sampler).

    With no labelled seed yet, it proposes random latent points, as the
    method's first round does.
    """

    name = "gradient"

    def propose(self, ctx: Context, k: int, rng: np.random.Generator) -> Proposals:
        if not len(ctx.train_ids):
            return LatentRandom().propose(ctx, k, rng)
        z1, provenance = _step_seeds(ctx, k, rng)
        images, masks = (part.numpy() for part in decode_pairs(ctx.generator, z1))
        return Proposals.make(realistic_images(ctx, images, masks, rng), masks,
                              latent_dim=latent_dim(ctx.generator), **provenance)


def pool_embeddings(ctx: Context, batch_size: int = 256) -> torch.Tensor:
    """``mu_E`` of every pool sample, computed once per run (the generator is frozen)."""
    if "pool_mu" not in ctx.cache:
        ctx.cache["pool_mu"] = torch.cat([
            encode_arrays(ctx.generator, ctx.pool_images[i:i + batch_size], ctx.pool_masks[i:i + batch_size]).cpu()
            for i in range(0, len(ctx.pool_images), batch_size)])
    return ctx.cache["pool_mu"]


@register_strategy("gradient-nn")
class GradientNearestNeighbour:
    """Label the real pool sample nearest to each stepped ``z'`` ("nearest neighbour" sampler).

    Each ``z'`` takes the nearest still-available pool embedding (greedy, in
    seed order), so one round never proposes a pool sample twice.
    """

    name = "gradient-nn"

    def propose(self, ctx: Context, k: int, rng: np.random.Generator) -> Proposals:
        candidates = np.flatnonzero(ctx.available)
        k = min(k, len(candidates))
        if not len(ctx.train_ids):
            z1 = torch.randn(k, latent_dim(ctx.generator), generator=torch_generator(rng))
            provenance = {"z_new": z1.numpy()}
        else:
            z1, provenance = _step_seeds(ctx, k, rng)
        distances = torch.cdist(z1.cpu(), pool_embeddings(ctx)[torch.from_numpy(candidates)]).numpy()
        chosen = []
        for row in distances:
            row[[i for i, c in enumerate(candidates) if c in set(chosen)]] = np.inf
            chosen.append(int(candidates[int(np.argmin(row))]))
        return real_samples(ctx, chosen, **provenance)
