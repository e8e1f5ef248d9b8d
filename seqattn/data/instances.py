"""Several animals in a frame: the one owner of where each animal's crop lies.

The pose model sees one animal at a time: a square of ``crop_px`` pixels centred on the animal's
anchor, cut from the frame with zeros beyond its edges (``cut``). Training cuts it around the
labelled anchor; full-frame prediction around the anchor the detector finds; both through
``crop_box``. The anchor is a named part (``data.source.anchor``) or, by default, the centre of the
box around the animal's labelled points.

The crop side (``data.source.crop_size: auto``) comes from the labels: twice the 95th percentile,
over every labelled animal, of its farthest labelled point's distance from its anchor, grown by
``CROP_MARGIN`` and rounded up to a multiple of 8. A distance, not a box: it holds the animal
whichever way it turns (rotation augmentation, animals filmed from above).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from seqattn.data.base import FrameSplit, RawSample
from seqattn.errors import ConfigError, DataError

log = logging.getLogger(__name__)

CROP_MARGIN = 1.25  # the crop side is 2 x the animal's reach x this
MIN_LABELLED = 2  # an instance with fewer labelled points is skipped (no extent, no heading)
ANCHOR_MISSING_LIMIT = 0.5  # a named anchor missing in more than this share of instances is refused


@dataclass(frozen=True)
class InstanceLayout:
    """How a multi-animal label set is cut into one-animal crops (resolved once, from the labels)."""

    anchor: str | None  # the part crops centre on; None: the centre of the labelled points' box
    crop_px: int  # side of the square crop, original pixels
    max_animals: int  # most instances labelled in one frame
    reason: str  # why these values, for the run header

    def as_dict(self) -> dict[str, object]:
        return {"anchor": self.anchor, "crop_px": self.crop_px, "max_animals": self.max_animals}


def anchor_of(points: np.ndarray, anchor_index: int | None) -> np.ndarray:
    """(K, 2) points, NaN where missing -> (2,) the anchor: the named part when labelled, else the
    centre of the labelled points' box (NaN when none is labelled)."""
    if anchor_index is not None and np.isfinite(points[anchor_index]).all():
        return points[anchor_index].astype(np.float64)
    labelled = points[np.isfinite(points).all(1)]
    if not len(labelled):
        return np.full(2, np.nan)
    return (labelled.min(0) + labelled.max(0)) / 2


def crop_box(centre: np.ndarray, side: int) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 (pixel indices, x1/y1 exclusive) of the ``side`` square centred on ``centre``
    (pixel centres at integers); it may reach beyond the image (``cut`` fills that with zeros)."""
    x0 = int(math.ceil(float(centre[0]) - side / 2))  # the first pixel whose centre is inside
    y0 = int(math.ceil(float(centre[1]) - side / 2))
    return x0, y0, x0 + side, y0 + side


def cut(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of ``box`` in ``image`` (H, W, C), zeros where the box leaves the image."""
    x0, y0, x1, y1 = box
    h, w = image.shape[:2]
    out = np.zeros((y1 - y0, x1 - x0, *image.shape[2:]), dtype=image.dtype)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


def resolve_layout(
    frames: list[list[np.ndarray]],
    names: list[str],
    anchor: str | None,
    crop_size: int | str,
    where: str,
) -> InstanceLayout:
    """The layout of labels with several animals in a frame.

    frames: per frame, its instances' (K, 2) points (NaN = missing), instances with fewer than
    MIN_LABELLED points already left out. ``anchor``: a keypoint name or None/"auto" (box centre);
    ``crop_size``: pixels or "auto". ``where`` names the labels in errors.
    """
    instances = [points for frame in frames for points in frame]
    if not instances:
        raise DataError(f"{where}: no animal with at least {MIN_LABELLED} labelled points")
    anchor = None if anchor in (None, "auto") else str(anchor)
    anchor_index = None
    if anchor is not None:
        if anchor not in names:
            raise ConfigError(f"data.source.anchor: {anchor!r} is not a keypoint of {where} ({names})")
        anchor_index = names.index(anchor)
        missing = float(np.mean([not np.isfinite(p[anchor_index]).all() for p in instances]))
        if missing > ANCHOR_MISSING_LIMIT:
            raise DataError(
                f"{where}: the anchor part {anchor!r} is missing in {missing:.0%} of the {len(instances)} labelled"
                " animals; choose a part labelled in most of them (data.source.anchor=<part>) or leave it auto"
            )
    reach = [np.nanmax(np.linalg.norm(p - anchor_of(p, anchor_index), axis=1)) for p in instances]
    max_animals = max(len(frame) for frame in frames)
    where_anchor = f"part {anchor!r}" if anchor else "the centre of each animal's labelled points"
    if crop_size == "auto":
        reach95 = float(np.percentile(reach, 95))
        crop_px = max(16, int(math.ceil(2 * reach95 * CROP_MARGIN / 8)) * 8)
        why = f"2 x {reach95:.0f} px (95th percentile of an animal's reach from its anchor) x {CROP_MARGIN}"
    else:
        crop_px = int(crop_size)
        if crop_px < 8:
            raise ConfigError(f"data.source.crop_size must be auto or at least 8 pixels, got {crop_size!r}")
        why = "set by data.source.crop_size"
        if (beyond := float(np.mean([2 * r > crop_px for r in reach]))) > 0.05:
            log.warning(f"{where}: {beyond:.0%} of the animals reach beyond a {crop_px} px crop around their anchor")
    reason = f"crops of {crop_px} px ({why}) centred on {where_anchor}; up to {max_animals} animals in a frame"
    return InstanceLayout(anchor=anchor, crop_px=crop_px, max_animals=max_animals, reason=reason)


class InstanceCrops:
    """A split of one-animal crops (RawSamples) cut from a split of whole frames: every labelled
    animal with at least MIN_LABELLED points, in a ``layout.crop_px`` square around its anchor."""

    def __init__(self, frames: FrameSplit, layout: InstanceLayout, names: list[str]) -> None:
        self.frames, self.layout = frames, layout
        self.anchor_index = None if layout.anchor is None else names.index(layout.anchor)
        self.index: list[tuple[int, int]] = []  # (frame, animal)
        for i in range(len(frames)):
            for j, points in enumerate(frames.labels(i).keypoints):
                if np.isfinite(points).all(1).sum() >= MIN_LABELLED:
                    self.index.append((i, j))

    def __len__(self) -> int:
        return len(self.index)

    def box(self, position: int) -> tuple[int, int, int, int]:
        i, j = self.index[position]
        return crop_box(anchor_of(self.frames.labels(i).keypoints[j], self.anchor_index), self.layout.crop_px)

    def __getitem__(self, position: int) -> RawSample:
        i, j = self.index[position]
        labels = self.frames.labels(i)
        box = self.box(position)
        points = labels.keypoints[j] - np.array(box[:2], dtype=np.float64)
        track = labels.tracks[j]
        name = f"{labels.name}#{track if track is not None else j}"
        return RawSample(image=cut(self.frames.image(i), box), keypoints=points, name=name)


def instance_frames(frames: FrameSplit) -> list[list[np.ndarray]]:
    """Per frame, its animals' (K, 2) points, animals with fewer than MIN_LABELLED points left out
    (what ``resolve_layout`` measures)."""
    out = []
    for i in range(len(frames)):
        kept = [p for p in frames.labels(i).keypoints if np.isfinite(p).all(1).sum() >= MIN_LABELLED]
        if kept:
            out.append(kept)
    return out
