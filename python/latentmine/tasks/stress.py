"""The IVUS stress task (the default): the finite-element tool labels masks with stress maps.

F maps an IVUS frame (and/or its mask) to the maximum-principal stress map
(:class:`latentmine.models.StressUNet`, output in units of
:data:`latentmine.models.STRESS_SCALE_KPA`), trained with
:class:`latentmine.models.WeightedMSE`. The generator pairs every image with
a mask of the five :class:`latentmine.labels.Label` codes; the validity gate
is the finite-element tool's mask rules (:mod:`latentmine.tasks.ivus_gate`).
The loop reports MSE, MAE and the plaque-structural-stress (PSS) error; the
study reports :func:`latentmine.tasks.stress_metrics.stress_metrics`, headline
the test MSE in kPa².

``ivus-stress-hard-case`` is the same task on the hard-case cohort
(:func:`latentmine.phantoms.generate_hard_case`): 8% rare high-risk thin-cap
plaques among stable ones, where random selection sees few of the cases that
carry the highest plaque structural stress.
"""
from __future__ import annotations

from dataclasses import replace

from ..labels import NUM_LABELS
from ..models.losses import WeightedMSE
from ..models.priors import parse_priors
from ..models.target import StressUNet
from ..units import DEFAULT_PIXEL_SIZE_MM
from .base import Task, register_task
from .ivus_gate import gate
from .stress_metrics import STRESS_METRIC_INFO, STRESS_UNCERTAINTY, loop_stress_metrics, stress_metrics_of

NAME = "ivus-stress"
HARD_CASE = "ivus-stress-hard-case"


def stress_target(config):
    """The default F: :class:`~latentmine.models.StressUNet` with the config's input and size."""
    return StressUNet(config.input_mode, width=config.width, levels=config.levels, dropout=config.dropout,
                      priors=parse_priors(config.priors))


def _loss(config):
    return WeightedMSE(config.peak_weight)


def _gate(proposals, config):
    return gate(proposals.masks, config.min_wall_px)


def _fe_labeller(data):
    from ..fea import Labeller

    return Labeller(getattr(data, "pixel_size_mm", None) or DEFAULT_PIXEL_SIZE_MM)


def _phantoms(n: int, size: int, seed: int):
    from ..phantoms import generate

    return generate(n, size=size, seed=seed)


@register_task(NAME)
def ivus_stress() -> Task:
    """The IVUS stress task (see the module docstring)."""
    return Task(name=NAME, label_kind="dense", make_target=stress_target, make_loss=_loss,
                metrics=stress_metrics_of, loop_metrics=loop_stress_metrics, metric_info=STRESS_METRIC_INFO,
                headline="mse_kpa2", mask_classes=NUM_LABELS, label_scale=None, labeller_input="masks",
                default_labeller=_fe_labeller, gate=_gate, generate=_phantoms,
                study_strategies=("random", "gradient"), panels=("mse_kpa2", "accuracy"),
                compared=("top_mse_kpa2", "top_pss_abs_err_kpa"),
                loop_panels=("mae", "pss_error"), label_title="stress (kPa)", label_cmap="magma",
                uncertainty_scores=STRESS_UNCERTAINTY,
                about="IVUS frame -> finite-element stress map (kPa)")


def _hard_case_phantoms(n: int, size: int, seed: int):
    from ..phantoms import generate_hard_case

    return generate_hard_case(n, size=size, seed=seed)


@register_task(HARD_CASE)
def ivus_stress_hard_case() -> Task:
    """The IVUS stress task on the hard-case cohort (see the module docstring)."""
    return replace(ivus_stress(), name=HARD_CASE, generate=_hard_case_phantoms,
                   about="IVUS frame -> finite-element stress map (kPa), hard-case cohort (8% thin-cap plaques)")
