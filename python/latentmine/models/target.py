"""The target network F: a compact U-Net from an image (and/or mask) to a stress map.

F predicts the maximum-principal stress map in units of
:data:`STRESS_SCALE_KPA` (a prediction of 1.0 means 100 kPa), which keeps the
targets of order one: peri-luminal peaks run from about 50 to 300 kPa
(Costopoulos et al., JACC Cardiovasc Imaging 2017). The architecture follows
Ronneberger et al., "U-Net", MICCAI 2015, at a small width; GroupNorm instead
of BatchNorm keeps every sample independent of the rest of its batch, so the
latent gradient of one seed does not depend on the others.
"""
from __future__ import annotations

import torch
import torch.nn.functional as nnf
from torch import nn

from ..labels import NUM_LABELS
from .priors import check_priors, wall_priors

#: Stress normalisation of F's output and of the training targets, in kPa.
STRESS_SCALE_KPA = 100.0
#: Inputs F can take: the image, the one-hot mask, or both stacked as channels.
INPUT_MODES = {"image": 1, "mask": NUM_LABELS, "both": 1 + NUM_LABELS}


def input_channels(mode: str, mask_classes: int | None = None) -> int:
    """Channels of F's input in ``mode`` with ``mask_classes`` mask codes (default: the IVUS labels)."""
    if mode not in INPUT_MODES:
        raise ValueError(f"input mode must be one of {sorted(INPUT_MODES)}, got {mode!r}")
    classes = NUM_LABELS if mask_classes is None else mask_classes
    return {"image": 1, "mask": classes, "both": 1 + classes}[mode]


def compose_input(mode: str, images: torch.Tensor, mask_probs: torch.Tensor | None) -> torch.Tensor:
    """F's input ``(B, C, H, W)`` from images ``(B, H, W)`` and mask probabilities ``(B, L, H, W)``.

    Real masks enter as one-hot probabilities; decoded ones as the softmax of
    the logits, so that the input stays differentiable in the latent point.
    """
    input_channels(mode)
    if mode == "image":
        return images[:, None]
    if mask_probs is None:
        raise ValueError(f"input mode {mode!r} needs masks")
    return mask_probs if mode == "mask" else torch.cat([images[:, None], mask_probs], dim=1)


def onehot(masks: torch.Tensor, classes: int | None = None) -> torch.Tensor:
    """``(B, H, W)`` codes -> ``(B, classes, H, W)`` float one-hot (default ``NUM_LABELS`` classes)."""
    return nnf.one_hot(masks.long(), NUM_LABELS if classes is None else classes).permute(0, 3, 1, 2).float()


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout), nn.SiLU(),
        nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout), nn.SiLU())


class StressUNet(nn.Module):
    """U-Net with ``levels`` resolutions and MC-dropout at the bottleneck.

    Parameters
    ----------
    input_mode : {"image", "mask", "both"}
    width : int
        Channels at full resolution, doubled per level.
    levels : int
        Number of resolutions; the image side must be divisible by ``2**(levels-1)``.
    dropout : float
        Dropout probability before the bottleneck (used by the uncertainty strategy).
    out_channels : int
        1 for a stress map; more for, e.g., segmentation logits with another loss.
    mask_classes : int, optional
        Mask codes of a "mask"/"both" input (default: the IVUS labels).
    priors : sequence of str
        :func:`~latentmine.models.priors.wall_priors` channels that ``forward``
        computes from the mask part of its input and appends to it (IVUS
        masks only): the input F is given stays the same.
    """

    def __init__(self, input_mode: str = "image", width: int = 16, levels: int = 3, dropout: float = 0.1,
                 out_channels: int = 1, mask_classes: int | None = None, priors=()):
        super().__init__()
        self.priors = check_priors(priors)
        if self.priors and (input_mode == "image" or mask_classes not in (None, NUM_LABELS)):
            raise ValueError(f"priors {self.priors} need an IVUS mask in F's input (input_mode 'mask' or "
                             f"'both' with the {NUM_LABELS} IVUS labels), got input_mode={input_mode!r}, "
                             f"mask_classes={mask_classes}")
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.input_mode, self.levels, self.mask_classes = input_mode, levels, mask_classes
        widths = [width * 2 ** i for i in range(levels)]
        cin = input_channels(input_mode, mask_classes) + len(self.priors)
        self.down = nn.ModuleList()
        for w in widths:
            self.down.append(_block(cin, w))
            cin = w
        self.dropout = nn.Dropout2d(dropout)
        self.up = nn.ModuleList(_block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(levels - 1)))
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, H, W)`` (or ``(B, out, H, W)`` with several outputs)."""
        if x.shape[-1] % 2 ** (self.levels - 1) or x.shape[-2] % 2 ** (self.levels - 1):
            raise ValueError(f"image side {tuple(x.shape[-2:])} must be divisible by {2 ** (self.levels - 1)}")
        if self.priors:
            x = torch.cat([x, wall_priors(x[:, -NUM_LABELS:], self.priors, scale_kpa=STRESS_SCALE_KPA)], dim=1)
        skips = []
        for i, block in enumerate(self.down):
            if i:
                x = nnf.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        x = self.dropout(skips.pop())
        for block in self.up:
            x = block(torch.cat([nnf.interpolate(x, scale_factor=2.0, mode="nearest"), skips.pop()], dim=1))
        out = self.head(x)
        return out[:, 0] if out.shape[1] == 1 else out
