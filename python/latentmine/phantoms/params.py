"""Parameters of the in-silico IVUS cohort, with their literature sources.

Every range is ``(low, high)`` and is sampled uniformly unless its field says
otherwise. Defaults describe diseased proximal-to-mid epicardial coronary
segments imaged by a 40 MHz mechanical IVUS catheter.

Sources
-------
- Dodge JT et al., "Lumen diameter of normal human coronary arteries",
  Circulation 1992;86:232-246: proximal lumen diameters of 2.5-4 mm, distal
  segments near 2 mm.
- Mintz GS et al., "ACC clinical expert consensus document on standards for
  acquisition, measurement and reporting of intravascular ultrasound studies",
  J Am Coll Cardiol 2001;37:1478-1492: plaque burden = (EEM CSA - lumen
  CSA) / EEM CSA; echolucent lipid, echogenic fibrous tissue, bright calcium
  with acoustic shadowing; guidewire artefact and catheter ring-down.
- Stone GW et al. (PROSPECT), N Engl J Med 2011;364:226-235: non-culprit
  plaque burdens from about 40% to over 70%; 70% marks high risk.
- Burke AP et al., N Engl J Med 1997;336:1276-1282 and Virmani R et al.,
  Arterioscler Thromb Vasc Biol 2000;20:1262-1275: ruptured caps are
  < 65 um thick (thin-cap fibroatheroma); stable caps are hundreds of um.
- Rodriguez-Granillo GA et al., J Am Coll Cardiol 2005;46:2038-2042: IVUS
  thin-cap fibroatheroma cores in contact with the lumen over > 30 deg.
- Mintz GS et al., "Patterns of calcification in coronary artery disease",
  Circulation 1995;91:1959-1965: superficial and deep calcium, arcs from a
  few degrees to a full circle; Ehara S et al., Circulation
  2004;110:3424-3429: spotty calcium, arcs < 90 deg.
- Fujino A et al., EuroIntervention 2018;13:e2182-e2189 (OCT): calcium
  thickness of 0.3 to over 0.5 mm.
- Szabo TL, *Diagnostic Ultrasound Imaging: Inside Out*, Elsevier 2004:
  soft-tissue attenuation about 0.5-1 dB/(cm MHz).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ..units import DEFAULT_PIXEL_SIZE_MM

#: Mean speckle-free echogenicity of each region, relative to calcium (1.0).
#: Blood is nearly anechoic at 40 MHz, lipid echolucent, fibrous tissue
#: echogenic, the adventitia brighter than the plaque (Mintz 2001).
DEFAULT_ECHOGENICITY = {
    "LUMEN": 0.012, "FIBROUS": 0.30, "LIPID": 0.04, "CALCIUM": 1.0,
    "MEDIA": 0.06, "ADVENTITIA": 0.55, "PERIADVENTITIA": 0.18,
}


@dataclass(frozen=True)
class PhantomParams:
    """Anatomy and imaging parameters of :func:`latentmine.phantoms.generate`.

    Lengths are in mm unless the name says ``um`` (micrometres) or ``px``
    (pixels). Ranges are ``(low, high)`` sampled uniformly per phantom.
    """

    #: Field of view across the square frame; the default makes a 256 px
    #: frame match :data:`latentmine.units.DEFAULT_PIXEL_SIZE_MM`.
    fov_mm: float = 256 * DEFAULT_PIXEL_SIZE_MM
    #: External elastic membrane diameter (area-equivalent), Dodge 1992.
    eem_diameter_mm: tuple = (3.0, 5.0)
    #: Plaque burden, Mintz 2001 / PROSPECT.
    plaque_burden: tuple = (0.2, 0.8)
    #: Area-equivalent lumen diameter bounds; the burden is clipped to them.
    lumen_diameter_mm: tuple = (1.5, 4.0)
    #: Minor/major axis ratio of the elliptical vessel outline.
    axis_ratio: tuple = (0.8, 1.0)
    #: Relative amplitude of harmonics 2-4 perturbing the outlines.
    fourier_amplitude: float = 0.04
    #: Share of the plaque gathered on one side (0 concentric, 1 crescent).
    eccentricity: tuple = (0.0, 1.0)
    #: Thinnest wall: intima plus media (0.2-0.3 mm) and a little more
    #: for the load the adventitia outside the EEM takes, which the masks omit.
    min_wall_mm: float = 0.4
    #: Thinnest wall in pixels, whatever the resolution.
    min_wall_px: int = 3
    #: Fibrous pixels kept between the lumen (or the EEM) and any lipid or
    #: calcium, so that the wall is one continuous load-carrying ring.
    min_ring_px: int = 2
    #: Media thickness, a dark band inside the EEM in the image (Mintz 2001).
    media_mm: float = 0.15
    #: Probability of a lipid (necrotic) core.
    lipid_probability: float = 0.65
    #: Fibrous cap thickness, sampled log-uniformly (Burke 1997, Virmani 2000).
    cap_thickness_um: tuple = (50.0, 500.0)
    #: Angular extent of the core (Rodriguez-Granillo 2005).
    core_arc_deg: tuple = (40.0, 160.0)
    #: Core thickness as a share of the plaque left under the cap.
    core_fraction: tuple = (0.4, 0.9)
    #: Thinner cores are not drawn (necrotic cores of ruptured and
    #: vulnerable plaques are some 0.2-1 mm deep; Virmani 2000).
    min_core_mm: float = 0.2
    #: Probabilities of a superficial and of a deep calcium arc (Mintz 1995).
    superficial_calcium_probability: float = 0.5
    deep_calcium_probability: float = 0.4
    #: Calcium arc extent (Mintz 1995) and thickness (Fujino 2018).
    calcium_arc_deg: tuple = (20.0, 180.0)
    calcium_thickness_mm: tuple = (0.15, 0.6)
    #: Calcium lies in the plaque: arc centres scatter by this much (standard
    #: deviation) about the plaque's thickest part.
    calcium_angle_spread_deg: float = 45.0
    #: Probability of spotty calcium, up to ``max_spots`` spots (Ehara 2004).
    spot_probability: float = 0.3
    max_spots: int = 3
    spot_diameter_mm: tuple = (0.15, 0.4)
    #: Largest distance between the catheter (frame centre) and the vessel
    #: centre; the catheter always stays inside the lumen.
    max_vessel_offset_mm: float = 0.5
    #: Pixels kept between the vessel (EEM) and the frame edge.
    border_margin_px: int = 3
    #: Imaging catheter radius (a 2.9 F catheter is about 0.97 mm across).
    catheter_radius_mm: float = 0.48
    #: Guidewire (0.014 inch = 0.36 mm) beside the catheter, with its shadow.
    guidewire: bool = True
    guidewire_diameter_mm: float = 0.36
    #: Transducer centre frequency, 20-40 MHz for IVUS.
    frequency_mhz: float = 40.0
    #: Soft-tissue attenuation, one way (Szabo 2004).
    attenuation_db_per_cm_mhz: float = 0.5
    #: Extra amplitude attenuation in calcium (Np/mm): what makes its shadow.
    calcium_attenuation_per_mm: float = 8.0
    #: Axial and lateral resolution of the transducer (speckle grain).
    axial_resolution_mm: float = 0.08
    lateral_resolution_deg: float = 3.0
    #: Displayed dynamic range of the log-compressed envelope.
    dynamic_range_db: float = 40.0
    #: Region echogenicities; keys as in :data:`DEFAULT_ECHOGENICITY`.
    echogenicity: dict = field(default_factory=lambda: dict(DEFAULT_ECHOGENICITY))

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(f.default, tuple):
                _check_range(f.name, value)
        for name in ("fov_mm", "min_wall_mm", "media_mm", "min_core_mm", "catheter_radius_mm", "frequency_mhz",
                     "axial_resolution_mm", "lateral_resolution_deg", "dynamic_range_db",
                     "guidewire_diameter_mm"):
            _check_positive(name, getattr(self, name))
        for name in ("lipid_probability", "superficial_calcium_probability",
                     "deep_calcium_probability", "spot_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"phantom parameter {name} must lie in [0, 1], got {getattr(self, name)}")
        for name in ("plaque_burden", "axis_ratio", "eccentricity", "core_fraction"):
            low, high = getattr(self, name)
            if low < 0 or high > 1:
                raise ValueError(f"phantom parameter {name} must lie within [0, 1], got {(low, high)}")
        if self.axis_ratio[0] <= 0:
            raise ValueError("phantom parameter axis_ratio must be positive")
        unknown = set(self.echogenicity) - set(DEFAULT_ECHOGENICITY)
        if unknown:
            raise ValueError(f"phantom parameter echogenicity: unknown regions {sorted(unknown)}; "
                             f"known: {sorted(DEFAULT_ECHOGENICITY)}")
        object.__setattr__(self, "echogenicity", {**DEFAULT_ECHOGENICITY, **self.echogenicity})

    @classmethod
    def from_kwargs(cls, **kwargs) -> "PhantomParams":
        """Defaults overridden by ``kwargs``; unknown names are a ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise ValueError(f"unknown phantom parameter(s) {unknown}; known: {sorted(names)}")
        defaults = {f.name: f.default for f in dataclasses.fields(cls) if isinstance(f.default, tuple)}
        coerced = {k: tuple(float(x) for x in v) if k in defaults else v for k, v in kwargs.items()}
        return cls(**coerced)

    def to_dict(self) -> dict:
        """A JSON-able copy (ranges become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def pixel_size_mm(self, size: int) -> float:
        return self.fov_mm / size


def _check_range(name, value):
    if len(value) != 2 or not all(math.isfinite(v) for v in value) or value[0] > value[1]:
        raise ValueError(f"phantom parameter {name} must be a (low, high) pair with low <= high, got {value!r}")


def _check_positive(name, value):
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"phantom parameter {name} must be positive and finite, got {value!r}")
