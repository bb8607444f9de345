"""The IVUS validity gate, as the loop's public API has always named it (defined in :mod:`latentmine.tasks.ivus_gate`)."""
from ..tasks.ivus_gate import REASONS, gate, gate_problems, reason_key, wall_thickness

__all__ = ["REASONS", "gate", "gate_problems", "reason_key", "wall_thickness"]
