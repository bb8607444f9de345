"""``latentmine label``: stress maps of segmentation masks with the finite-element tool."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..units import DEFAULT_PIXEL_SIZE_MM, DEFAULT_PRESSURE_KPA

_SHOWN = 4  # masks drawn in stress.png


def register(subparsers):
    parser = subparsers.add_parser(
        "label", help="label masks with plaque stress (plane-strain finite elements)",
        description="Solve the luminal-pressure problem for each mask and write stress.png, stress.json "
                    "and stress.npy (max principal stress, kPa, 0 off material). Without --masks, label "
                    "the built-in example plaque.")
    parser.add_argument("--masks", type=Path, help="(H, W) or (N, H, W) .npy of label codes")
    parser.add_argument("--size", type=int, default=256, help="side of the built-in example mask (default 256)")
    parser.add_argument("--pixel-size-mm", type=float, default=DEFAULT_PIXEL_SIZE_MM)
    parser.add_argument("--pressure-kpa", type=float, default=DEFAULT_PRESSURE_KPA)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.set_defaults(func=run)


def _load_masks(args) -> np.ndarray:
    if args.masks is None:
        if args.size < 16:
            raise ValueError(f"--size must be at least 16, got {args.size}")
        from ..fea.examples import plaque_mask
        return plaque_mask(args.size)
    if not args.masks.is_file():
        raise FileNotFoundError(f"--masks: no such file: {args.masks}")
    try:
        return np.load(args.masks, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise ValueError(f"--masks: {args.masks} is not a readable .npy array ({error})") from None


def _figure(result, masks) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = min(len(masks), _SHOWN)
    fig, axes = plt.subplots(shown, 2, figsize=(9, 4 * shown), squeeze=False)
    for i in range(shown):
        for ax, field, name in ((axes[i, 0], result.max_principal[i], "max principal"),
                                (axes[i, 1], result.von_mises[i], "von Mises")):
            image = ax.imshow(field, cmap="inferno")
            fig.colorbar(image, ax=ax, label="kPa", shrink=0.8)
            ax.set_title(f"mask {i}: {name} stress" + (f" (PSS {result.pss[i]:.0f} kPa)" if ax is axes[i, 0] else ""))
            ax.set_axis_off()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def run(args) -> int:
    from .. import storage
    from ..fea import Labeller

    masks = _load_masks(args)
    labeller = Labeller(args.pixel_size_mm, pressure_kpa=args.pressure_kpa, device=args.device)
    labels = labeller(masks)
    result = labeller.last_result
    summary = {
        "version": labeller.version, "source": str(args.masks) if args.masks else f"plaque_mask({args.size})",
        "pixel_size_mm": labeller.pixel_size_mm, "pressure_kpa": labeller.pressure_kpa, "device": args.device,
        "masks": [{"pss_kpa": float(result.pss[i]), "pss_rule": str(result.pss_rule[i]),
                   "max_principal_kpa": float(np.nanmax(result.max_principal[i])),
                   "max_von_mises_kpa": float(np.nanmax(result.von_mises[i])),
                   "iterations": int(result.iterations[i]), "residual": float(result.residual[i]),
                   "converged": bool(result.converged[i]), "seconds": float(result.seconds[i])}
                  for i in range(len(result))],
    }
    storage.atomic_save_npy(args.out / "stress.npy", labels)
    storage.atomic_write_bytes(args.out / "stress.png", _figure(result, np.asarray(labels)))
    storage.atomic_write_json(args.out / "stress.json", summary)
    for i, entry in enumerate(summary["masks"]):
        state = "converged" if entry["converged"] else "NOT CONVERGED"
        print(f"mask {i}: PSS {entry['pss_kpa']:.1f} kPa ({entry['pss_rule']}), "
              f"max principal {entry['max_principal_kpa']:.1f} kPa, "
              f"{entry['iterations']} CG iterations ({state}), {entry['seconds']:.2f} s")
    print(f"wrote {args.out / 'stress.png'}, stress.json and stress.npy")
    return 0 if result.converged.all() else 1
