"""Where the labels sit relative to what the image shows: one estimated offset per keypoint.

Labels can sit a constant distance from the landmark in the image's own frame: a labelling
tool's pixel origin (half a pixel between conventions), a label set made by another model's
predictions, a habit of the person who clicked. A model trained with rotations and flips cannot
learn such an offset: after a random rotation the labels' offset points a random way, so the
model is trained towards the landmark itself and misses every label by the offset.

This module holds the offset apart, as a running estimate (like a batch norm's running mean, not
a trained weight: a trained one drifts wherever the model can follow it). Training compares the
prediction plus the offset carried through each sample's augmentation (its linear part ``M``, and
the left/right swap of a flip) with the augmented labels; after each training batch the estimate
moves a step towards the mean of the residuals taken back to the image's frame (``M^-1``); a
prediction on an image as filmed adds the offset unchanged. Labels without an offset keep one
near zero.
"""

from __future__ import annotations

import torch
from torch import nn

MOMENTUM = 0.01  # the share of each training batch's mean residual in the estimate
NEAR = 0.05  # normalized: residuals farther than this from the estimate (gross misses) are left out


class LabelOffset(nn.Module):
    """(K, 2) offsets in normalized letterbox units, zero at the start."""

    def __init__(self, num_keypoints: int) -> None:
        super().__init__()
        self.register_buffer("offset", torch.zeros(num_keypoints, 2))

    def forward(self, frame_map: torch.Tensor | None = None, order: torch.Tensor | None = None) -> torch.Tensor:
        """The offset of each label as a sample shows it: (K, 2) for images as filmed (no
        arguments), else (B, K, 2) for samples whose augmentation mapped vectors by ``frame_map``
        (B, 2, 2) and put keypoint ``order[b, k]`` (B, K) in slot k (a flip swaps left and right)."""
        if frame_map is None:
            return self.offset
        offsets = self.offset[order] if order is not None else self.offset.expand(len(frame_map), -1, -1)
        return torch.einsum("bij,bkj->bki", frame_map.to(offsets.dtype), offsets)  # (B, K, 2)

    @torch.no_grad()
    def update(
        self,
        residual: torch.Tensor,
        visible: torch.Tensor,
        frame_map: torch.Tensor | None = None,
        order: torch.Tensor | None = None,
    ) -> None:
        """Move the estimate a step towards the mean of a training batch's ``residual`` (B, K, 2),
        label minus prediction in each sample's frame, over its ``visible`` (B, K) points."""
        b, k, _ = residual.shape
        residual = torch.where(visible[..., None], residual.float(), 0.0)
        if frame_map is not None:  # back to the image's frame, and to the keypoint each slot holds
            residual = torch.linalg.solve(frame_map.float()[:, None], residual[..., None]).squeeze(-1)
            slots = order if order is not None else torch.arange(k, device=residual.device).expand(b, k)
            residual = torch.zeros_like(residual).scatter_(1, slots[..., None].expand(b, k, 2), residual)
            visible = torch.zeros_like(visible).scatter_(1, slots, visible)
        near = visible & ((residual - self.offset).norm(dim=-1) < NEAR)  # (B, K)
        count = near.sum(0)  # (K,)
        mean = torch.where(near[..., None], residual, 0.0).sum(0) / count.clamp_min(1)[:, None]  # (K, 2)
        step = torch.where(count[:, None] > 0, mean - self.offset, 0.0)
        self.offset += MOMENTUM * step
