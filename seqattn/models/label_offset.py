"""Where the labels sit relative to what the image shows: one estimated offset for the label set.

Labels can sit a constant distance from the landmarks in the image's own frame, the same for
every keypoint: a labelling tool's pixel origin (half a pixel between conventions), a label set
made by another model's predictions. A model trained with rotations and flips cannot learn such an
offset: after a random rotation the labels' offset points a random way, so the model is trained
towards the landmarks themselves and misses every label by the offset. One offset for all
keypoints, not one each: a keypoint's own mean residual also holds errors that depend on the
animal's heading, which do not carry over to other frames (per keypoint, openfield's test error
rose by a tenth to a sixth; docs/history.md).

This module holds the offset apart, as a running estimate (like a batch norm's running mean, not
a trained weight: a trained one drifts wherever the model can follow it). Training compares the
prediction plus the offset carried through each sample's augmentation (its linear part ``M``,
with a flip's mirror) with the augmented labels; after each training batch the estimate moves a step
towards the mean of the residuals taken back to the image's frame (``M^-1``); a prediction on an
image as filmed adds the offset unchanged. Labels without an offset keep one near zero.
"""

from __future__ import annotations

import torch
from torch import nn

MOMENTUM = 0.01  # the share of each training batch's mean residual in the estimate
NEAR = 0.05  # normalized: residuals farther than this from the estimate (gross misses) are left out


class LabelOffset(nn.Module):
    """One (x, y) offset in normalized letterbox units, zero at the start."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("offset", torch.zeros(2))

    def forward(self, frame_map: torch.Tensor | None = None) -> torch.Tensor:
        """The labels' offset as a sample shows it: (2,) for images as filmed (no argument), else
        (B, 1, 2) for samples whose augmentation mapped vectors by ``frame_map`` (B, 2, 2)."""
        if frame_map is None:
            return self.offset
        return (frame_map.to(self.offset.dtype) @ self.offset)[:, None, :]  # (B, 1, 2)

    @torch.no_grad()
    def update(self, residual: torch.Tensor, visible: torch.Tensor, frame_map: torch.Tensor | None = None) -> None:
        """Move the estimate a step towards the mean of a training batch's ``residual`` (B, K, 2),
        label minus prediction in each sample's frame, over its ``visible`` (B, K) points."""
        residual = torch.where(visible[..., None], residual.float(), 0.0)
        if frame_map is not None:  # back to the image's frame
            residual = torch.linalg.solve(frame_map.float()[:, None], residual[..., None]).squeeze(-1)
        near = visible & ((residual - self.offset).norm(dim=-1) < NEAR)  # (B, K)
        if near.any():
            self.offset += MOMENTUM * (residual[near].mean(0) - self.offset)
