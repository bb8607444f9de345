"""latentmine: suggestive labelling by adaptive latent space sampling.

Subpackages are imported lazily so that ``import latentmine`` stays cheap and
never touches torch or a GPU until they are used.
"""
from importlib import import_module

__version__ = "0.1.0"

_SUBMODULES = {
    "backend", "cli", "data", "fea", "labels", "loop", "models", "ops",
    "phantoms", "sampling", "storage", "study", "units", "parallel",
}


def __getattr__(name):
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'latentmine' has no attribute {name!r}")
