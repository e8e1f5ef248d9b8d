"""Baseline coordinate losses to compare with the hinge, on the same masked-mean machinery.

``l1`` and ``wing`` act on each axis (as in their papers), ``mse`` on the squared distance.
Wing: Feng et al., "Wing Loss for Robust Facial Landmark Localisation with CNNs", CVPR 2018.
"""

from __future__ import annotations

import math

import torch

from seqattn.errors import ConfigError
from seqattn.losses.hinge import MaskedPointLoss


class PerAxisLoss(MaskedPointLoss):
    """Penalty of |dx| plus penalty of |dy| (instead of a penalty of the Euclidean distance)."""

    def point_penalty(self, sq: torch.Tensor) -> torch.Tensor:
        return self.penalty(sq[..., 0]) + self.penalty(sq[..., 1])


class L1Loss(PerAxisLoss):
    def penalty(self, d2: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(d2.clamp_min(1e-20))  # |d| with a finite (zero) slope at exactly 0


class MSELoss(MaskedPointLoss):
    def penalty(self, d2: torch.Tensor) -> torch.Tensor:
        return d2


class WingLoss(PerAxisLoss):
    """w * ln(1 + |x| / eps) for |x| < w, else |x| - C (C joins the pieces); normalized units."""

    def __init__(self, width: float = 0.05, curvature: float = 0.01) -> None:
        super().__init__()
        if not (width > 0 and curvature > 0):
            raise ConfigError(f"loss.width and loss.curvature must be > 0, got {width} and {curvature}")
        self.width, self.curvature = width, curvature
        self.offset = width - width * math.log(1 + width / curvature)

    def penalty(self, d2: torch.Tensor) -> torch.Tensor:
        a = torch.sqrt(d2.clamp_min(1e-20))
        return torch.where(a < self.width, self.width * torch.log1p(a / self.curvature), a - self.offset)
