"""Heat-map shape term: KL divergence from a Gaussian around the label to the softmax of the map.

A soft-argmax loss constrains only the mean of each map, so a map may keep a second peak on a
look-alike part as long as the mean comes out right; this term asks for one peak at the label.
"""

from __future__ import annotations

import torch
from torch import nn

from seqattn.errors import ConfigError


class GaussianHeatmapKL(nn.Module):
    """logits (B, K, h, w), target (B, K, 2) normalized (cell centres at (i + 0.5) / n), visible (B, K)
    -> ``weight`` x the mean over labelled maps of KL(gaussian || softmax(logits)), a scalar.
    ``sigma``: cells."""

    reads = ("heat",)  # the model output it supervises (seqattn.losses.criterion)

    def __init__(self, sigma: float = 1.0, weight: float = 1.0) -> None:
        super().__init__()
        if sigma <= 0:
            raise ConfigError(f"heat-map sigma must be > 0 cells, got {sigma}")
        self.sigma, self.weight = sigma, weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        b, k, h, w = logits.shape
        safe = torch.where(visible[..., None], target, torch.full_like(target, 0.5)).float()  # (B, K, 2)
        xs = torch.arange(w, device=logits.device, dtype=torch.float32) + 0.5  # cell centres, in cells
        ys = torch.arange(h, device=logits.device, dtype=torch.float32) + 0.5
        dx2 = (xs - safe[..., 0:1] * w) ** 2  # (B, K, w)
        dy2 = (ys - safe[..., 1:2] * h) ** 2  # (B, K, h)
        d2 = (dy2[..., :, None] + dx2[..., None, :]).flatten(2)  # (B, K, h*w) squared distance in cells
        wanted = (-d2 / (2 * self.sigma**2)).log_softmax(-1)  # (B, K, h*w) log of the normalized Gaussian
        got = logits.float().flatten(2).log_softmax(-1)  # (B, K, h*w)
        kl = (wanted.exp() * (wanted - got)).sum(-1)  # (B, K)
        mean = (kl * visible).sum() / visible.sum().clamp_min(1)
        return self.weight * mean

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, weight={self.weight}"
