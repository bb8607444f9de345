"""The cohort generator: anatomy, masks and B-mode images for ``n`` phantoms."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from tqdm.auto import tqdm

from ..labels import Label
from .anatomy import draw, rasterise
from .imaging import render
from .params import PhantomParams

#: Phantoms drawn per random stream. Sample ``i`` always comes from stream
#: ``(seed, i // BLOCK)``, so a cohort of ``n`` is the first ``n`` of any
#: larger cohort with the same seed and parameters.
BLOCK = 32
#: Smallest frame the wall-thickness guarantees are designed for.
MIN_SIZE = 64


@dataclass
class Cohort:
    """Phantoms with their masks (codes of :class:`latentmine.labels.Label`).

    ``images`` are ``(n, size, size)`` float32 in [0, 1], ``masks`` uint8 of
    the same shape, ``params`` the JSON-able generator parameters, ``anatomy``
    one JSON-able record per phantom of what was drawn for it.
    """

    images: np.ndarray
    masks: np.ndarray
    pixel_size_mm: float
    params: dict
    seed: int
    ids: list
    anatomy: list = field(default_factory=list)

    def __len__(self):
        return len(self.ids)


def generate(n: int, *, size: int = 128, seed: int = 0, progress: bool = False, **params) -> Cohort:
    """Generate ``n`` in-silico IVUS frames with their segmentation masks.

    Parameters
    ----------
    n : int
        Number of phantoms.
    size : int
        Frame side in pixels (at least 64). The field of view is fixed by
        ``fov_mm``, so the pixel size is ``fov_mm / size``.
    seed : int
        Seed; the same seed, size and parameters give the same cohort.
    progress : bool
        Show a progress bar on stderr.
    **params
        Overrides of :class:`~latentmine.phantoms.params.PhantomParams` fields,
        e.g. ``plaque_burden=(0.6, 0.8)`` or ``lipid_probability=1.0``.

    Returns
    -------
    Cohort
    """
    n, size = int(n), int(size)
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} pixels, got {size}")
    settings = PhantomParams.from_kwargs(**params)
    images = np.empty((n, size, size), np.float32)
    masks = np.empty((n, size, size), np.uint8)
    anatomy = []
    bar = tqdm(total=n, desc="phantoms", unit="phantom", disable=not progress, file=sys.stderr)
    for start in range(0, n, BLOCK):
        rng = np.random.default_rng([int(seed), start // BLOCK])
        block = draw(rng, BLOCK, settings, size)
        block_masks, depth = rasterise(block, size, settings)
        # Frames larger than 256 px are rendered a few at a time to bound memory.
        step = max(1, BLOCK * 256 ** 2 // size ** 2)
        rendered = [render(block_masks[lo:lo + step], depth[lo:lo + step], rng, settings)
                    for lo in range(0, BLOCK, step)]
        block_images = np.concatenate([frames for frames, _ in rendered])
        wire = [angle for _, angles in rendered for angle in angles]
        stop = min(start + BLOCK, n)
        images[start:stop] = block_images[:stop - start]
        masks[start:stop] = block_masks[:stop - start]
        for record, mask, angle in zip(block.summary[:stop - start], block_masks, wire):
            record.update(_measure(mask, block.pixel_size_mm))
            record["guidewire_angle_deg"] = None if angle is None else float(np.degrees(angle))
            anatomy.append(record)
        bar.update(stop - start)
    bar.close()
    ids = [f"phantom-s{int(seed)}-{i:06d}" for i in range(n)]
    return Cohort(images, masks, settings.pixel_size_mm(size), settings.to_dict(), int(seed), ids, anatomy)


def _measure(mask, pixel_size_mm):
    """What the mask really holds: areas, burden and the thinnest cap."""
    area = np.bincount(mask.ravel(), minlength=len(Label)) * pixel_size_mm ** 2
    lumen, wall = area[Label.LUMEN], area[Label.FIBROUS:].sum()
    record = {
        "lumen_area_mm2": float(lumen),
        "eem_area_mm2": float(lumen + wall),
        "plaque_burden": float(wall / (lumen + wall)),
        "lipid_area_mm2": float(area[Label.LIPID]),
        "calcium_area_mm2": float(area[Label.CALCIUM]),
        "min_cap_um": None,
    }
    if area[Label.LIPID] > 0:
        # Distance from the lumen through non-lumen pixels, to the nearest core pixel.
        to_lumen = ndimage.distance_transform_edt(mask != Label.LUMEN)
        record["min_cap_um"] = float((to_lumen[mask == Label.LIPID].min() - 1) * pixel_size_mm * 1000)
    return record
