"""F for categorical labels: a small CNN classifier and the per-sample cross-entropy loss.

The classifier follows the LeNet pattern (LeCun et al., Proc. IEEE 1998) at a
small width: convolution blocks with GroupNorm (every sample independent of
its batch, so each seed's latent gradient is its own) and max pooling, then a
global average and a linear layer to class logits.
"""
from __future__ import annotations

import torch
import torch.nn.functional as nnf
from torch import nn

from .target import input_channels


class SmallCNN(nn.Module):
    """``(B, C_in, H, W)`` -> class logits ``(B, classes)``.

    Parameters
    ----------
    classes : int
        Number of classes.
    input_mode : {"image", "mask", "both"}
        F's input (see :func:`latentmine.models.compose_input`).
    width : int
        Channels of the first block, doubled per block.
    levels : int
        Number of convolution blocks (each halves the resolution but the last).
    dropout : float
        Dropout before the linear layer (MC dropout for the uncertainty strategy).
    mask_classes : int
        Mask classes of a "mask"/"both" input.
    """

    def __init__(self, classes: int, input_mode: str = "image", width: int = 16, levels: int = 3,
                 dropout: float = 0.1, mask_classes: int | None = None):
        super().__init__()
        if classes < 2:
            raise ValueError(f"classes must be >= 2, got {classes}")
        self.input_mode, self.mask_classes = input_mode, mask_classes
        layers, cin = [], input_channels(input_mode, mask_classes)
        for i in range(levels):
            cout = width * 2 ** i
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout), nn.SiLU()]
            if i < levels - 1:
                layers.append(nn.MaxPool2d(2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x).mean(dim=(2, 3))))


class CrossEntropy:
    """Per-sample cross-entropy of logits ``(B, C)`` or ``(B, C, H, W)`` (pixel mean) against class codes.

    Targets arrive as floats (labels divided by a label scale of 1) and are
    rounded to class codes; ``masks`` are not used.
    """

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        loss = nnf.cross_entropy(pred, target.round().long(), reduction="none")
        return loss.flatten(1).mean(1) if loss.dim() > 1 else loss
