"""Keypoint-aware augmentation (albumentations) in the letterboxed input space.

albumentations keeps keypoints on their landmarks for affine warps and flips (pixel centre at
the integer, as the codec), but a horizontal flip does not know which keypoints are left and
right: this class swaps the configured pairs after every flip. Keypoints pushed out of the
frame become missing (NaN), never clipped; order and count never change.
"""

from __future__ import annotations

import logging

import albumentations as A
import cv2
import numpy as np

from seqattn.data.codec import KeypointCodec
from seqattn.errors import ConfigError

log = logging.getLogger(__name__)

_FAR = -1e6  # where missing keypoints wait during a transform (albumentations has no NaN)
SMALL_ROTATION = 25.0  # degrees: what rotate="auto" gives a fixed view (seqattn.training.adapt)
_KEY = "data.augment"
CROWD_DISTANCE = (0.2, 0.6)  # the second animal's centre from this one's, in this one's span
BODY_MARGIN = 0.06  # an animal's pixels: the hull of its labelled points grown by this share of its span


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
        crowd: float = 0.2,
    ) -> None:
        _check(scale, translate, hflip, brightness_contrast, blur, noise)
        if not 0 <= crowd <= 1:
            raise ConfigError(f"{_KEY}.crowd must be in [0, 1], got {crowd}")
        self.crowd = crowd  # read by KeypointSamples for crops around animals (seqattn.data.datamodule)
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


def _body(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) float32 in [0, 1]: the convex hull of ``points`` (N >= 3, input pixels), grown by
    BODY_MARGIN of their span and feathered over the same width."""
    span = float((points.max(0) - points.min(0)).max())
    mask = np.zeros(shape, np.float32)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1.0)
    width = 2 * max(1, round(BODY_MARGIN * span)) + 1
    mask = cv2.dilate(mask, np.ones((width, width), np.uint8))
    return np.clip(cv2.GaussianBlur(mask, (width, width), 0), 0.0, 1.0)


def crowd(image: np.ndarray, points: np.ndarray, other: np.ndarray, other_points: np.ndarray) -> np.ndarray:
    """This crop with a second animal (``other``'s, turned at random) placed near its centre: animals
    lying on each other, which a short labelled clip may never show. Within the second animal's
    outline (the hull of its labelled points) the two images are joined by their lighter pixel where
    animals are lighter than their background, by the darker one where darker (judged on
    ``other``), so neither animal is painted over by the other's background. image, other (S, S, C)
    uint8; points, other_points (K, 2) input pixels, NaN = missing. The labels stay this animal's;
    the image comes back as it is when either animal has fewer than three labelled points."""
    mine, theirs = (p[np.isfinite(p).all(1)] for p in (points, other_points))
    if len(mine) < 3 or len(theirs) < 3:
        return image
    centre, span = (mine.min(0) + mine.max(0)) / 2, float((mine.max(0) - mine.min(0)).max())
    direction = np.random.uniform(0, 2 * np.pi)
    place = centre + np.random.uniform(*CROWD_DISTANCE) * span * np.array([np.cos(direction), np.sin(direction)])
    their_centre = (theirs.min(0) + theirs.max(0)) / 2
    warp = cv2.getRotationMatrix2D((float(their_centre[0]), float(their_centre[1])), np.random.uniform(-180, 180), 1.0)
    warp[:, 2] += place - their_centre
    h, w = image.shape[:2]
    outline = _body(theirs, other.shape[:2]) > 0.5
    lighter = other[outline].mean() > other[~outline].mean() if outline.any() and (~outline).any() else True
    moved = cv2.warpAffine(other, warp, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    moved = moved.reshape(image.shape)  # warpAffine drops a single channel's axis
    alpha = _body(theirs @ warp[:, :2].T + warp[:, 2], (h, w))[..., None]
    joined = np.maximum(image, moved) if lighter else np.minimum(image, moved)
    return np.round(image * (1.0 - alpha) + joined * alpha).astype(np.uint8)
