"""Per-sample feature vectors of the target network F, for distance-based sampling strategies.

* :func:`bottleneck_features`: F's bottleneck activations, average-pooled to a
  ``grid x grid`` layout (the representation core-set selection covers;
  Sener and Savarese, "Active Learning for Convolutional Neural Networks: A
  Core-Set Approach", ICLR 2018, use the last hidden layer of a classifier).
* :func:`last_layer_gradient_features`: the gradient of F's output with
  respect to its last layer's weights, with a Gaussian random-projection
  sketch (Holzmüller, Zaverkin, Kästner and Steinwart, "A Framework and
  Benchmark for Deep Batch Active Learning for Regression", JMLR 24, 2023:
  the "ll" base kernel with the "rp"/sketch transformation).

F exposes the two layers by name: its bottleneck is the output of the
submodule named by ``F.bottleneck_layer`` (default ``"dropout"``, which sits
at :class:`~latentmine.models.StressUNet`'s bottleneck and is the identity in
eval mode) and its last layer is ``F.last_layer`` (default ``"head"``, a 1x1
convolution or a linear layer). A model without them raises ``ValueError``.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as nnf

from .training import target_input
from .vae import device_of


def _layer(model, attribute: str, default: str) -> torch.nn.Module:
    if model is None:
        raise ValueError("features are missing: there is no target network F")
    name = getattr(model, attribute, default)
    layer = getattr(model, name, None)
    if not isinstance(layer, torch.nn.Module):
        raise ValueError(f"features are missing: F ({type(model).__name__}) has no {name!r} layer "
                         f"(set F.{attribute} to the name of the layer to use)")
    return layer


def _captured(model, layer, images, masks, batch_size: int, take_input: bool, transform):
    """``transform`` of what ``layer`` receives (``take_input``) or returns, batch by batch, stacked."""
    if not hasattr(model, "input_mode"):
        raise ValueError(f"features are missing: F ({type(model).__name__}) has no input_mode attribute")
    inputs = target_input(model.input_mode, images, masks, getattr(model, "mask_classes", None))
    device = device_of(model)
    seen = []
    hook = layer.register_forward_hook(lambda module, args, out: seen.append(args[0] if take_input else out))
    model.eval()
    try:
        with torch.no_grad():
            parts = []
            for i in range(0, len(inputs), batch_size):
                seen.clear()
                model(inputs[i:i + batch_size].to(device))
                parts.append(transform(seen[-1]).float().cpu())
    finally:
        hook.remove()
    out = torch.cat(parts) if parts else torch.zeros(0, 0)
    return out.numpy()


def bottleneck_features(model, images, masks, *, grid: int = 4, batch_size: int = 64) -> np.ndarray:
    """F's bottleneck activations, average-pooled to ``grid x grid``: ``(N, channels * grid**2)`` float32.

    Pooling to a fixed grid keeps the coarse layout (where the plaque is) and
    makes the dimension independent of the image size (512 numbers for a
    width-8, 3-level StressUNet).
    """
    layer = _layer(model, "bottleneck_layer", "dropout")
    return _captured(model, layer, images, masks, batch_size, False,
                     lambda h: nnf.adaptive_avg_pool2d(h, grid).flatten(1))


def gaussian_sketch(dimension: int, sketch_dim: int, seed: int) -> torch.Tensor:
    """The random projection ``(dimension, sketch_dim)``, entries ``N(0, 1/sketch_dim)``.

    Inner products are preserved in expectation: ``E[<Px, Py>] = <x, y>``
    (bmdal_reg's Gaussian sketch). Memory: ``4 * dimension * sketch_dim`` bytes.
    """
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn(dimension, sketch_dim, generator=generator) / math.sqrt(sketch_dim)


def last_layer_gradient_features(model, images, masks, *, sketch_dim: int = 512, seed: int = 0,
                                 batch_size: int = 64, sketch=None) -> np.ndarray:
    """Sketched gradients of F's output with respect to its last layer's weights: ``(N, sketch_dim)``.

    For a last layer ``y_p = W h_p + b`` applied at every output pixel ``p``,
    ``dy_p/dW = h_p`` (one copy per output channel). The kernel of the
    stress map is the sum over its pixels (the trace of the product of the
    Jacobians), ``k(x, x') = sum_p <h_p(x), h_p(x')>``, so the feature vector
    is ``vec(h(x))``, the layer's whole input. The bias gradient is 1 for
    every sample: it adds a constant to the kernel and leaves every distance
    unchanged, so it is left out. ``vec(h)`` is then projected with
    :func:`gaussian_sketch` drawn from ``seed``, or with ``sketch(dimension)``
    if given (a callable, so that a caller can keep one sketch across calls).
    """
    layer = _layer(model, "last_layer", "head")
    if isinstance(layer, torch.nn.Conv2d) and layer.kernel_size != (1, 1):
        raise ValueError(f"F's last layer is a {layer.kernel_size} convolution; the gradient features "
                         "need a 1x1 convolution or a linear layer")
    if not isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
        raise ValueError(f"F's last layer is a {type(layer).__name__}, not a 1x1 convolution or a linear layer")
    make = sketch if sketch is not None else (lambda dimension: gaussian_sketch(dimension, sketch_dim, seed))
    state = {}

    def project(h: torch.Tensor) -> torch.Tensor:
        flat = h.flatten(1).float()
        if "sketch" not in state:
            state["sketch"] = make(flat.shape[1])
        return flat @ state["sketch"].to(flat.device)

    return _captured(model, layer, images, masks, batch_size, True, project)
