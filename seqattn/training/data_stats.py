"""What the resolver learns from the labels before anything is built: image size, object span,
how alike the animal's heading is across images, the splits' sizes and the left/right pairs."""

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


SAMPLED_IMAGES = 64  # training images measured for the image size and object span


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


def measure(source: KeypointSource) -> DataStats:
    """Image size and object span of up to SAMPLED_IMAGES training images, evenly spread."""
    splits, pairs = source.splits(), source.flip_pairs
    train = splits["train"]
    picks = np.unique(np.linspace(0, len(train) - 1, num=min(SAMPLED_IMAGES, len(train))).round().astype(int))
    sides, spans, keypoints = [], [], []
    for i in picks:
        sample = train[int(i)]
        sides.append(max(sample.image.shape[:2]))
        keypoints.append(sample.keypoints)
        pts = sample.keypoints[np.isfinite(sample.keypoints).all(1)]
        if len(pts) >= 2:
            spans.append(float((pts.max(0) - pts.min(0)).max()))
    return DataStats(
        num_train=len(train),
        num_val=len(splits["val"]),
        num_keypoints=len(source.keypoint_names),
        long_side_px=float(np.median(sides)),
        object_span_px=float(np.median(spans)) if spans else math.nan,
        pose_alignment=pose_alignment(keypoints),
        flip_pairs=None if pairs is None else [[source.keypoint_names[i], source.keypoint_names[j]] for i, j in pairs],
        **_frames(source),
    )


def _frames(source: KeypointSource) -> dict:
    """The layout and whole-frame size of a source of several animals in a frame ({} otherwise)."""
    if source.layout is None:
        return {}
    frames = source.frames()["train"]
    picks = np.unique(np.linspace(0, len(frames) - 1, num=min(8, len(frames))).round().astype(int))
    sides = [max(frames.image(int(i)).shape[:2]) for i in picks]
    layout = {**source.layout.as_dict(), "reason": source.layout.reason}
    return {"layout": layout, "frame_long_side_px": float(np.median(sides))}
