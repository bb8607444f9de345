"""A hard-case cohort: rare high-risk plaques among common stable ones.

Random selection struggles where the cases that matter are rare. This cohort
mixes two populations of the in-silico generator:

* **high-risk** (a share ``high_risk_share``, default 8%): thin-cap
  fibroatheromas, i.e. a large lipid core (arc 180-260 deg, 90-95% of the
  plaque's depth) under a cap thinner than 65 um (Burke et al., NEJM 1997;
  Virmani et al., ATVB 2000), in a large vessel (EEM 4.5-5 mm) with a plaque
  of 50-65% burden: the soft core leaves the cap to carry the hoop load
  around a wide lumen;
  A frame cannot show a cap thinner than the fibrous ring it keeps around the
  lumen (``min_ring_px`` pixels), so at coarse frames the cap is the thinnest
  the frame resolves;
* **stable** (the rest): thick caps (300-600 um) over smaller cores, or none,
  in plaques of 40-80% burden (PROSPECT, Stone et al., NEJM 2011).

Thin caps over soft cores concentrate the hoop stress in the cap, so the
high-risk frames carry the highest plaque structural stress (Cheng et al.,
Circulation 1993; Costopoulos et al., JACC Cardiovasc Imaging 2017).
"""
from __future__ import annotations

import numpy as np

from .cohort import Cohort, generate

#: Population settings, as :class:`~latentmine.phantoms.params.PhantomParams` overrides.
HIGH_RISK = {
    "lipid_probability": 1.0, "cap_thickness_um": (20.0, 65.0), "core_arc_deg": (180.0, 260.0),
    "core_fraction": (0.9, 0.95), "plaque_burden": (0.5, 0.65), "eem_diameter_mm": (4.5, 5.0),
}
STABLE = {"lipid_probability": 0.5, "cap_thickness_um": (300.0, 600.0), "core_arc_deg": (30.0, 90.0),
          "core_fraction": (0.3, 0.6), "plaque_burden": (0.4, 0.8)}
DEFAULT_HIGH_RISK_SHARE = 0.08


def generate_hard_case(n: int, *, size: int = 128, seed: int = 0, high_risk_share: float = DEFAULT_HIGH_RISK_SHARE,
                       progress: bool = False, **params) -> Cohort:
    """``n`` frames of which ``round(high_risk_share * n)`` come from the high-risk population.

    Parameters
    ----------
    n, size, seed, progress
        As for :func:`latentmine.phantoms.generate`.
    high_risk_share : float
        Share of high-risk frames, in [0, 1].
    **params
        Overrides applied to both populations (e.g. imaging settings).

    Returns
    -------
    Cohort
        ``anatomy[i]["population"]`` says which population frame ``i`` came
        from, and ``anatomy[i]["high_risk"]`` whether it is a high-risk frame:
        from that population *and* with a lipid core (a plaque too thin for
        one is drawn without it). ``params`` holds both populations' settings.
    """
    if not 0.0 <= float(high_risk_share) <= 1.0:
        raise ValueError(f"high_risk_share must lie in [0, 1], got {high_risk_share!r}")
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    n_risk = int(round(high_risk_share * n))
    # Two seeds per cohort seed, one per population, so neither stream depends on the share.
    stable = generate(n - n_risk, size=size, seed=2 * int(seed), progress=progress, **{**STABLE, **params})
    risky = generate(n_risk, size=size, seed=2 * int(seed) + 1, progress=progress, **{**HIGH_RISK, **params})
    is_risky = np.zeros(n, bool)
    is_risky[np.random.default_rng([int(seed), 0x4A2D]).choice(n, n_risk, replace=False)] = True
    order = np.empty(n, np.int64)
    order[~is_risky] = np.arange(n - n_risk)
    order[is_risky] = np.arange(n_risk) + (n - n_risk)   # indices into the stacked populations

    images = np.concatenate([stable.images, risky.images])[order]
    masks = np.concatenate([stable.masks, risky.masks])[order]
    records = stable.anatomy + risky.anatomy
    # A frame of the high-risk population whose plaque was too thin to hold a
    # core is drawn without one: it is not high-risk, and is not counted so.
    anatomy = [dict(records[i], population="high-risk" if i >= n - n_risk else "stable",
                    high_risk=bool(i >= n - n_risk and records[i]["lipid_area_mm2"] > 0)) for i in order]
    ids = [f"hardcase-s{int(seed)}-{i:06d}" for i in range(n)]
    settings = {"preset": "hard-case", "high_risk_share": float(high_risk_share),
                "stable": stable.params, "high_risk": risky.params}
    return Cohort(images, masks, stable.pixel_size_mm, settings, int(seed), ids, anatomy)


def high_risk_flags(cohort: Cohort) -> np.ndarray:
    """Boolean ``(n,)``: which frames of a hard-case cohort are high-risk."""
    return np.array([bool(record.get("high_risk", False)) for record in cohort.anatomy])
