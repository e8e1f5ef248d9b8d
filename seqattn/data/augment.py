"""Keypoint-aware augmentation (albumentations) in the letterboxed input space.

albumentations keeps keypoints on their landmarks for affine warps and flips (pixel centre at
the integer, as the codec), but a horizontal flip does not know which keypoints are left and
right: this class swaps the configured pairs after every flip. Keypoints pushed out of the
frame become missing (NaN), never clipped; order and count never change.
"""

from __future__ import annotations

import logging

import albumentations as A
import numpy as np

from seqattn.data.codec import KeypointCodec
from seqattn.errors import ConfigError

log = logging.getLogger(__name__)

_FAR = -1e6  # where missing keypoints wait during a transform (albumentations has no NaN)
SMALL_ROTATION = 25.0  # degrees: what rotate="auto" gives a fixed view (seqattn.training.adapt)
_KEY = "data.augment"


def _check(scale, translate: float, hflip: float, brightness_contrast: float, blur: float, noise: float) -> None:
    """A ConfigError naming the first setting that means nothing (``rotate`` is checked with the config)."""
    pair = scale if isinstance(scale, int | float | str) else list(scale)
    numbers = isinstance(pair, list) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
    if not (numbers and len(pair) == 2 and 0 < pair[0] <= pair[1]):
        raise ConfigError(f"{_KEY}.scale must be [min, max] with 0 < min <= max, got {pair}")
    for name, value in (("translate", translate), ("brightness_contrast", brightness_contrast)):
        if not value >= 0:
            raise ConfigError(f"{_KEY}.{name} must be >= 0, got {value}")
    for name, value in (("hflip", hflip), ("blur", blur), ("noise", noise)):  # probabilities
        if not 0 <= value <= 1:
            raise ConfigError(f"{_KEY}.{name} must be in [0, 1], got {value}")


class KeypointAugment:
    """Random affine (rotation, scale, translation), horizontal flip with left/right swap,
    brightness/contrast, blur and noise.

    ``flip_pairs``: index pairs to swap on a flip (the data source's); None = unknown, so flips are
    switched off (a flip without the right swaps would teach the model wrong labels). ``rotate`` is
    a number of degrees: ``auto`` in the config is resolved from the labels before this is built.
    """

    def __init__(
        self,
        rotate: float,
        flip_pairs: list[tuple[int, int]] | None,
        scale: tuple[float, float] = (0.8, 1.2),
        translate: float = 0.08,
        hflip: float = 0.5,
        brightness_contrast: float = 0.2,
        blur: float = 0.1,
        noise: float = 0.0,
    ) -> None:
        _check(scale, translate, hflip, brightness_contrast, blur, noise)
        if flip_pairs is None and hflip > 0:
            log.warning(
                "horizontal flip off: no left/right keypoint pairs found in the names; "
                "set data.source.flip_pairs (or [] if no keypoint has a side) to flip"
            )
            hflip = 0.0
        self.hflip = hflip
        self.flip_pairs = [tuple(p) for p in flip_pairs or []]
        self.scale, self.translate = tuple(scale), translate
        self.rotate = float(rotate)  # rotations uniform in [-rotate, rotate] degrees
        moves = self.rotate or self.translate or self.scale != (1, 1)
        affine = A.Affine(
            rotate=(-self.rotate, self.rotate),
            scale=self.scale,
            translate_percent=(-self.translate, self.translate),
            border_mode=0,
            fill=0,
            p=1.0 if moves else 0.0,
        )
        self.geometric = A.Compose([affine], keypoint_params=A.KeypointParams(format="xy", remove_invisible=False))
        self.flip = A.Compose(
            [A.HorizontalFlip(p=1.0)], keypoint_params=A.KeypointParams(format="xy", remove_invisible=False)
        )
        self.photometric = A.Compose(
            [
                A.RandomBrightnessContrast(
                    brightness_limit=brightness_contrast,
                    contrast_limit=brightness_contrast,
                    p=0.8 if brightness_contrast else 0.0,
                ),
                A.GaussianBlur(blur_limit=(3, 5), p=blur),
                A.GaussNoise(std_range=(0.02, 0.08), p=noise),
            ]
        )

    def __call__(self, image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(S, S, C) uint8 and (K, 2) input pixels with NaN -> the same after a random transform."""
        image, points, _ = self.transform(image, points)
        return image, points

    def transform(self, image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As ``__call__``, plus what the transform did to directions: ``frame_map`` (2, 2), the
        linear part of the warp and flip (a vector v in the input becomes frame_map @ v), measured
        by three probe points carried through the same transforms."""
        # albumentations keeps its own generators; reseed them from numpy's, which Lightning seeds
        # per DataLoader worker, so workers do not repeat each other's transforms.
        seed = int(np.random.randint(2**31))
        for i, pipeline in enumerate((self.geometric, self.flip, self.photometric)):
            pipeline.set_random_seed(seed + i)
        k = len(points)
        h, w = image.shape[:2]
        step = max(w, h) / 8
        probes = np.array([[w / 2, h / 2], [w / 2 + step, h / 2], [w / 2, h / 2 + step]])
        missing = ~np.isfinite(points).all(1)
        pts = np.concatenate([np.where(missing[:, None], _FAR, points), probes])
        out = self.geometric(image=image, keypoints=pts)
        image, pts = out["image"], np.asarray(out["keypoints"], dtype=np.float64).reshape(-1, 2)
        if np.random.random() < self.hflip:
            out = self.flip(image=image, keypoints=pts)
            image, pts = out["image"], np.asarray(out["keypoints"], dtype=np.float64).reshape(-1, 2)
            order = np.asarray(KeypointCodec.mirror_order(k, self.flip_pairs))
            pts[:k], missing = pts[:k][order], missing[order]
        image = self.photometric(image=image)["image"]
        pts, probes = pts[:k], pts[k:]
        frame_map = np.stack([probes[1] - probes[0], probes[2] - probes[0]], axis=1) / step  # columns: x, y
        h, w = image.shape[:2]
        outside = (pts < -0.5).any(1) | (pts[:, 0] >= w - 0.5) | (pts[:, 1] >= h - 0.5)
        pts[missing | outside] = np.nan
        return image, pts, frame_map
