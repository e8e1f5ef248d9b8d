"""Confidence term: binary cross-entropy of the model's per-keypoint confidence against how close
its final estimate is, exp(-(d / scale)^2).

The target is a closeness, not a probability; ``seqattn.evaluation.calibration`` maps it to one afterwards.
The estimate is detached: this term trains the confidence head, never the coordinates.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqattn.errors import ConfigError


class ConfidenceBCE(nn.Module):
    """confidence (B, K) in [0, 1], coords (B, K, 2) the final estimate, target (B, K, 2) normalized
    (NaN allowed where not visible), visible (B, K) -> ``weight`` x the mean BCE over visible points,
    a scalar. ``scale``: the distance, in normalized units, at which the wanted confidence is 1/e."""

    reads = ("confidence", "coords")  # the model outputs it supervises (seqattn.losses.criterion)

    def __init__(self, scale: float = 0.02, weight: float = 1.0) -> None:
        super().__init__()
        if not scale > 0:
            raise ConfigError(f"confidence scale must be > 0 (normalized units), got {scale}")
        self.scale, self.weight = scale, weight

    def forward(
        self, confidence: torch.Tensor, coords: torch.Tensor, target: torch.Tensor, visible: torch.Tensor
    ) -> torch.Tensor:
        d2 = torch.where(visible, ((coords.detach() - target) ** 2).sum(-1), torch.zeros_like(confidence))  # (B, K)
        wanted = torch.exp(-d2 / self.scale**2)  # (B, K)
        bce = F.binary_cross_entropy(confidence.float().clamp(1e-6, 1 - 1e-6), wanted.float(), reduction="none")
        return self.weight * (bce * visible).sum() / visible.sum().clamp_min(1)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, weight={self.weight}"
