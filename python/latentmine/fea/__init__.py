"""The finite-element labelling tool: plaque structural stress from a mask."""
from ..labels import Label, NUM_LABELS, TISSUES
from .labeller import Labeller
from .materials import DEFAULT_MATERIALS, lame_parameters, resolve_materials
from .pss import plaque_structural_stress, plaque_structural_stress_batch
from .solve import StressResult, solve
from .validate import check_masks, mask_problems

__all__ = ["Label", "NUM_LABELS", "TISSUES", "DEFAULT_MATERIALS", "lame_parameters", "resolve_materials",
           "Labeller", "StressResult", "solve", "check_masks", "mask_problems", "plaque_structural_stress",
           "plaque_structural_stress_batch"]
