"""In-silico IVUS cohorts: coronary cross-sections with masks and B-mode images.

>>> from latentmine.phantoms import generate
>>> cohort = generate(8, size=64, seed=1)
>>> cohort.images.shape, cohort.masks.dtype.name
((8, 64, 64), 'uint8')
"""
from .cohort import Cohort, generate
from .hard_case import generate_hard_case, high_risk_flags
from .params import DEFAULT_ECHOGENICITY, PhantomParams
from .rendering import BModeRenderer

__all__ = ["Cohort", "generate", "generate_hard_case", "high_risk_flags", "BModeRenderer", "PhantomParams",
           "DEFAULT_ECHOGENICITY"]
