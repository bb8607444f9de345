"""Native tensor operations of the sampling loop (CPU and CUDA kernels)."""
from .latent_step import latent_step, latent_step_reference

__all__ = ["latent_step", "latent_step_reference"]
