"""The generator a file-backed run or a study cell hands to the loop, with a renderer when asked for.

``LoopConfig.render="bmode"`` images decoded masks with the in-silico
cohort's B-mode model (:class:`latentmine.phantoms.BModeRenderer`, default
imaging settings: those of :func:`latentmine.phantoms.generate` and of the
hard-case cohort). The loop itself never builds a renderer: given a
generator without one it refuses ``render="bmode"``
(:func:`latentmine.sampling.realism.check_renderer`).
"""
from __future__ import annotations


def with_cohort_renderer(generator, render: str, seed: int):
    """``generator`` wrapped in a :class:`~latentmine.models.RenderedGenerator` when ``render == "bmode"``.

    A generator that renders already, or any other ``render``, is returned as is.
    """
    if render != "bmode" or callable(getattr(generator, "render", None)):
        return generator
    from ..models import RenderedGenerator
    from ..phantoms import BModeRenderer

    return RenderedGenerator(generator, BModeRenderer(seed=seed))
