"""Hinge (Huber-style) distance loss on keypoint coordinates in normalized units.

    L(d) = d^2 / (2t)   for d < t
    L(d) = d - t/2      for d >= t

Value and slope are continuous at d = t (C1); the slope is min(d/t, 1), so far from the target the
gradient has unit size whatever t is, and t -> 0 gives the plain Euclidean distance. Normalized
units span the square network input of side S, so t normalized is t * S input pixels.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from seqattn.errors import ConfigError

DEFAULT_THRESHOLD = 0.01  # chosen by the threshold ablation in docs/benchmarks.md


class LossOutput(NamedTuple):
    loss: torch.Tensor  # scalar, optimised
    loss_x: torch.Tensor  # scalar, the same penalty on |dx| alone (diagnostic)
    loss_y: torch.Tensor  # scalar, the same penalty on |dy| alone (diagnostic)


def hinge(d2: torch.Tensor, threshold: float) -> torch.Tensor:
    """Hinge penalty from the SQUARED distance, with finite gradients everywhere (also d = 0)."""
    if threshold <= 0:
        return torch.sqrt(d2.clamp_min(1e-20))
    # clamp_min keeps sqrt's infinite slope at 0 out of the unused branch of torch.where
    linear = torch.sqrt(d2.clamp_min(threshold * threshold)) - 0.5 * threshold
    return torch.where(d2 < threshold * threshold, d2 / (2 * threshold), linear)


class MaskedPointLoss(nn.Module):
    """Base: a per-point penalty of the squared distance, averaged over visible keypoints.

    Subclasses define ``penalty(d2)``; it is applied to dx^2 + dy^2 for the loss (or per axis,
    see ``point_penalty``) and to dx^2 and dy^2 alone for the per-axis diagnostics.
    """

    def penalty(self, d2: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def point_penalty(self, sq: torch.Tensor) -> torch.Tensor:
        """(..., 2) squared offsets -> (...) penalty per point."""
        return self.penalty(sq.sum(-1))

    def forward(self, pred: torch.Tensor, target: torch.Tensor, visible: torch.Tensor) -> LossOutput:
        """pred, target: (B, K, 2) normalized; visible: (B, K) bool. Targets of hidden points may be NaN."""
        diff = torch.where(visible[..., None], pred - target, torch.zeros_like(pred))  # (B, K, 2), no NaN
        sq = diff * diff  # (B, K, 2)
        weight = visible.to(pred.dtype)  # (B, K)
        count = weight.sum().clamp_min(1.0)

        def mean(per_point: torch.Tensor) -> torch.Tensor:  # (B, K) -> scalar over visible points
            return (per_point * weight).sum() / count

        return LossOutput(
            loss=mean(self.point_penalty(sq)),
            loss_x=mean(self.penalty(sq[..., 0])),
            loss_y=mean(self.penalty(sq[..., 1])),
        )


class HingeDistanceLoss(MaskedPointLoss):
    """Hinge on the Euclidean distance; ``threshold`` in normalized input units (>= 0)."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        super().__init__()
        if not 0 <= threshold < math.inf:  # also rejects NaN
            raise ConfigError(f"loss.threshold must be a finite number >= 0 (normalized units), got {threshold}")
        self.threshold = float(threshold)

    def penalty(self, d2: torch.Tensor) -> torch.Tensor:
        return hinge(d2, self.threshold)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}"


def hinge_loss(input_size: int, threshold: float | None = None, threshold_px: float | None = None) -> HingeDistanceLoss:
    """Build the hinge loss from config: give ``threshold`` (normalized) or ``threshold_px``, not both."""
    if threshold is not None and threshold_px is not None:
        raise ConfigError(f"give loss.threshold ({threshold}) or loss.threshold_px ({threshold_px}), not both")
    if threshold_px is not None:
        if not 0 <= threshold_px < math.inf:
            raise ConfigError(f"loss.threshold_px must be a finite number >= 0 (pixels), got {threshold_px}")
        threshold = threshold_px / input_size
    return HingeDistanceLoss(DEFAULT_THRESHOLD if threshold is None else threshold)
