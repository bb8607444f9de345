"""Datasets out as pictures: PNG files per sample and one contact sheet."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .. import storage
from ..labels import Label
from .dataset import Dataset
from .splits import subset

#: Mask colours after the virtual-histology IVUS convention (Nair et al.,
#: Circulation 2002;106:2200-2206): fibrous green, necrotic core red, dense
#: calcium white; lumen blue, outside black.
LABEL_COLOURS = {
    Label.OUTSIDE: "#000000", Label.LUMEN: "#3b6fb6", Label.FIBROUS: "#1f7a3a",
    Label.LIPID: "#d62728", Label.CALCIUM: "#f2f2f2",
}


def export_png(out_dir, dataset: Dataset, ids=None, *, overwrite=False) -> Path:
    """Write ``images/<id>.png`` (8-bit grey) and ``masks/<id>.png`` (raw
    Label codes, readable back by :func:`~latentmine.data.import_folder`).

    Raises
    ------
    FileExistsError
        When ``out_dir`` is not empty and ``overwrite`` is False.
    ValueError
        For an id that is not a plain file name.
    """
    from PIL import Image

    out = export_folder(out_dir, overwrite)
    chosen = subset(dataset, list(dataset.ids if ids is None else ids))
    check_file_names(chosen.ids, "export_png")
    for image, mask, sample in zip(chosen.images, chosen.masks, chosen.ids):
        grey = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
        for folder, pixels in (("images", grey), ("masks", mask.astype(np.uint8))):
            buffer = io.BytesIO()
            Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
            storage.atomic_write_bytes(out / folder / f"{sample}.png", buffer.getvalue())
    return out


def export_folder(out_dir, overwrite: bool) -> Path:
    """``out_dir`` as a Path; a FileExistsError when it is not empty and ``overwrite`` is False."""
    out = Path(out_dir)
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty (pass overwrite=True to write into it)")
    return out


def check_file_names(ids, caller: str):
    """A ValueError unless every id can name a file (no folders, no ``.``/``..``)."""
    for sample in ids:
        if Path(sample).name != sample or sample in (".", ".."):
            raise ValueError(f"{caller}: id {sample!r} is not a plain file name")


def contact_sheet(path_png, images, masks, stress=None, n=8, *, ids=None, title=None) -> Path:
    """One PNG with a row per sample: image, mask (with a label legend) and,
    when given, the stress map in kPa on a shared colour scale.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    rows = min(int(n), len(images))
    if rows < 1:
        raise ValueError("contact_sheet: nothing to show")
    columns = 2 if stress is None else 3
    colours = ListedColormap([LABEL_COLOURS[label] for label in Label])
    figure, axes = plt.subplots(rows, columns, figsize=(2.4 * columns + 0.6, 2.4 * rows + 0.6), squeeze=False)
    if stress is not None:
        shown = np.asarray(stress[:rows])
        top = float(np.percentile(shown[np.asarray(masks[:rows]) >= Label.FIBROUS], 99.5)) if shown.size else 1.0
    for row in range(rows):
        axes[row, 0].imshow(images[row], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[row, 1].imshow(masks[row], cmap=colours, vmin=-0.5, vmax=len(Label) - 0.5, interpolation="nearest")
        axes[row, 0].set_ylabel(ids[row] if ids is not None else f"#{row}", fontsize=7)
        if stress is not None:
            picture = axes[row, 2].imshow(np.where(masks[row] >= Label.FIBROUS, stress[row], np.nan),
                                          cmap="magma", vmin=0, vmax=max(top, 1e-9), interpolation="nearest")
            figure.colorbar(picture, ax=axes[row, 2], fraction=0.046, pad=0.02).set_label("kPa", fontsize=7)
        for axis in axes[row]:
            axis.set_xticks([])
            axis.set_yticks([])
    for axis, name in zip(axes[0], ("image", "mask", "max principal stress")):
        axis.set_title(name, fontsize=9)
    figure.legend(handles=[Patch(facecolor=LABEL_COLOURS[l], edgecolor="grey", label=l.name) for l in Label],
                  loc="lower center", ncol=len(Label), fontsize=7, frameon=False)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout(rect=(0, 0.03, 1, 0.97 if title else 1))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return storage.atomic_write_bytes(Path(path_png), buffer.getvalue())
