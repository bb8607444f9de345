"""Units and physical constants. Stresses and moduli are in kPa, lengths in mm."""

#: One millimetre of mercury in kPa.
MMHG_IN_KPA = 0.13332
#: Default luminal pressure: 120 mmHg, the upper end of the 110-120 mmHg used
#: in linear-elastic plaque studies (Loree 1992; Cheng 1993).
DEFAULT_PRESSURE_KPA = 120 * MMHG_IN_KPA
#: Default IVUS pixel size in mm (a 256 px frame over about 8 mm).
DEFAULT_PIXEL_SIZE_MM = 0.031
