"""B-mode images for masks that did not come from the cohort's anatomy.

A decoded latent point (or a user's mask) has no drawn outlines, so the
signed radial distance outside the external elastic membrane (EEM) that
:func:`latentmine.phantoms.imaging.render` needs is measured on the mask
itself: the Euclidean distance to the vessel boundary, where the vessel is
every pixel that is not ``OUTSIDE``. On the cohort's own star-shaped masks this
matches the drawn radial distance to within a pixel near the wall, which is
where it matters (the media band and the bright adventitia).

Rendering the decoded mask with the cohort's own imaging model gives decoded
samples the speckle, attenuation, shadows and guidewire of the real frames,
so F trains on realistic images while latent steps still pass through the
generator (cf. BGADL, Tran et al., ICML 2019; AdvChain, Chen et al., MedIA
2022: generated training samples should stay realistic).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..labels import Label
from .imaging import render
from .params import PhantomParams


def depth_outside_eem_mm(masks: np.ndarray, pixel_size_mm: float) -> np.ndarray:
    """Signed distance (mm) of each pixel outside the vessel boundary, negative inside.

    Parameters
    ----------
    masks : ndarray, (N, H, W)
        Label codes of :class:`latentmine.labels.Label`.
    pixel_size_mm : float
        Pixel side.
    """
    vessel = np.asarray(masks) != Label.OUTSIDE
    depth = np.empty(vessel.shape, np.float32)
    for i, inside in enumerate(vessel):
        # Each side measured to the nearest pixel of the other, so the boundary sits at +-1/2 pixel.
        outside = ndimage.distance_transform_edt(~inside) - 0.5
        within = ndimage.distance_transform_edt(inside) - 0.5
        depth[i] = np.where(inside, -within, outside) * pixel_size_mm
    return depth


class BModeRenderer:
    """Render masks to B-mode images with the in-silico cohort's imaging model.

    ``renderer(masks)`` takes ``(N, H, W)`` label codes and returns float32
    images ``(N, H, W)`` in [0, 1]. The field of view is ``params.fov_mm``
    whatever the frame size, as for :func:`latentmine.phantoms.generate`.
    Calls draw fresh speckle from one seeded stream, so a renderer made with
    the same seed renders the same sequence of calls identically; a call
    given its own ``rng`` draws from that instead (and leaves the stream).

    Parameters
    ----------
    seed : int
        Seed of the speckle and guidewire draws.
    **params
        Overrides of :class:`~latentmine.phantoms.params.PhantomParams`, as
        for :func:`latentmine.phantoms.generate`.
    """

    def __init__(self, seed: int = 0, **params):
        self.params = PhantomParams.from_kwargs(**params)
        self.rng = np.random.default_rng([int(seed), 0x7E4D])

    def __call__(self, masks, rng: np.random.Generator | None = None) -> np.ndarray:
        masks = np.asarray(masks)
        if masks.ndim == 2:
            masks = masks[None]
        if masks.ndim != 3 or masks.shape[-1] != masks.shape[-2]:
            raise ValueError(f"BModeRenderer needs square (N, H, W) masks, got shape {masks.shape}")
        if masks.size and (masks.min() < 0 or masks.max() >= len(Label)):
            raise ValueError(f"BModeRenderer: mask codes must lie in 0..{len(Label) - 1}, "
                             f"got {masks.min()}..{masks.max()}")
        masks = masks.astype(np.uint8, copy=False)
        depth = depth_outside_eem_mm(masks, self.params.pixel_size_mm(masks.shape[-1]))
        images, _ = render(masks, depth, self.rng if rng is None else rng, self.params)
        return images
