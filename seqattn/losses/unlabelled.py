"""Terms on frames without labels (``data.unlabelled``): the model teaches itself where it is sure.

- ``consistency``: the model's prediction on a randomly warped copy of a frame must agree, through
  the known warp, with its own prediction on the frame (the teacher: the same model without
  gradients), each point weighted by the teacher's confidence, and only where that confidence is
  at least ``min_confidence``: points the model is unsure of teach nothing.
- ``temporal``: a keypoint may not move between a frame and the next by more than
  ``temporal_tolerance_px`` pixels of the step-0 input (as the hinge threshold is given); only the
  excess is penalised.

Both are off at weight 0, the default (measured in docs/benchmarks.md). Coordinates are
normalized to the letterbox, (x + 0.5) / S with ``align_corners=False`` as everywhere
(seqattn/data/codec.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqattn.errors import ConfigError

TERMS = ("consistency", "temporal")


def terms_on(weights: Mapping[str, Any]) -> bool:
    """Whether any term on frames without labels has a weight above 0 (``supervision.unlabelled``)."""
    return any(float(weights.get(f"{name}_weight", 0) or 0) > 0 for name in TERMS)


def random_warps(n: int, rotate_deg: float, scale: float, translate: float, device: torch.device) -> torch.Tensor:
    """(n, 2, 3) affine maps for ``F.affine_grid``: output grid point g -> input point theta @ [g, 1]
    (coordinates in [-1, 1]), rotation up to ``rotate_deg``, scale within 1 +- ``scale``, shift up to
    ``translate`` of the side."""
    angle = (torch.rand(n, device=device) * 2 - 1) * math.radians(rotate_deg)
    factor = 1 + (torch.rand(n, device=device) * 2 - 1) * scale
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    shift = (torch.rand(n, 2, device=device) * 2 - 1) * 2 * translate
    return torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)


def warp_images(images: torch.Tensor, theta: torch.Tensor, pad: float = 0.0) -> torch.Tensor:
    """(B, C, H, W) images -> the same seen through ``theta``; ``pad`` outside."""
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images - pad, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + pad


def warp_points(points: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """(B, K, 2) normalized [0, 1] points of the input -> where ``warp_images`` puts them."""
    g = points * 2 - 1  # (B, K, 2) in [-1, 1]
    m, b = theta[:, :, :2], theta[:, :, 2]  # (B, 2, 2), (B, 2)
    out = torch.linalg.solve(m[:, None], (g - b[:, None]).unsqueeze(-1)).squeeze(-1)  # m @ out + b = g
    return (out + 1) / 2


@contextmanager
def batchnorm_statistics_kept(model: nn.Module) -> Iterator[None]:
    """Within: batch norm layers still normalise by the batch, but their running statistics (what
    evaluation uses) do not move (momentum 0)."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in layers]
    for m in layers:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in zip(layers, saved, strict=True):
            m.momentum = momentum


class UnlabelledTerms(nn.Module):
    """(model, images (B, 3, S', S'), following (B, 3, S', S')) -> {"consistency", "temporal"}: the
    weighted terms that are on (weight > 0), scalars. ``model``: images -> {"coords" (B, K, 2),
    "confidence" (B, K), ...}; ``pad``: the letterbox padding's value in its input."""

    def __init__(
        self,
        consistency_weight: float = 0.0,
        temporal_weight: float = 0.0,
        temporal_tolerance_px: float = 4.0,
        min_confidence: float = 0.5,
        rotate: float = 15.0,
        scale: float = 0.1,
        translate: float = 0.05,
        input_size: int = 160,
        pad: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value in (("consistency_weight", consistency_weight), ("temporal_weight", temporal_weight)):
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"supervision.unlabelled.{name} must be a number >= 0, got {value}")
        if not 0 <= min_confidence <= 1:
            raise ConfigError(f"supervision.unlabelled.min_confidence must be in [0, 1], got {min_confidence}")
        if not temporal_tolerance_px >= 0:
            raise ConfigError(f"supervision.unlabelled.temporal_tolerance_px must be >= 0, got {temporal_tolerance_px}")
        self.consistency_weight, self.temporal_weight = consistency_weight, temporal_weight
        # normalized units are step-0 input pixels / input_size, as for the hinge threshold
        self.temporal_tolerance, self.min_confidence = temporal_tolerance_px / input_size, min_confidence
        self.rotate, self.scale, self.translate = rotate, scale, translate
        self.pad = pad  # the value of the letterbox's black padding in the model's input

    @property
    def active(self) -> bool:
        return terms_on({"consistency_weight": self.consistency_weight, "temporal_weight": self.temporal_weight})

    def forward(self, model: nn.Module, images: torch.Tensor, following: torch.Tensor) -> dict[str, torch.Tensor]:
        if not self.active:
            return {}
        with batchnorm_statistics_kept(model):  # warped, padded frames must not move the statistics eval uses
            return self._terms(model, images, following)

    def _terms(self, model: nn.Module, images: torch.Tensor, following: torch.Tensor) -> dict[str, torch.Tensor]:
        terms: dict[str, torch.Tensor] = {}
        theta = random_warps(len(images), self.rotate, self.scale, self.translate, images.device)
        student = model(warp_images(images, theta, self.pad))  # (B, K, 2) coords and (B, K) confidence
        if self.consistency_weight > 0:
            with torch.no_grad():
                teacher = model(images)
            target = warp_points(teacher["coords"], theta)  # (B, K, 2)
            sure = teacher["confidence"] if "confidence" in teacher else torch.ones_like(target[..., 0])
            inside = ((target >= 0) & (target <= 1)).all(-1)
            weight = torch.where(inside & (sure >= self.min_confidence), sure, torch.zeros_like(sure))  # (B, K)
            distance = (student["coords"] - target).norm(dim=-1)  # (B, K)
            terms["consistency"] = self.consistency_weight * (weight * distance).sum() / weight.sum().clamp_min(1)
        if self.temporal_weight > 0:
            after = model(warp_images(following, theta, self.pad))  # the same warp: a real move stays a move
            moved = (student["coords"] - after["coords"]).norm(dim=-1)  # (B, K)
            terms["temporal"] = self.temporal_weight * F.relu(moved - self.temporal_tolerance).mean()
        return terms

    def extra_repr(self) -> str:
        return (
            f"consistency_weight={self.consistency_weight}, temporal_weight={self.temporal_weight},"
            f" temporal_tolerance={self.temporal_tolerance}, min_confidence={self.min_confidence}"
        )
