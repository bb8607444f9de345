"""The finite-element labelling tool: plaque structural stress from a mask."""
from ..labels import Label, NUM_LABELS, TISSUES
from .materials import DEFAULT_MATERIALS, lame_parameters, resolve_materials

__all__ = ["Label", "NUM_LABELS", "TISSUES", "DEFAULT_MATERIALS", "lame_parameters", "resolve_materials"]
