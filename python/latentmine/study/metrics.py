"""The study's stress metrics, defined with the IVUS stress task (:mod:`latentmine.tasks.stress_metrics`)."""
from ..tasks.stress_metrics import ACCURACY_TOLERANCE, stress_metrics

__all__ = ["ACCURACY_TOLERANCE", "stress_metrics"]
