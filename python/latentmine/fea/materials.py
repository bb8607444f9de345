"""Linear-elastic constants of the vessel-wall tissues.

Defaults follow the linear-elastic plaque studies of Loree et al. (Circ Res
1992;71:850-858), Cheng et al. (Circulation 1993;87:1179-1187), Finet et al.
(Coron Artery Dis 2004;15:13-20) and Ohayon et al. (Am J Physiol 2008): fibrous
tissue 0.6-1 MPa, lipid or necrotic core 1-5 kPa, calcium 5-20 MPa, and a
nearly incompressible Poisson ratio of 0.45-0.49 in plane strain. With traction
boundaries only, stresses depend on the modulus *ratios* and on nu, not on the
absolute moduli.
"""
from __future__ import annotations

import math
from typing import Mapping

from ..labels import TISSUES, Label

#: ``{label: (young_kpa, poisson)}``. Ratios to fibrous tissue: lipid 0.005,
#: calcium 10.
DEFAULT_MATERIALS: dict[Label, tuple[float, float]] = {
    Label.FIBROUS: (1000.0, 0.49),
    Label.LIPID: (5.0, 0.49),
    Label.CALCIUM: (10000.0, 0.49),
}


def lame_parameters(young, poisson):
    """Lamé's first parameter and the shear modulus, ``(lam, mu)``.

    ``lam = E nu / ((1 + nu)(1 - 2 nu))`` and ``mu = E / (2 (1 + nu))``.
    """
    lam = young * poisson / ((1.0 + poisson) * (1.0 - 2.0 * poisson))
    mu = young / (2.0 * (1.0 + poisson))
    return lam, mu


def resolve_materials(materials: Mapping | None = None) -> dict[Label, tuple[float, float]]:
    """Defaults overridden label by label by ``materials``, validated.

    Raises
    ------
    ValueError
        For a label that is not a tissue, a Young's modulus that is not a
        positive finite number, or a Poisson ratio outside (-1, 0.5).
    """
    table = dict(DEFAULT_MATERIALS)
    for key, value in (materials or {}).items():
        try:
            label = Label(int(key))
        except ValueError:
            raise ValueError(f"materials: {key!r} is not a label code") from None
        if label not in TISSUES:
            raise ValueError(f"materials: {label.name} carries no material; only "
                             f"{', '.join(t.name for t in TISSUES)} take elastic constants")
        try:
            young, poisson = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"materials[{label.name}] must be (young_kpa, poisson), got {value!r}") from None
        table[label] = (young, poisson)
    for label, (young, poisson) in table.items():
        if not (math.isfinite(young) and young > 0):
            raise ValueError(f"materials[{label.name}]: Young's modulus must be positive and finite, got {young}")
        if not (math.isfinite(poisson) and -1.0 < poisson < 0.5):
            raise ValueError(f"materials[{label.name}]: Poisson ratio must lie in (-1, 0.5), got {poisson}")
    return table
