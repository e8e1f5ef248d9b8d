"""Where the labels sit relative to what the image shows: one learned offset per keypoint.

Labels can sit a constant distance from the landmark in the image's own frame: a labelling
tool's pixel origin (half a pixel between conventions), a label set made by another model's
predictions, a habit of the person who clicked. A model trained with rotations and flips cannot
learn such an offset: after a random rotation the labels' offset points a random way, so the
model is trained towards the landmark itself and misses every label by the offset. This module
holds the offset as its own parameter: the model predicts the landmark, training compares the
prediction plus the offset carried through each sample's augmentation (its linear part ``M``,
and the left/right swap of a flip) with the augmented labels, and a prediction on an image as
filmed adds the offset unchanged. Labels without an offset learn one near zero.
"""

from __future__ import annotations

import torch
from torch import nn


class LabelOffset(nn.Module):
    """(K, 2) offsets in normalized letterbox units, zero at the start."""

    def __init__(self, num_keypoints: int) -> None:
        super().__init__()
        self.offset = nn.Parameter(torch.zeros(num_keypoints, 2))

    def forward(self, frame_map: torch.Tensor | None = None, order: torch.Tensor | None = None) -> torch.Tensor:
        """The offset of each label as a sample shows it: (K, 2) for images as filmed (no
        arguments), else (B, K, 2) for samples whose augmentation mapped vectors by ``frame_map``
        (B, 2, 2) and put keypoint ``order[b, k]`` (B, K) in slot k (a flip swaps left and right)."""
        if frame_map is None:
            return self.offset
        offsets = self.offset[order] if order is not None else self.offset.expand(len(frame_map), -1, -1)
        return torch.einsum("bij,bkj->bki", frame_map.to(offsets.dtype), offsets)  # (B, K, 2)
