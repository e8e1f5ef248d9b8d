"""The detector's term: a focal loss of the anchor map against Gaussian peaks at every animal's
anchor (CenterNet's penalty-reduced focal loss: few cells are animals, most are background)."""

from __future__ import annotations

import torch
from torch import nn

from seqattn.errors import ConfigError


class AnchorFocalLoss(nn.Module):
    """logits (B, 1, h, w), anchors (B, N, 2) normalized (cell centres at (i + 0.5) / n), NaN where a
    frame holds fewer animals -> ``weight`` x the focal loss summed over cells / the number of
    animals, a scalar. ``sigma``: the width of each peak, cells."""

    def __init__(self, sigma: float = 1.5, weight: float = 1.0, alpha: float = 2.0, beta: float = 4.0) -> None:
        super().__init__()
        if sigma <= 0:
            raise ConfigError(f"detector.sigma must be > 0 cells, got {sigma}")
        self.sigma, self.weight, self.alpha, self.beta = sigma, weight, alpha, beta

    def target(self, anchors: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """(B, N, 2) -> (B, h, w): the max over animals of a Gaussian at each one's anchor, exactly 1
        at the cell holding it."""
        present = torch.isfinite(anchors).all(-1)  # (B, N)
        cells = torch.where(present[..., None], anchors, torch.zeros_like(anchors)).float() * anchors.new_tensor([w, h])
        peak = cells.floor() + 0.5  # the centre of the cell holding the anchor: its value is 1
        xs = torch.arange(w, device=anchors.device, dtype=torch.float32) + 0.5
        ys = torch.arange(h, device=anchors.device, dtype=torch.float32) + 0.5
        d2 = (ys[None, None, :, None] - peak[..., 1, None, None]) ** 2 + (
            xs[None, None, None, :] - peak[..., 0, None, None]
        ) ** 2
        gauss = torch.exp(-d2 / (2 * self.sigma**2)) * present[..., None, None]  # (B, N, h, w)
        return gauss.amax(1) if gauss.shape[1] else torch.zeros(len(anchors), h, w, device=anchors.device)

    def forward(self, logits: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        b, _, h, w = logits.shape
        y = self.target(anchors, h, w)  # (B, h, w)
        logit = logits[:, 0].float()
        p = logit.sigmoid()
        log_p, log_not_p = nn.functional.logsigmoid(logit), nn.functional.logsigmoid(-logit)
        positive = y >= 1.0 - 1e-6
        loss = torch.where(positive, (1 - p) ** self.alpha * log_p, (1 - y) ** self.beta * p**self.alpha * log_not_p)
        animals = torch.isfinite(anchors).all(-1).sum().clamp_min(1)
        return -self.weight * loss.sum() / animals

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, weight={self.weight}"
