"""The one pixel <-> normalized coordinate convention, used by data, model, metrics and prediction.

Pixel coordinates follow the labelling tools (DeepLabCut, COCO): pixel ``i`` has its centre at
``x = i``. Its continuous extent is ``[i - 0.5, i + 0.5)``, so an image of width ``W`` spans
``[-0.5, W - 0.5)``. Resizing follows the same half-pixel rule as OpenCV and
``F.interpolate(align_corners=False)``: edge coordinate ``e = x + 0.5`` scales linearly.

An image of any size is letterboxed into the square network input of side ``S``: scaled to fit
(aspect kept), then padded symmetrically. Normalized coordinates live in ``[0, 1]`` over that
square, with input pixel ``j`` centred at ``(j + 0.5) / S``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch

from seqattn.errors import ConfigError

# Frame layout when stored as a flat vector (one per sample, collated to (B, 6)).
FRAME_FIELDS = ("scale_x", "scale_y", "pad_x", "pad_y", "width", "height")


@dataclass(frozen=True)
class Frame:
    """How one original image of ``width x height`` sits inside the square input."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    width: int
    height: int

    def as_array(self) -> np.ndarray:
        return np.array([getattr(self, f) for f in FRAME_FIELDS], dtype=np.float64)


@dataclass(frozen=True)
class Geometry:
    """The letterbox a model is fed, owned here and stored in its checkpoint (``input_size`` and the
    model's ``hires_factor``): step 0 sees an ``input_size`` square; a model that refines at higher
    resolution takes the letterbox at ``hires_factor`` x ``input_size`` and downsamples it for step 0."""

    input_size: int  # S, pixels: the side step 0 sees
    hires_factor: int = 1  # m: the letterbox's side is m x S

    @property
    def side(self) -> int:
        """The letterbox's side, pixels."""
        return self.input_size * self.hires_factor

    def codec(self) -> KeypointCodec:
        return KeypointCodec(self.side)

    @classmethod
    def for_model(cls, input_size: int | str, model: Mapping[str, Any]) -> Geometry:
        """The letterbox a resolved model config is fed: ``hires_factor`` x ``input_size``."""
        if str(model.get("hires_factor", "auto")) == "auto":
            raise ConfigError(
                "model.hires_factor is not resolved: the letterbox side is hires_factor x input_size"
                " (seqattn.training.adapt.resolve_auto fills auto from the data)"
            )
        return cls(int(input_size), int(model["hires_factor"]))


class KeypointCodec:
    """Letterbox resize and exact coordinate mapping for a square letterbox of side ``side``."""

    def __init__(self, side: int) -> None:
        if side < 8:
            raise ValueError(f"the letterbox side must be >= 8 pixels, got {side}")
        self.side = int(side)

    def frame(self, width: int, height: int) -> Frame:
        s = self.side
        scale = s / max(width, height)
        new_w = max(1, round(width * scale))
        new_h = max(1, round(height * scale))
        # Per-axis scale is exactly new/old, so rounding the resized size adds no bias.
        return Frame(new_w / width, new_h / height, (s - new_w) // 2, (s - new_h) // 2, width, height)

    def letterbox(self, image: np.ndarray) -> tuple[np.ndarray, Frame]:
        """(H, W, C) uint8 -> (S, S, C) uint8 with zero padding, plus its frame."""
        h, w = image.shape[:2]
        fr = self.frame(w, h)
        new_w, new_h = self.resized_size(fr)
        shrinking = new_w < w or new_h < h
        interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        return self.pad(cv2.resize(image, (new_w, new_h), interpolation=interp), fr), fr

    def fitted_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) a ``width x height`` image is resized to inside the letterbox."""
        return self.resized_size(self.frame(width, height))

    @staticmethod
    def resized_size(fr: Frame) -> tuple[int, int]:
        """(width, height) of the image inside the square input."""
        return round(fr.width * fr.scale_x), round(fr.height * fr.scale_y)

    def pad(self, resized: np.ndarray, fr: Frame) -> np.ndarray:
        """An image already resized to ``resized_size(fr)`` -> the (S, S, C) input, zero padded."""
        if resized.ndim == 2:
            resized = resized[:, :, None]
        new_h, new_w = resized.shape[:2]
        out = np.zeros((self.side, self.side, resized.shape[2]), resized.dtype)
        px, py = int(fr.pad_x), int(fr.pad_y)
        out[py : py + new_h, px : px + new_w] = resized
        return out

    # --- original pixels <-> input pixels (numpy, per sample) -----------------------------------
    @staticmethod
    def rescale_px(points: np.ndarray, factor: float | np.ndarray) -> np.ndarray:
        """(..., 2) pixels -> the same points in the image resized by ``factor`` (per axis, or one
        for both): edges scale, not centres. NaN stays NaN."""
        return (np.asarray(points, np.float64) + 0.5) * factor - 0.5

    @classmethod
    def to_input_px(cls, points: np.ndarray, fr: Frame) -> np.ndarray:
        """(K, 2) original pixels -> (K, 2) input pixels. NaN stays NaN."""
        return cls.rescale_px(points, np.array([fr.scale_x, fr.scale_y])) + np.array([fr.pad_x, fr.pad_y])

    # --- input pixels <-> normalized ------------------------------------------------------------
    def input_px_to_norm(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) letterbox pixels -> normalized units: pixel j's centre is (j + 0.5) / S."""
        return (np.asarray(points, dtype=np.float64) + 0.5) / self.side

    def norm_to_input_px(self, norm: torch.Tensor) -> torch.Tensor:
        """(..., 2) normalized units -> letterbox pixels (any device and dtype; differentiable)."""
        return norm * self.side - 0.5

    def encode(self, points: np.ndarray, fr: Frame) -> np.ndarray:
        """(K, 2) original pixels -> (K, 2) normalized input coordinates."""
        return self.input_px_to_norm(self.to_input_px(points, fr))

    def decode(self, norm: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Normalized (B, K, 2) + frames (B, 6) -> original-image pixels (B, K, 2).

        Works on any device and dtype; differentiable, so metrics and losses may use it.
        """
        f = frames.to(norm.dtype)[:, None, :]  # (B, 1, 6)
        scale, pad = f[..., 0:2], f[..., 2:4]  # (B, 1, 2) each
        input_px = self.norm_to_input_px(norm)  # (B, K, 2)
        return (input_px - pad + 0.5) / scale - 0.5

    @staticmethod
    def mirror_order(num_keypoints: int, pairs: Sequence[Sequence[int]]) -> list[int]:
        """The keypoint order of a mirrored image: each left/right pair's two indices exchanged."""
        order = list(range(num_keypoints))
        for i, j in pairs:
            order[i], order[j] = j, i
        return order

    @staticmethod
    def mirror(norm: torch.Tensor) -> torch.Tensor:
        """Normalized (..., 2) points of a letterbox -> the same points in the letterbox mirrored
        left to right (``image.flip(-1)``): pixel ``j`` becomes ``S - 1 - j``, so x -> 1 - x."""
        return torch.stack([1 - norm[..., 0], norm[..., 1]], -1)

    def px_per_unit(self) -> float:
        """Input pixels per normalized unit: a normalized distance times this is input pixels."""
        return float(self.side)


INPUT_MEAN, INPUT_STD = 0.5, 0.25  # the model's input: (value / 255 - INPUT_MEAN) / INPUT_STD
PADDING = (0.0 - INPUT_MEAN) / INPUT_STD  # the letterbox's black padding, as the model sees it


def _rgb(image: np.ndarray) -> np.ndarray:
    """(S, S, C) or (S, S) uint8, grey or colour -> (S, S, 3) uint8."""
    if image.ndim == 2:
        image = image[:, :, None]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return image[:, :, :3]


def image_to_uint8(image: np.ndarray) -> torch.Tensor:
    """(S, S, C) or (S, S) uint8, grey or colour -> (3, S, S) uint8: what the data loaders send, a
    quarter of float32's bytes between processes and to the device; ``normalize`` makes the input."""
    return torch.from_numpy(np.ascontiguousarray(_rgb(image))).permute(2, 0, 1)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """(..., 3, S, S) uint8 -> float32, roughly zero-mean unit-range: the model's input, in the
    memory format of ``images`` (one new tensor, normalized in place)."""
    return images.to(torch.float32, copy=True).div_(255.0).sub_(INPUT_MEAN).div_(INPUT_STD)


def images_to_batch(images: Sequence[np.ndarray]) -> torch.Tensor:
    """Letterboxed images, each (S, S, C) or (S, S) uint8 -> (B, 3, S, S) float32, the model's input,
    in channels-last memory (the convolutions' format): one uint8 stack and one float tensor, no
    per-image float copies to stack and reorder."""
    return normalize(torch.from_numpy(np.stack([_rgb(image) for image in images])).permute(0, 3, 1, 2))


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """(S, S, C) uint8, grey or colour -> (3, S, S) float32: the model's input for one image."""
    return normalize(image_to_uint8(image))
