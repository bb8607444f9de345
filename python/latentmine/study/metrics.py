"""The study's stress metrics, defined with the IVUS stress task (:mod:`latentmine.tasks.stress_metrics`)."""
import numpy as np

from ..fea.pss import plaque_structural_stress_batch
from ..tasks.stress_metrics import ACCURACY_TOLERANCE, stress_metrics

__all__ = ["ACCURACY_TOLERANCE", "stress_metrics", "label_pss_mean"]


def label_pss_mean(labels, masks, pixel_size_mm: float) -> float:
    """Mean plaque structural stress (kPa) of labelled maps: the scale of ``pss_abs_err_kpa``."""
    return float(np.mean(plaque_structural_stress_batch(labels, masks, pixel_size_mm)))
