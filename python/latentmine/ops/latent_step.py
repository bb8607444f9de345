"""The latent step of adaptive latent space sampling.

Mo et al., "Efficient Deep Representation Learning by Adaptive Latent Space
Sampling", arXiv 2004.02757: a labelled seed is encoded to ``z``, the target
network's loss on ``G(z)`` is back-propagated to ``z``, and ``z`` moves along the
*normalised* gradient so that every sample takes a step of the same length,
whatever the scale of its loss.

:func:`latent_step` runs one fused pass per row in native code (C++ with OpenMP on
the CPU, a CUDA kernel on the GPU); :func:`latent_step_reference` is the same
update in torch eager mode, the specification the tests and benchmarks hold the
kernels to.
"""
from __future__ import annotations

import math

import torch

from .. import backend

__all__ = ["latent_step", "latent_step_reference"]


def latent_step(z: torch.Tensor, grad: torch.Tensor, step_size: float, *, max_norm: float | None = None,
                noise_std: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Move each latent row by ``step_size`` along its normalised gradient.

    ``out[i] = z[i] + step_size * grad[i] / ||grad[i]|| + noise_std * n[i]``, with
    ``n`` standard normal, then, when ``max_norm`` is given, ``out[i]`` is scaled
    back onto the ball ``||out[i]|| <= max_norm`` if it left it.

    Parameters
    ----------
    z, grad : torch.Tensor
        ``(B, D)`` float32 tensors on the same device (CPU or CUDA).
    step_size : float
        Length of the gradient step; negative steps descend the loss.
    max_norm : float, optional
        Radius of the ball each row is projected into (a VAE prior puts almost all
        of its mass within a few sqrt(D)).
    noise_std : float
        Standard deviation of isotropic Gaussian noise added to every row. The
        noise is drawn by torch (``torch.randn`` with ``generator``) on the
        tensors' device and handed to the kernel, so a seeded generator gives the
        same result on every call.
    generator : torch.Generator, optional
        Source of the noise; must live on the tensors' device.

    Returns
    -------
    torch.Tensor
        A new ``(B, D)`` float32 tensor without autograd history. A row whose
        gradient is zero takes no gradient step (it still gets the noise).

    Raises
    ------
    ValueError
        For tensors that are not 2-D float32 of one shape and device, a step size
        that is not finite, or a negative or non-finite ``noise_std`` or ``max_norm``.
    """
    _validate(z, grad, step_size, max_norm, noise_std)
    z = z.detach().contiguous()
    grad = grad.detach().contiguous()
    noise = _draw_noise(z, noise_std, generator)
    out = torch.empty_like(z)
    rows, cols = z.shape
    args = (z.data_ptr(), grad.data_ptr(), 0 if noise is None else noise.data_ptr(), out.data_ptr(),
            rows, cols, float(step_size), float(noise_std), -1.0 if max_norm is None else float(max_norm))
    if z.is_cuda:
        _launch_cuda(z.device, args)
    else:
        backend.core().latent_step(*args)
    return out


def latent_step_reference(z: torch.Tensor, grad: torch.Tensor, step_size: float, *,
                          max_norm: float | None = None, noise_std: float = 0.0,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """The update of :func:`latent_step` written in torch eager operations.

    Same arguments and result (the noise is drawn identically, so one seed gives
    the same noise to both); kept as the readable specification and as the peer
    in the tests and benchmarks.
    """
    _validate(z, grad, step_size, max_norm, noise_std)
    z, grad = z.detach(), grad.detach()
    norm = torch.linalg.vector_norm(grad, dim=1, keepdim=True)
    direction = torch.where(norm > 0, grad / norm, torch.zeros_like(grad))
    out = z + step_size * direction
    noise = _draw_noise(z, noise_std, generator)
    if noise is not None:
        out = out + noise_std * noise
    if max_norm is not None:
        length = torch.linalg.vector_norm(out, dim=1, keepdim=True)
        shrink = torch.where(length > max_norm, max_norm / length, torch.ones_like(length))
        out = out * shrink
    return out


def _validate(z, grad, step_size, max_norm, noise_std) -> None:
    for name, tensor in (("z", z), ("grad", grad)):
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"latent_step: {name} must be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dim() != 2:
            raise ValueError(f"latent_step: {name} must be 2-D (batch, latent_dim), got shape {tuple(tensor.shape)}")
        if tensor.dtype != torch.float32:
            raise ValueError(f"latent_step: {name} must be float32, got {tensor.dtype}")
    if z.shape != grad.shape:
        raise ValueError(f"latent_step: z {tuple(z.shape)} and grad {tuple(grad.shape)} differ in shape")
    if z.device != grad.device:
        raise ValueError(f"latent_step: z is on {z.device} but grad is on {grad.device}")
    if z.device.type not in ("cpu", "cuda"):
        raise ValueError(f"latent_step: tensors on {z.device} are not supported (cpu or cuda)")
    if not _finite_number(step_size):
        raise ValueError(f"latent_step: step_size must be a finite number, got {step_size!r}")
    if not (_finite_number(noise_std) and noise_std >= 0):
        raise ValueError(f"latent_step: noise_std must be finite and >= 0, got {noise_std!r}")
    if max_norm is not None and not (_finite_number(max_norm) and max_norm >= 0):
        raise ValueError(f"latent_step: max_norm must be finite and >= 0 (or None), got {max_norm!r}")


def _finite_number(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _draw_noise(z: torch.Tensor, noise_std: float, generator) -> torch.Tensor | None:
    if noise_std == 0:
        return None
    return torch.randn(z.shape, generator=generator, device=z.device, dtype=torch.float32)


def _launch_cuda(device: torch.device, args: tuple) -> None:
    module = backend.cuda_module()
    if module is None:
        raise ValueError("latent_step: CUDA tensors need latentmine._cuda, which was not built "
                         "(install with nvcc on PATH, LATENTMINE_CUDA=ON)")
    # The kernel runs on torch's current stream of the tensors' device, so it is
    # ordered with the torch work that produced z and grad and that will read out.
    with torch.cuda.device(device):
        module.latent_step(*args, torch.cuda.current_stream(device).cuda_stream)
