"""Whole frames for the animal detector: each labelled frame letterboxed at the detector's size,
with every animal's anchor (seqattn.data.instances) as its target."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from seqattn.data.base import Augment, FrameSplit
from seqattn.data.codec import KeypointCodec, image_to_uint8
from seqattn.data.instances import MIN_LABELLED, InstanceLayout, anchor_of


def frame_anchors(keypoints: np.ndarray, anchor_index: int | None, max_animals: int) -> np.ndarray:
    """(N, K, 2) a frame's animals -> (max_animals, 2) their anchors, NaN-padded; animals with
    fewer than MIN_LABELLED labelled points are left out."""
    out = np.full((max_animals, 2), np.nan)
    kept = [anchor_of(p, anchor_index) for p in keypoints if np.isfinite(p).all(1).sum() >= MIN_LABELLED]
    out[: min(len(kept), max_animals)] = np.array(kept[:max_animals]).reshape(-1, 2)
    return out


class DetectorFrames(Dataset):
    """Items: ``image`` (3, D, D) uint8, the letterboxed frame; ``anchors`` (N, 2) normalized, NaN
    where the frame holds fewer than N = ``layout.max_animals`` animals. Frames are letterboxed
    once (kept in memory when ``cache``); ``augment`` (flips need no swaps here) on every access."""

    def __init__(
        self,
        frames: FrameSplit,
        codec: KeypointCodec,
        layout: InstanceLayout,
        names: list[str],
        augment: Augment | None = None,
        cache: bool = True,
    ) -> None:
        self.frames, self.codec, self.augment = frames, codec, augment
        self.anchor_index = None if layout.anchor is None else names.index(layout.anchor)
        self.max_animals = layout.max_animals
        self._cache = [self._letterbox(i) for i in range(len(frames))] if cache else None

    def _letterbox(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        image, frame = self.codec.letterbox(self.frames.image(index))
        anchors = frame_anchors(self.frames.labels(index).keypoints, self.anchor_index, self.max_animals)
        return image, self.codec.to_input_px(anchors, frame)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image, points = self._cache[index] if self._cache is not None else self._letterbox(index)
        if self.augment is not None:
            image, points = self.augment(image, points)
        return {
            "image": image_to_uint8(image),
            "anchors": torch.from_numpy(self.codec.input_px_to_norm(points)).float(),
        }
