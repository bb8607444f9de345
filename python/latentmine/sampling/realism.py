"""Realistic images for decoded samples: the image F trains on, while the latent step stays in the VAE.

A VAE's decoded images are smooth: they lack the speckle, shadows and
guidewire of the real frames F is tested on, and a training set of decoded
samples is then a different domain. ``options.render`` chooses the image of
a decoded sample (its mask, which the labelling tool labels, is unchanged):

* ``"none"``: the decoder's image ``G_image(z)`` (the method as published);
* ``"bmode"``: the generator's renderer images the decoded mask, e.g. the
  in-silico cohort's own B-mode model
  (:class:`latentmine.models.RenderedGenerator` around
  :class:`latentmine.phantoms.BModeRenderer`). A generator without a
  ``render`` method raises ``ValueError``; there is no silent fallback;
* ``"speckle"``: for data without a simulator, fully developed speckle on the
  decoded echogenicity: ``I = clip(G_image(z) * R, 0, 1)`` with ``R``
  Rayleigh-distributed of unit mean (scale ``sqrt(2 / pi)``), the envelope
  statistics of many random scatterers per resolution cell (Burckhardt,
  IEEE Trans. Sonics Ultrason. 1978; Wagner et al., IEEE Trans. Sonics
  Ultrason. 1983: a speckle SNR, mean over standard deviation, of 1.91).

Generated training samples should stay realistic (BGADL, Tran et al., ICML
2019; AdvChain, Chen et al., MedIA 2022).
"""
from __future__ import annotations

import math

import numpy as np

RENDERS = ("none", "bmode", "speckle")
#: Scale of the unit-mean Rayleigh distribution: ``E[R] = sigma * sqrt(pi / 2) = 1``.
RAYLEIGH_UNIT_MEAN_SCALE = math.sqrt(2.0 / math.pi)


def rayleigh_speckle(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Multiply ``images`` (float, in [0, 1]) by unit-mean Rayleigh speckle and clip to [0, 1]."""
    images = np.asarray(images, np.float32)
    speckle = rng.rayleigh(RAYLEIGH_UNIT_MEAN_SCALE, size=images.shape).astype(np.float32)
    return np.clip(images * speckle, 0.0, 1.0)


def check_renderer(generator, render: str) -> None:
    """``ValueError`` when ``render`` asks the generator for a renderer it does not have."""
    if render not in RENDERS:
        raise ValueError(f"render must be one of {RENDERS}, got {render!r}")
    if render == "bmode" and not callable(getattr(generator, "render", None)):
        raise ValueError(f"render='bmode' needs a generator with a renderer (a render(masks, rng=...) method, "
                         f"e.g. latentmine.models.RenderedGenerator); {type(generator).__name__} has none")


def realistic_images(ctx, images: np.ndarray, masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The images of decoded pairs ``(images, masks)`` by ``ctx.options.render`` (see the module doc)."""
    render = ctx.options.render
    check_renderer(ctx.generator, render)
    if render == "none":
        return np.asarray(images, np.float32)
    if render == "speckle":
        return rayleigh_speckle(images, rng)
    rendered = np.asarray(ctx.generator.render(np.asarray(masks), rng=rng), np.float32)
    if rendered.shape != np.shape(masks):
        raise ValueError(f"render='bmode': the renderer returned images of shape {rendered.shape} "
                         f"for masks of shape {np.shape(masks)}")
    return rendered
