"""What the resolver learns from the labels before anything is built: image size, object span,
how alike the animal's heading is across images, how far its place in the frame varies, the
splits' sizes and the left/right pairs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seqattn.data import KeypointSource


@dataclass
class DataStats:
    num_train: int
    num_keypoints: int
    long_side_px: float  # median over the sampled training images of max(width, height)
    object_span_px: float  # median over them of the labelled keypoints' bounding-box long side (NaN: none)
    pose_alignment: float  # how alike the animal's heading is across images, in [0, 1] (NaN: too few labels)
    num_val: int = 0  # images in the validation split
    flip_pairs: list[list[str]] | None = None  # names of the left/right pairs a flip swaps; None: unknown
    layout: dict | None = None  # several animals in a frame: anchor, crop_px, max_animals, reason (data.instances)
    frame_long_side_px: float = math.nan  # several animals: median long side of the whole frames
    # where the animal is in the frame across images (x, y), shares of the width and height (NaN: unknown)
    position_spread: tuple[float, float] = (math.nan, math.nan)
    travel_spans: float = math.nan  # position_spread's y in the animal's own size (NaN: unknown)


SAMPLED_IMAGES = 64  # training images measured for the image size and object span
FRAMES_READ = 8  # several animals: whole frames read for their size (their labels: SAMPLED_IMAGES frames)


def pose_alignment(keypoints: list[np.ndarray]) -> float:
    """How consistently each keypoint lies in the same direction from its sample's centroid, up to
    a left-right mirror (an animal walking either way in a side view is one view, which flips
    cover): per keypoint the mean resultant length of those directions, after mirroring each
    sample that way matches the mean better; median over keypoints labelled in at least 8 samples.
    1: a fixed view (upright faces, side views); low: any heading (animals seen from above).
    keypoints: per sample (K, 2) pixels, NaN where missing. NaN when too few labels."""
    units = []
    for pts in keypoints:
        centred = pts - np.nanmean(pts, 0) if np.isfinite(pts).all(1).sum() >= 3 else np.full_like(pts, np.nan)
        norm = np.linalg.norm(centred, axis=1, keepdims=True)
        units.append(np.where(norm > 0, centred / np.where(norm > 0, norm, 1), np.nan))
    if not units:
        return math.nan
    u = np.stack(units)  # (N, K, 2) unit directions, NaN where unknown
    counted = np.isfinite(u).all(2).sum(0) >= 8  # (K,)
    if not counted.any():
        return math.nan
    mirrored = u * np.array([-1.0, 1.0])
    picked = u
    for _ in range(5):  # choose each sample's reflection against the mean, then update the mean
        mean = np.nanmean(picked, 0)  # (K, 2)
        flip = np.nansum(mirrored * mean, (1, 2)) > np.nansum(u * mean, (1, 2))  # (N,)
        picked = np.where(flip[:, None, None], mirrored, u)
    lengths = np.linalg.norm(np.nanmean(picked, 0), axis=1)[counted]
    return float(np.median(lengths))


def position(animals: list[tuple[np.ndarray, tuple[int, ...]]]) -> dict[str, object]:
    """Where the animal is in the frame across images. ``position_spread``: the range from the 10th
    to the 90th percentile of its centre (the centre of its labelled points' box), as shares of its
    image's width and height (x, y); ``travel_spans``: that range down the height in the animal's
    own size (the median long side of its labelled points' box, as a share of the height).
    animals: per animal its (K, 2) points (NaN where missing) and its image's shape. {} (the
    DataStats defaults, NaN) with fewer than 8 animals with 2 labelled points."""
    centres, spans = [], []
    for points, shape in animals:
        pts = points[np.isfinite(points).all(1)]
        if len(pts) >= 2:
            size = np.array([shape[1], shape[0]], dtype=np.float64)  # width, height
            centres.append((pts.min(0) + pts.max(0)) / 2 / size)
            spans.append(float((pts.max(0) - pts.min(0)).max()) / size[1])
    if len(centres) < 8:
        return {}
    low, high = np.percentile(np.array(centres), [10, 90], axis=0)
    span = float(np.median(spans))
    travel = float(high[1] - low[1]) / span if span > 0 else math.nan
    return {"position_spread": (float(high[0] - low[0]), float(high[1] - low[1])), "travel_spans": travel}


def measure(source: KeypointSource) -> DataStats:
    """Image size, object span, pose alignment and position spread of up to SAMPLED_IMAGES training
    images, evenly spread (several animals in a frame: the position spread over whole frames)."""
    splits, pairs = source.splits(), source.flip_pairs
    train = splits["train"]
    picks = np.unique(np.linspace(0, len(train) - 1, num=min(SAMPLED_IMAGES, len(train))).round().astype(int))
    sides, spans, keypoints, animals = [], [], [], []
    for i in picks:
        sample = train[int(i)]
        sides.append(max(sample.image.shape[:2]))
        keypoints.append(sample.keypoints)
        animals.append((sample.keypoints, sample.image.shape))
        pts = sample.keypoints[np.isfinite(sample.keypoints).all(1)]
        if len(pts) >= 2:
            spans.append(float((pts.max(0) - pts.min(0)).max()))
    # several animals: splits() holds crops centred on each animal; where it is comes from whole frames
    found = {**position(animals), **_frames(source)}
    return DataStats(
        num_train=len(train),
        num_val=len(splits["val"]),
        num_keypoints=len(source.keypoint_names),
        long_side_px=float(np.median(sides)),
        object_span_px=float(np.median(spans)) if spans else math.nan,
        pose_alignment=pose_alignment(keypoints),
        flip_pairs=None if pairs is None else [[source.keypoint_names[i], source.keypoint_names[j]] for i, j in pairs],
        **found,
    )


def _frames(source: KeypointSource) -> dict:
    """The layout, whole-frame size and where every animal is (``position``) over the whole frames of a
    source of several animals in a frame ({} otherwise). Frames are taken to share one size: the
    median height and width of FRAMES_READ of them."""
    if source.layout is None:
        return {}
    frames = source.frames()["train"]
    read = np.unique(np.linspace(0, len(frames) - 1, num=min(FRAMES_READ, len(frames))).round().astype(int))
    shapes = np.array([frames.image(int(i)).shape[:2] for i in read])
    picks = np.unique(np.linspace(0, len(frames) - 1, num=min(SAMPLED_IMAGES, len(frames))).round().astype(int))
    shape = tuple(np.median(shapes, 0))
    animals = [(p, shape) for i in picks for p in frames.labels(int(i)).keypoints]
    layout = {**source.layout.as_dict(), "reason": source.layout.reason}
    return {"layout": layout, "frame_long_side_px": float(np.median(shapes.max(1))), **position(animals)}
