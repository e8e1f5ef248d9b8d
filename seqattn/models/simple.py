"""Query decoder: K learned keypoint queries cross-attend to a CNN feature map (DETR-style)."""

from __future__ import annotations

import torch
from torch import nn

from seqattn.models.layers import ConvBackbone, grid_positions, sine_encoding


class QueryDecoderModel(nn.Module):
    """Images (B, 3, S, S) -> {"coords": (B, K, 2)} normalized (x, y) in [0, 1].

    A from-scratch CNN gives a stride-2^len(channels) feature map; it is flattened to tokens with a
    2-D sine position code; K learned queries pass through a transformer decoder (self-attention
    across keypoints, cross-attention to the tokens). The coordinate head is a soft-argmax: each
    query scores every map cell, the softmax-weighted mean of cell centres is the estimate, and a
    small learned offset (zero at init) refines it. Unlike a pooled regression this is
    translation-equivariant, so it learns from few images.
    """

    def __init__(
        self,
        num_keypoints: int,
        channels: tuple[int, ...] = (32, 64, 128, 128),
        width: int = 128,
        decoder_layers: int = 3,
        heads: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.backbone = ConvBackbone(tuple(channels))
        self.project = nn.Conv2d(channels[-1], width, 1)
        self.queries = nn.Embedding(num_keypoints, width)
        layer = nn.TransformerDecoderLayer(width, heads, 4 * width, dropout, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, decoder_layers)
        self.norm = nn.LayerNorm(width)
        self.score_query = nn.Linear(width, width)
        self.score_key = nn.Linear(width, width)
        self.offset = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, 2))
        nn.init.zeros_(self.offset[-1].weight)
        nn.init.zeros_(self.offset[-1].bias)
        self.width = width

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        fmap = self.project(self.backbone(images)[-1])  # (B, D, h, w)
        b, d, h, w = fmap.shape
        grid = grid_positions(h, w, fmap.device, fmap.dtype)  # (h*w, 2)
        pos = sine_encoding(grid, d)  # (h*w, D)
        memory = fmap.flatten(2).transpose(1, 2) + pos  # (B, h*w, D)
        queries = self.queries.weight.expand(b, -1, -1)  # (B, K, D)
        tokens = self.norm(self.decoder(queries, memory))  # (B, K, D)
        scores = self.score_query(tokens) @ self.score_key(memory).transpose(1, 2) / d**0.5  # (B, K, h*w)
        estimate = scores.softmax(-1) @ grid  # (B, K, 2)
        cell = torch.tensor([1.0 / w, 1.0 / h], device=fmap.device, dtype=fmap.dtype)
        coords = estimate + torch.tanh(self.offset(tokens)) * cell  # (B, K, 2), offset within one cell
        return {"coords": coords.clamp(0.0, 1.0)}
