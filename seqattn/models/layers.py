"""Building blocks shared by the models: a small from-scratch CNN, 2-D sine position codes and
transformer layers over a feature map."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from seqattn.errors import ConfigError


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def fold_batch_norms(module: nn.Module) -> int:
    """For inference only: every (Conv2d, BatchNorm2d) pair in an ``nn.Sequential`` of ``module``
    becomes one convolution with the normalisation's running statistics folded into its weights and
    bias (the BatchNorm replaced by an Identity); returns how many were folded. The same outputs in
    eval mode up to float rounding, one pass over each feature map fewer, and under bf16 autocast
    no float32 round trip between the convolution and its activation. Train mode would differ
    (batch statistics), so the module is left in eval mode."""
    module.eval()
    folded = 0
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            conv, norm = seq[i], seq[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d) and norm.track_running_stats:
                seq[i], seq[i + 1] = fuse_conv_bn_eval(conv, norm), nn.Identity()
                folded += 1
    return folded


class ConvBackbone(nn.Module):
    """Stages of (stride-2 conv, conv); returns the feature map of every stage, finest first.

    Input (B, 3, S, S) -> list of (B, channels[i], S / 2^(i+1), S / 2^(i+1)).
    """

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128, 128)) -> None:
        super().__init__()
        stages, cin = [], 3
        for cout in channels:
            stages.append(nn.Sequential(conv_bn_relu(cin, cout, 2), conv_bn_relu(cout, cout)))
            cin = cout
        self.stages = nn.ModuleList(stages)
        self.channels = tuple(channels)
        self.pyramid_channels = self.channels[1:]  # the stages at strides 4, 8, ...

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats

    def pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The maps at strides 4, 8, ... (what step 0's heat maps merge)."""
        return self.forward(x)[1:]


def sine_encoding(xy: torch.Tensor, dim: int, temperature: float = 1000.0) -> torch.Tensor:
    """Normalized positions (..., 2) in [0, 1] -> (..., dim) sine/cosine code; dim divisible by 4."""
    if dim % 4:
        raise ConfigError(f"sine encoding needs dim divisible by 4, got {dim}")
    quarter = dim // 4
    freqs = temperature ** (-torch.arange(quarter, device=xy.device, dtype=xy.dtype) / quarter)  # (dim/4,)
    angles = 2 * math.pi * xy[..., None] * freqs  # (..., 2, dim/4)
    return torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(-2)  # (..., dim)


def grid_positions(h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Normalized pixel-centre positions of an (h, w) map, (h * w, 2) as (x, y), row-major."""
    ys = (torch.arange(h, device=device, dtype=dtype) + 0.5) / h
    xs = (torch.arange(w, device=device, dtype=dtype) + 0.5) / w
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1).reshape(h * w, 2)


class ImageContext(nn.Module):
    """Transformer layers over every cell of a feature map, with sine position codes.

    (B, C, h, w) -> (B, C, h, w); the layers are residual, so the map keeps its local features.
    """

    def __init__(self, channels: int, heads: int, layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(channels, heads, 2 * channels, 0.0, batch_first=True, norm_first=True)
            for _ in range(layers)
        )

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        b, c, h, w = fmap.shape
        cells = fmap.flatten(2).transpose(1, 2)  # (B, h*w, C)
        cells = cells + sine_encoding(grid_positions(h, w, fmap.device, cells.dtype), c)
        for layer in self.layers:
            cells = layer(cells)
        return cells.transpose(1, 2).reshape(b, c, h, w)
