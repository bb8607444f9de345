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
"""
from __future__ import annotations

import numpy as np
import torch

from ..models.target import compose_input
from ..models.vae import decode_pairs, encode_arrays
from ..ops import latent_step
from .base import Context, Proposals, register_strategy, torch_generator
from .simple import LatentRandom, latent_dim, real_samples


def seed_loss(ctx: Context, z: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per-seed loss ``L(F(G(z)), y)``, shape ``(B,)``, differentiable in ``z``.

    ``labels`` are normalised (divided by ``ctx.label_scale``); ``masks`` are
    the masks the labels belong to (used by region-weighted losses).
    """
    image, logits = ctx.generator.decode(z)
    probs = None if ctx.options.input_mode == "image" else torch.softmax(logits, dim=1)
    return ctx.loss(ctx.target(compose_input(ctx.options.input_mode, image, probs)), labels, masks)


def latent_gradient(ctx: Context, z: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """``dL/dz`` for every seed at once: F and G in eval mode, so each row depends on its own seed only."""
    ctx.target.eval()
    z = z.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(seed_loss(ctx, z, labels, masks).sum(), z)
    return grad


def ascend(ctx: Context, z0: torch.Tensor, labels, masks, rng: np.random.Generator):
    """``options.steps`` normalised gradient steps from ``z0``; returns ``(z', ||g(z0)||)``."""
    opts = ctx.options
    noise = opts.noise_std if ctx.attempt == 0 else max(opts.noise_std, opts.resample_noise)
    generator = torch_generator(rng, z0.device)
    z, first_norm = z0, None
    for _ in range(opts.steps):
        grad = latent_gradient(ctx, z, labels, masks)
        if first_norm is None:
            first_norm = grad.norm(dim=1)
        z = latent_step(z.contiguous(), grad.contiguous(), opts.step_size, max_norm=opts.max_norm,
                        noise_std=noise, generator=generator)
    if opts.trust_radius is not None:
        offset = z - z0
        length = offset.norm(dim=1, keepdim=True)
        z = z0 + offset * torch.clamp(opts.trust_radius / length.clamp_min(1e-12), max=1.0)
    return z.detach(), first_norm


def _seed_targets(ctx: Context, index: np.ndarray, z0: torch.Tensor):
    """Labels (normalised) and masks to step against: the seeds' own, or fresh labels of G_mask(z0)."""
    device = z0.device
    labels = torch.from_numpy(np.asarray(ctx.train_labels[index], np.float32)).to(device) / ctx.label_scale
    masks = torch.from_numpy(np.asarray(ctx.train_masks[index], np.int64)).to(device)
    if ctx.options.label_target == "seed":
        return labels, masks
    if ctx.labeller is None:
        raise ValueError("label_target='decoded' needs a labeller")
    from ..loop.gate import gate_problems

    _, decoded = decode_pairs(ctx.generator, z0)
    decoded = decoded.numpy()
    valid = np.array([not gate_problems(m, ctx.options.min_wall_px) for m in decoded])
    if valid.any():  # seeds whose decoded mask the tool cannot label keep their own label
        fresh = np.asarray(ctx.labeller(decoded[valid]), np.float32) / ctx.label_scale
        rows = torch.from_numpy(valid).to(device)
        labels[rows] = torch.from_numpy(fresh).to(device)
        masks[rows] = torch.from_numpy(decoded[valid].astype(np.int64)).to(device)
    return labels, masks


def _step_seeds(ctx: Context, k: int, rng: np.random.Generator):
    n = len(ctx.train_ids)
    index = rng.choice(n, size=k, replace=k > n)
    z0 = encode_arrays(ctx.generator, ctx.train_images[index], ctx.train_masks[index])
    labels, masks = _seed_targets(ctx, index, z0)
    z1, grad_norm = ascend(ctx, z0, labels, masks, rng)
    provenance = dict(parent_ids=[ctx.train_ids[i] for i in index], z=z0.cpu().numpy(), z_new=z1.cpu().numpy(),
                      grad_norm=grad_norm.cpu().numpy(), step_size=np.full(k, ctx.options.step_size, np.float32))
    return z1, provenance


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
        images, masks = decode_pairs(ctx.generator, z1)
        return Proposals.make(images.numpy(), masks.numpy(), latent_dim=latent_dim(ctx.generator), **provenance)


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
