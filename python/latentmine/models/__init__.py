"""Models of the suggestive-labelling loop: the generator (E, G) and the target network F.

* :class:`Generator` — protocol of any encoder/decoder over (image, mask)
  pairs; :class:`VAE` is the default, trained by :func:`train_vae`.
* :class:`StressUNet` — the target network F (image, mask or both -> stress
  map in units of :data:`STRESS_SCALE_KPA`), trained by :func:`fit_target`
  with a :class:`TargetLoss` (default :class:`WeightedMSE`) by a
  :class:`FitRecipe` (schedule, D4 augmentation, early stopping).
"""
from .losses import LOSS_BAND_PX, WeightedMSE, loss_weighting_band
from .protocols import Generator, TargetLoss
from .recipe import FitRecipe, d4
from .rendered import RenderedGenerator
from .target import INPUT_MODES, STRESS_SCALE_KPA, StressUNet, compose_input, onehot
from .training import FitResult, fit_target, load_vae, predict, save_vae, target_input, train_vae
from .vae import VAE, decode_pairs

__all__ = [
    "Generator", "TargetLoss", "RenderedGenerator", "VAE", "StressUNet", "WeightedMSE", "STRESS_SCALE_KPA", "INPUT_MODES",
    "LOSS_BAND_PX", "train_vae", "load_vae", "save_vae", "fit_target", "predict", "target_input",
    "compose_input", "onehot", "decode_pairs", "loss_weighting_band", "FitRecipe", "FitResult", "d4",
]
