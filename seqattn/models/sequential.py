"""Sequential attention: a coarse soft-argmax estimate, then T glimpse-and-correct steps.

Step 0 runs a small CNN (or a pretrained backbone, ``backbone``: seqattn.models.backbones) with a
feature-pyramid merge on the input downsampled to ``S`` and takes a soft-argmax of one heat map
per keypoint. ``context_layers`` transformer layers over the coarsest stage (S/16 cells; S/32
with a pretrained backbone) give every cell of the pyramid an image-wide view, so that a heat map
can tell look-alike parts apart by where they sit in the whole animal (a CNN of this depth sees
about a quarter of the image). Each later step takes a glimpse around every current estimate at
the full resolution (``hires_factor`` x S, the letterbox), lets the K keypoint tokens attend to each other
(self-attention) and to their own glimpse (cross-attention), and moves each estimate by a
soft-argmax over the glimpse plus a zero-initialised residual. Glimpses shrink every step, so
precision follows the glimpse resolution rather than the step-0 input size.

A glimpse is made one of two ways (``glimpse_source``):
- ``pixels``: crop B x K pixel patches and encode each with the step's own small CNN. Best with
  few keypoints; its cost grows with K x T.
- ``features``: one thin stride-2 conv over the full-resolution letterbox per image; every
  keypoint's glimpse cells are sampled from that shared map (and projected), plus the step-0
  features there. The cost hardly depends on K.
The config's ``auto`` is resolved from the number of keypoints before the model is built
(seqattn/training/choices.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqattn.errors import ConfigError
from seqattn.models.backbones import PretrainedBackbone
from seqattn.models.layers import ConvBackbone, ImageContext, conv_bn_relu, sine_encoding


def soft_argmax(logits: torch.Tensor) -> torch.Tensor:
    """(B, K, h, w) logits -> (B, K, 2) expected (x, y) in [0, 1], cell centres at (i + 0.5) / n."""
    b, k, h, w = logits.shape
    p = logits.float().flatten(2).softmax(-1).view(b, k, h, w)  # (B, K, h, w); float32 under bf16 autocast
    xs = (torch.arange(w, device=logits.device, dtype=p.dtype) + 0.5) / w
    ys = (torch.arange(h, device=logits.device, dtype=p.dtype) + 0.5) / h
    return torch.stack([(p.sum(2) * xs).sum(-1), (p.sum(3) * ys).sum(-1)], dim=-1)


def block_means(images: torch.Tensor, m: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H / m, W / m): the mean of each m x m block. Channels-last images (what
    prediction runs on) take a depthwise convolution, several times faster than ``avg_pool2d`` on a
    CPU in that layout; others ``avg_pool2d``, which is faster there."""
    if images.is_contiguous() or not images.is_contiguous(memory_format=torch.channels_last):
        return F.avg_pool2d(images, m)
    c = images.shape[1]
    return F.conv2d(images, images.new_full((c, 1, m, m), 1.0 / (m * m)), stride=m, groups=c)


def crop_glimpses(
    image: torch.Tensor, centres: torch.Tensor, extent: float, size: int, mirrored: bool = False
) -> torch.Tensor:
    """Square crops of side ``extent`` (normalized units) centred on each point, sampled to size x size.

    image (B, C, H, W), centres (B, K, 2) in [0, 1] -> (B * K, C, size, size). Outside is zero.
    ``mirrored``: the crops of ``image.flip(-1)`` (centres in its frame), sampled from ``image`` at
    the mirrored places, x -> 1 - x, so the mirrored image is never made.
    """
    b, k, _ = centres.shape
    offsets = ((torch.arange(size, device=image.device, dtype=centres.dtype) + 0.5) / size - 0.5) * extent
    oy, ox = torch.meshgrid(offsets, offsets, indexing="ij")  # (size, size) each
    grid = centres[:, :, None, None, :] + torch.stack([ox, oy], -1)  # (B, K, size, size, 2) in [0, 1]
    if mirrored:
        grid = torch.stack([1 - grid[..., 0], grid[..., 1]], -1)
    grid = (grid * 2 - 1).reshape(b, k * size, size, 2)  # grid_sample's [-1, 1], align_corners=False
    out = F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.view(b, -1, k, size, size).transpose(1, 2).reshape(b * k, -1, size, size)  # (B*K, C, s, s)


def sample_cells(fmap: torch.Tensor, centres: torch.Tensor, extent: float, cells: int) -> torch.Tensor:
    """Features at a cells x cells grid of side ``extent`` around each point (bilinear, zero outside).

    fmap (B, C, h, w), centres (B, K, 2) in [0, 1] -> (B * K, cells * cells, C), row-major cells.
    """
    b, k, _ = centres.shape
    offsets = ((torch.arange(cells, device=fmap.device, dtype=centres.dtype) + 0.5) / cells - 0.5) * extent
    oy, ox = torch.meshgrid(offsets, offsets, indexing="ij")  # (c, c) each
    grid = centres[:, :, None, None, :] + torch.stack([ox, oy], -1)  # (B, K, c, c, 2)
    grid = (grid * 2 - 1).reshape(b, k * cells, cells, 2).to(fmap.dtype)  # align_corners=False convention
    out = F.grid_sample(fmap, grid, mode="bilinear", padding_mode="zeros", align_corners=False)  # (B, C, K*c, c)
    return out.view(b, -1, k, cells * cells).permute(0, 2, 3, 1).reshape(b * k, cells * cells, -1)


def _autocast_to(device: str, dtype: torch.dtype | None) -> torch.autocast:
    """Autocast to ``dtype`` on ``device``; None: off (float32)."""
    return torch.autocast(device, dtype=dtype, enabled=dtype is not None)


class GlimpseStep(nn.Module):
    """One refinement step: self-attention across keypoints, cross-attention to each glimpse.

    With ``from_pixels`` the step encodes pixel glimpses (B*K, 3, s, s) with its own CNN into
    (s/2)^2 cells; otherwise it receives cells already sampled from a shared map, (B*K, N, D).
    """

    def __init__(self, width: int, heads: int, glimpse_size: int, from_pixels: bool = True) -> None:
        super().__init__()
        self.encode = (
            nn.Sequential(conv_bn_relu(3, width // 2), conv_bn_relu(width // 2, width, 2), conv_bn_relu(width, width))
            if from_pixels
            else None
        )
        cells = glimpse_size // 2
        offsets = (torch.arange(cells) + 0.5) / cells  # glimpse cell centres in [0, 1] of the glimpse
        gy, gx = torch.meshgrid(offsets, offsets, indexing="ij")
        self.register_buffer("cells", torch.stack([gx, gy], -1).reshape(-1, 2), persistent=False)  # (N, 2)
        self.keypoints = nn.TransformerEncoderLayer(width, heads, 2 * width, 0.0, batch_first=True, norm_first=True)
        self.cross = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm_q, self.norm_kv = nn.LayerNorm(width), nn.LayerNorm(width)
        self.score_q, self.score_k = nn.Linear(width, width), nn.Linear(width, width)
        self.residual = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, 2))
        nn.init.zeros_(self.residual[-1].weight)
        nn.init.zeros_(self.residual[-1].bias)

    def forward(
        self, tokens: torch.Tensor, glimpses: torch.Tensor, cnn_dtype: torch.dtype | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens (B, K, D), glimpses (B*K, 3, s, s) pixels or (B*K, N, D) cells -> updated tokens,
        correction (B, K, 2) in glimpse units. ``cnn_dtype``: the pixel glimpses' CNN runs under
        autocast to it (None: float32); its features and everything after are float32."""
        b, k, d = tokens.shape
        tokens = self.keypoints(tokens)  # (B, K, D)
        if self.encode is None:
            feats = glimpses  # (B*K, N, D)
        else:
            with _autocast_to(glimpses.device.type, cnn_dtype):
                feats = self.encode(glimpses).flatten(2).transpose(1, 2).float()  # (B*K, N, D)
        feats = self.norm_kv(feats + sine_encoding(self.cells, d))  # (B*K, N, D)
        query = tokens.reshape(b * k, 1, d)  # (B*K, 1, D)
        attended, _ = self.cross(self.norm_q(query), feats, feats)  # (B*K, 1, D)
        query = query + attended
        scores = self.score_q(query) @ self.score_k(feats).transpose(1, 2) / d**0.5  # (B*K, 1, N)
        where = scores.softmax(-1) @ self.cells  # (B*K, 1, 2) in [0, 1] of the glimpse
        correction = where - 0.5 + 0.1 * torch.tanh(self.residual(query))  # (B*K, 1, 2)
        return query.view(b, k, d), correction.view(b, k, 2)


class SequentialAttentionModel(nn.Module):
    """Images (B, 3, m*S, m*S) with m = ``hires_factor`` -> {"coords", "steps", "confidence", "heat"}.

    ``coords`` (B, K, 2) normalized; ``steps`` the estimate after each step, coarse to fine
    (T + 1 of them, all supervised); ``confidence`` (B, K) in [0, 1]; ``heat`` the step-0 logits
    (B, K, S/4, S/4).
    """

    def __init__(
        self,
        num_keypoints: int,
        channels: tuple[int, ...] = (24, 48, 64, 96),
        width: int = 48,
        steps: int = 3,
        heads: int = 4,
        glimpse_size: int = 16,
        glimpse_extent: float = 0.15,
        glimpse_shrink: float = 0.5,
        hires_factor: int = 2,
        glimpse_source: str = "pixels",
        context_layers: int = 1,
        backbone: str | None = None,  # a pretrained step-0 backbone (seqattn.models.backbones) instead of channels
        backbone_weights: str | None = None,
    ) -> None:
        super().__init__()
        if backbone is None and len(channels) < 3:
            raise ConfigError(f"model.channels needs at least 3 stages (strides 2..8), got {list(channels)}")
        if glimpse_source not in ("pixels", "features"):
            raise ConfigError(f"model.glimpse_source must be pixels or features, got {glimpse_source!r}")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ConfigError(f"model.steps must be an integer >= 0, got {steps}")
        if not 0 < glimpse_shrink <= 1:
            raise ConfigError(f"model.glimpse_shrink must be in (0, 1], got {glimpse_shrink}")
        if not glimpse_extent > 0:
            raise ConfigError(f"model.glimpse_extent must be > 0, got {glimpse_extent}")
        if steps > 0 and glimpse_size < 2:
            raise ConfigError(f"model.glimpse_size must be >= 2 (a glimpse of (size/2)^2 cells), got {glimpse_size}")
        if heads < 1 or width % heads:
            raise ConfigError(f"model.width must be divisible by model.heads, got width {width}, heads {heads}")
        self.backbone = (
            ConvBackbone(tuple(channels)) if backbone is None else PretrainedBackbone(backbone, backbone_weights)
        )
        coarsest = self.backbone.pyramid_channels[-1]
        if context_layers > 0 and (coarsest % 4 or coarsest % heads):
            raise ConfigError(
                f"model.context_layers needs model.channels[-1] divisible by 4 and by heads, got {coarsest}"
            )
        self.glimpse_source = glimpse_source
        self.hires_factor, self.steps = hires_factor, steps
        self.glimpse_size, self.glimpse_extent, self.glimpse_shrink = glimpse_size, glimpse_extent, glimpse_shrink
        self.context = ImageContext(coarsest, heads, context_layers) if context_layers > 0 else None
        # feature pyramid merged at stride 4, from every stage at stride >= 4
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in self.backbone.pyramid_channels)
        self.merge = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(inplace=True))  # no conv: stride 4 is costly
        self.heat = nn.Conv2d(width, num_keypoints, 3, padding=1)
        self.identity = nn.Embedding(num_keypoints, width)
        from_pixels = glimpse_source == "pixels"
        self.refine = nn.ModuleList(GlimpseStep(width, heads, glimpse_size, from_pixels) for _ in range(steps))
        # features only: one thin conv over the letterbox (stride 2: a cell per step-0 input pixel) whose
        # cells are projected after sampling, plus the step-0 map there for context. A deeper CNN at
        # this resolution cost 5x the rest of the model on a CPU (docs/history.md, the shared map, 2026-12-01).
        shared = not from_pixels and steps > 0
        self.hires = conv_bn_relu(3, width // 3, 2) if shared else None
        self.hires_proj = nn.Linear(width // 3, width) if shared else None
        self.confidence = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 1))

    def step0_features(self, low: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> the merged pyramid (B, D, S/4, S/4) that the heat maps are read from."""
        feats = self.backbone.pyramid(low)  # strides 4, 8, ...
        if self.context is not None:
            feats[-1] = self.context(feats[-1])  # (B, C, S/16, S/16) with an image-wide view
        top = feats[0].shape[-2:]
        pyramid = sum(
            F.interpolate(lat(f), size=top, mode="bilinear", align_corners=False) if f.shape[-2:] != top else lat(f)
            for lat, f in zip(self.lateral, feats, strict=True)
        )
        return self.merge(pyramid)

    def forward(self, images: torch.Tensor, mirrored: bool = False) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """``mirrored``: the prediction for ``images.flip(-1)`` (test-time flip, seqattn/models/flip.py),
        made from ``images``: step 0 mirrors its block means, a quarter of the letterbox's pixels, and
        pixel glimpses are sampled at the mirrored places; only a shared glimpse map (``features``)
        needs the mirrored letterbox."""
        m, device = self.hires_factor, images.device.type
        # in evaluation the glimpse CNNs take the caller's autocast (bf16 prediction); in training float32
        lower = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) and not self.training else None
        with torch.autocast(device, enabled=False):  # block means in float32, cast once made
            low = block_means(images, m) if m > 1 else images  # (B, 3, S, S)
        fmap = self.step0_features(low.flip(-1) if mirrored else low)  # (B, D, S/4, S/4)
        with torch.autocast(device, enabled=False):  # the heat maps and the refinement in float32
            fmap = fmap.float()
            return self._refine(images.float(), fmap, self.heat(fmap), mirrored, lower)  # heat (B, K, S/4, S/4)

    def _refine(
        self,
        images: torch.Tensor,
        fmap: torch.Tensor,
        heat: torch.Tensor,
        mirrored: bool,
        cnn_dtype: torch.dtype | None,
    ) -> dict:
        """Step 0's estimate and the glimpse-and-correct steps, in float32 whatever autocast says:
        their corrections are sub-pixel, and step 0 holds most of the cost (bf16 against float32:
        docs/benchmarks.md#precision); only the glimpses' CNNs run in ``cnn_dtype`` where it is set
        (prediction in bf16). ``mirrored``: ``fmap`` and ``heat`` are of the mirrored image,
        ``images`` is not."""
        coords = soft_argmax(heat)  # (B, K, 2)
        steps = [coords]
        b, k, _ = coords.shape
        # token: identity + the step-0 feature at the estimate
        grid = (coords.detach() * 2 - 1)[:, :, None, :]  # (B, K, 1, 2)
        local = F.grid_sample(fmap, grid, align_corners=False).squeeze(-1).transpose(1, 2)  # (B, K, D)
        tokens = local + self.identity.weight  # (B, K, D)
        extent = self.glimpse_extent
        if self.hires is None:
            hires = None
        else:  # a convolution's output is not its mirrored input's mirrored: this map needs the mirrored image
            with _autocast_to(images.device.type, cnn_dtype):
                hires = self.hires(images.flip(-1) if mirrored else images).float()  # (B, D/3, mS/2, mS/2)
        for step in self.refine:
            # stop gradients through the crop position: each step learns its own correction
            if hires is None:
                glimpses = crop_glimpses(images, coords.detach(), extent, self.glimpse_size, mirrored)  # (B*K, 3, s, s)
            else:  # fine cells from the shared map + the step-0 context at the same places
                cells = self.glimpse_size // 2
                fine = self.hires_proj(sample_cells(hires, coords.detach(), extent, cells))  # (B*K, N, D)
                glimpses = fine + sample_cells(fmap, coords.detach(), extent, cells)  # (B*K, N, D)
            tokens = tokens + sine_encoding(coords.detach(), tokens.shape[-1])
            tokens, correction = step(tokens, glimpses, cnn_dtype)
            coords = coords + correction * extent  # (B, K, 2)
            steps.append(coords)
            extent *= self.glimpse_shrink
        confidence = torch.sigmoid(self.confidence(tokens)).squeeze(-1)  # (B, K)
        return {"coords": coords, "steps": steps, "confidence": confidence, "heat": heat}
