"""Building blocks shared by the models: a small from-scratch CNN and 2-D sine position codes."""

from __future__ import annotations

import math

import torch
from torch import nn

from seqattn.errors import ConfigError


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


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

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


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
