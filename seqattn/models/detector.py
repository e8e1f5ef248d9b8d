"""The animal detector of the multi-animal pipeline: where each animal's anchor lies in a frame.

A small from-scratch CNN (the sequential model's ConvBackbone) with a feature-pyramid merge at
stride 4 gives one heat map of anchors over the letterboxed whole frame; every local maximum
above a score is an animal (as CenterNet's and SLEAP's centroid models do). The pose model then
reads each animal in a crop around its anchor (seqattn.data.instances).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqattn.models.layers import ConvBackbone, conv_bn_relu

PEAK_SCORE = 0.3  # a local maximum of the anchor map counts as an animal from this score on
SAME_PEAK_CELLS = 1.5  # maxima closer than this (cells) are one animal


@dataclass(frozen=True)
class Instances:
    """How a model of several animals reads a frame: the detector's letterbox side, the crop
    around each anchor (seqattn.data.instances), how many animals at most, from what score."""

    input_size: int
    crop_px: int
    max_animals: int
    min_score: float = PEAK_SCORE
    anchor: str | None = None

    @classmethod
    def of(cls, detector: Mapping[str, Any]) -> Instances:
        """From the resolved ``detector`` config."""
        return cls(
            int(detector["input_size"]),
            int(detector["crop_px"]),
            int(detector["max_animals"]),
            float(detector.get("min_score", PEAK_SCORE)),
            detector.get("anchor"),
        )


class AnimalDetector(nn.Module):
    """Letterboxed frames (B, 3, D, D), normalized -> anchor logits (B, 1, D/4, D/4)."""

    def __init__(self, channels: tuple[int, ...] = (16, 32, 48, 64), width: int = 32) -> None:
        super().__init__()
        self.backbone = ConvBackbone(tuple(channels))
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in self.backbone.pyramid_channels)
        self.head = nn.Sequential(conv_bn_relu(width, width), nn.Conv2d(width, 1, 1))
        nn.init.constant_(self.head[-1].bias, -4.0)  # a sparse map from the start (CenterNet's prior)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        feats = self.backbone.pyramid(frames)  # strides 4, 8, 16, ...
        merged = self.lateral[-1](feats[-1])
        for feat, lateral in zip(feats[-2::-1], list(self.lateral)[-2::-1], strict=True):
            merged = lateral(feat) + F.interpolate(merged, size=feat.shape[-2:], mode="nearest")
        return self.head(merged)


def find_peaks(
    logits: torch.Tensor, max_animals: int, min_score: float = PEAK_SCORE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchors from anchor logits (B, 1, h, w): the ``max_animals`` highest local maxima (3 x 3)
    scoring at least ``min_score``, each refined to the score-weighted centre of its 3 x 3 cells.
    A maximum within ``SAME_PEAK_CELLS`` of a higher one is the same animal (a peak between two
    cells is a maximum in both).

    Returns ``centres`` (B, N, 2) normalized (cell centres at (i + 0.5) / n) and ``scores`` (B, N),
    N = max_animals, best first; NaN centres and score 0 where fewer animals are found.
    """
    b, _, h, w = logits.shape
    heat = logits.float().sigmoid()
    peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat)  # (B, 1, h, w): local maxima keep their score
    m = min(4 * max_animals, h * w)  # candidates, before the same animal's twins are dropped
    scores, flat = peaks.flatten(1).topk(m, dim=1)  # (B, M), best first
    ys, xs = (flat // w).float(), (flat % w).float()
    # sub-cell refinement: the score-weighted mean offset over each peak's 3 x 3 neighbourhood
    patches = F.unfold(F.pad(heat, (1, 1, 1, 1)), 3).view(b, 9, h * w)  # (B, 9, h*w)
    around = patches.gather(2, flat[:, None, :].expand(b, 9, m))  # (B, 9, M)
    offset = torch.tensor([-1.0, 0.0, 1.0], device=logits.device)
    dy, dx = offset.repeat_interleave(3), offset.repeat(3)  # row-major 3 x 3
    weight = around / around.sum(1, keepdim=True).clamp_min(1e-12)
    xs, ys = xs + (weight * dx[None, :, None]).sum(1), ys + (weight * dy[None, :, None]).sum(1)
    cells = torch.stack([xs, ys], dim=-1)  # (B, M, 2)
    keep = scores >= min_score  # (B, M)
    near = torch.cdist(cells, cells) < SAME_PEAK_CELLS  # (B, M, M)
    for i in range(m):  # greedy, best first: a kept peak removes the lower ones near it
        later = near[:, i] & (torch.arange(m, device=logits.device) > i)  # (B, M)
        keep = keep & ~(later & keep[:, i : i + 1])
    order = torch.sort((~keep).float(), dim=1, stable=True).indices[:, :max_animals]  # kept first, by score
    n = order.shape[1]
    found = keep.gather(1, order)  # (B, n)
    cells, scores = cells.gather(1, order[..., None].expand(b, n, 2)), scores.gather(1, order)
    centres = (cells + 0.5) / cells.new_tensor([w, h])  # (B, n, 2) normalized
    centres = torch.where(found[..., None], centres, torch.full_like(centres, float("nan")))
    scores = torch.where(found, scores, torch.zeros_like(scores))
    if n < max_animals:  # a map of fewer cells than animals asked for
        centres = F.pad(centres, (0, 0, 0, max_animals - n), value=float("nan"))
        scores = F.pad(scores, (0, max_animals - n))
    return centres, scores
