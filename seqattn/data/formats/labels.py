"""What the file readers share: the image checks and the source their entries make.

Every reader (DeepLabCut CSV, COCO JSON, plain CSV) only parses its format into ``Entry`` rows
(:mod:`seqattn.data.formats.label_files`); ``LabelledSource`` then checks the images,
masks impossible labels, applies the split (:mod:`seqattn.data.splits`) and exposes
train/val/test. All checks run when the source is built, before training starts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seqattn.data.base import FrameLabels, KeypointSource, RawSample, find_flip_pairs
from seqattn.data.formats.label_files import Entry
from seqattn.data.instances import InstanceCrops, instance_frames, resolve_layout
from seqattn.data.splits import assign_splits
from seqattn.errors import ConfigError
from seqattn.io.images import MAX_IMAGE_PIXELS

log = logging.getLogger(__name__)


class LabelledImages:
    """A split of labelled image files: reads (and crops) the image on each access."""

    def __init__(self, entries: list[Entry], max_pixels: int = MAX_IMAGE_PIXELS) -> None:
        self.entries = entries
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> RawSample:
        e = self.entries[index]
        image = e.read_image(self.max_pixels)
        points = e.keypoints
        if e.crop is not None:
            x0, y0, x1, y1 = e.crop
            image = image[y0:y1, x0:x1]
            points = points - np.array([x0, y0], dtype=np.float64)
        return RawSample(image=image, keypoints=points, name=e.name)


class LabelledFrames:
    """A split of whole labelled frames (FrameSplit): the entries of each image key together."""

    def __init__(self, entries: list[Entry], max_pixels: int = MAX_IMAGE_PIXELS) -> None:
        groups: dict[str, list[Entry]] = {}
        for e in entries:
            groups.setdefault(e.image_key, []).append(e)
        self.groups = list(groups.values())
        self.max_pixels = max_pixels
        self._last: tuple[int, np.ndarray] | None = None  # the last frame read: its animals' crops follow it

    def __len__(self) -> int:
        return len(self.groups)

    def labels(self, index: int) -> FrameLabels:
        group = self.groups[index]
        return FrameLabels(np.stack([e.keypoints for e in group]), [e.track for e in group], group[0].image_key)

    def image(self, index: int) -> np.ndarray:
        if self._last is None or self._last[0] != index:
            self._last = (index, self.groups[index][0].read_image(self.max_pixels))
        return self._last[1]


def check_images(entries: list[Entry], max_pixels: int = MAX_IMAGE_PIXELS) -> list[Entry]:
    """Decode every image once (missing/unreadable/truncated/above ``max_pixels`` -> DataError), mask
    labels outside the image (warning with the count) and drop samples left with no labelled keypoint (warning)."""
    sizes: dict[str, tuple[int, int]] = {}  # by image key: instances of one image share it
    outside_total, kept, empty = 0, [], []
    for e in entries:
        if e.image_key not in sizes:
            h, w = e.read_image(max_pixels).shape[:2]
            sizes[e.image_key] = (w, h)
        w, h = sizes[e.image_key]
        if e.crop is not None:
            x0, y0, x1, y1 = e.crop
            lo, hi = np.array([x0, y0]) - 0.5, np.array([min(x1, w), min(y1, h)]) - 0.5
        else:
            lo, hi = np.array([-0.5, -0.5]), np.array([w, h]) - 0.5
        labelled = np.isfinite(e.keypoints).all(1)
        outside = labelled & ((e.keypoints < lo) | (e.keypoints >= hi)).any(1)
        if outside.any():
            e.keypoints = e.keypoints.copy()
            e.keypoints[outside] = np.nan
            outside_total += int(outside.sum())
        (kept if np.isfinite(e.keypoints).all(1).any() else empty).append(e)
    if outside_total:
        log.warning(f"{outside_total} labelled keypoint(s) lie outside their image; they are masked as missing")
    if empty:
        shown = ", ".join(e.name for e in empty[:5]) + (" ..." if len(empty) > 5 else "")
        log.warning(f"skipping {len(empty)} sample(s) with no labelled keypoint: {shown}")
    return kept


class LabelledSource(KeypointSource):
    """A source made from parsed label entries; subclasses parse a format and call ``_build``."""

    def _build(
        self,
        names: list[str],
        entries: list[Entry],
        where: str,
        split_file: str | Path | None = None,
        split_fractions: Sequence[float] = (0.7, 0.1, 0.2),
        split_seed: int = 0,
        flip_pairs: Sequence[Sequence[str]] | None = None,
        max_image_pixels: int = MAX_IMAGE_PIXELS,
        anchor: str | None = "auto",
        crop_size: int | str = "auto",
    ) -> None:
        """Check, split and expose ``entries``; ``where`` names the labels in messages. Labels with
        several animals in a frame (two entries of one image key) become whole frames (``frames``)
        and one crop per animal (``splits``), laid out by seqattn.data.instances from every split's
        labels (``anchor``, ``crop_size``)."""
        self.keypoint_names = list(names)
        self._flip_pairs = self._pairs_from_names(flip_pairs)
        kept = check_images(entries, max_image_pixels)
        kept_keys = {e.image_key for e in kept}
        dropped = {e.image_key for e in entries} - kept_keys
        groups = assign_splits(kept, dropped, split_file, split_fractions, split_seed)
        if len(kept_keys) < len(kept) and all(e.crop is None for e in kept):  # an image with several animals
            self._frames = {s: LabelledFrames(rows, max_image_pixels) for s, rows in groups.items()}
            every = [f for split in self._frames.values() for f in instance_frames(split)]
            self.layout = resolve_layout(every, self.keypoint_names, anchor, crop_size, where)
            self._splits = {s: InstanceCrops(f, self.layout, self.keypoint_names) for s, f in self._frames.items()}
            log.info(f"several animals in a frame: {self.layout.reason}")
        else:
            self._splits = {s: LabelledImages(rows, max_image_pixels) for s, rows in groups.items()}
        sizes = ", ".join(f"{s} {len(v)}" for s, v in self._splits.items())
        log.info(f"{len(names)} keypoints, samples: {sizes}")

    def frames(self) -> dict[str, LabelledFrames]:
        if self.layout is None:
            return super().frames()
        return self._frames

    def _pairs_from_names(self, pairs: Sequence[Sequence[str]] | None) -> list[tuple[int, int]] | None:
        if pairs is None:  # auto: found from names, or unknown (None) if none are found
            return find_flip_pairs(self.keypoint_names) or None
        index = {n: i for i, n in enumerate(self.keypoint_names)}
        out = []
        for pair in pairs:
            if len(pair) != 2 or any(n not in index for n in pair):
                raise ConfigError(
                    f"data.source.flip_pairs: {list(pair)} is not a pair of keypoint names {self.keypoint_names}"
                )
            out.append((index[pair[0]], index[pair[1]]))
        return out

    @property
    def flip_pairs(self) -> list[tuple[int, int]] | None:
        return self._flip_pairs

    def splits(self) -> dict[str, LabelledImages | InstanceCrops]:
        return self._splits
