"""Several synthetic creatures in one frame: the embedded multi-animal data set.

A scene has ``animals`` creatures at independent headings, each drawn 1/sqrt(animals) as large as
the lone creature of a frame of the same size (so together they cover about as much of it) and
placed so that about half of them meet an earlier one: touching, crossing, one lying over part of
another. Centres are never closer than ``MIN_GAP`` x the scale, so no creature lies wholly under
another. They are painted in a random order, the later over the earlier; the keypoints of a
covered part stay labelled (they are the truth), those outside the frame are missing (NaN).

The geometry (the labels) and the pixels come from separate random streams, so a frame's labels
are read without painting it; both are pure functions of (seed, split, index).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from seqattn.data.base import FrameLabels
from seqattn.data.synthetic.creature import Creature, Pose, background, finish, paint_creature, sample_creature
from seqattn.data.synthetic.names import KEYPOINT_NAMES, keypoint_columns

if TYPE_CHECKING:
    from seqattn.data.synthetic.dataset import Variation

SPLIT_IDS = {"train": 0, "val": 1, "test": 2}  # the second word of every sample's random seed
MIN_GAP = 0.15  # x the creature scale: the least distance between two creatures' centres
NEAR = 0.5  # chance that a creature is placed next to an earlier one rather than anywhere
PLACE_TRIES = 20  # centres drawn before the last one is kept whatever its gap


def creature_scale(width: int, height: int, animals: int) -> float:
    """The ``size`` each creature's body length is drawn from (0.3 to 0.55 x it), pixels."""
    return min(width, height) / math.sqrt(animals)


def mask_outside(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """(..., 2) points with those outside the ``width`` x ``height`` frame set to NaN (a copy)."""
    points = np.array(points, dtype=np.float64)
    outside = (points < -0.5).any(-1) | (points[..., 0] >= width - 0.5) | (points[..., 1] >= height - 0.5)
    points[outside] = np.nan
    return points


def _place(rng: np.random.Generator, width: int, height: int, size: float, taken: list[np.ndarray]) -> np.ndarray:
    """A centre (2,) in the middle 80% of the frame: next to one of ``taken`` (NEAR of the time) or
    anywhere, at least MIN_GAP x ``size`` from each of them (after PLACE_TRIES draws: the last)."""
    lo, hi = 0.1 * np.array([width, height]), 0.9 * np.array([width, height])
    centre = (lo + hi) / 2
    for _ in range(PLACE_TRIES):
        if taken and rng.random() < NEAR:
            other, angle = taken[rng.integers(len(taken))], rng.uniform(0, 2 * math.pi)
            centre = np.clip(
                other + rng.uniform(0.15, 0.45) * size * np.array([math.cos(angle), math.sin(angle)]), lo, hi
            )
        else:
            centre = rng.uniform(lo, hi)
        if all(np.linalg.norm(centre - t) >= MIN_GAP * size for t in taken):
            break
    return centre


def sample_scene(
    rng: np.random.Generator,
    width: int,
    height: int,
    animals: int,
    poses: list[Pose] | None = None,
    dense: bool = True,
) -> tuple[list[Creature], np.ndarray]:
    """The creatures of one frame (identity order) and the order they are painted in, (animals,)
    ints; no pixels. ``poses``: one per creature, replacing its drawn pose and place (the
    appearance stays that of the same rng state) and painting them in identity order. ``dense``
    False: no dense landmarks (NaN; faster)."""
    size = creature_scale(width, height, animals)
    creatures: list[Creature] = []
    for j in range(animals):
        if poses is not None:
            creatures.append(sample_creature(rng, width, height, size, poses[j], dense=dense))
        else:
            centre = _place(rng, width, height, size, [c.centre for c in creatures])
            creatures.append(sample_creature(rng, width, height, size, centre=centre, dense=dense))
    order = np.arange(animals) if poses is not None else rng.permutation(animals)
    return creatures, order


def paint_scene(
    rng: np.random.Generator, width: int, height: int, creatures: list[Creature], order: np.ndarray
) -> np.ndarray:
    """The (H, W, 3) uint8 frame: background and camera from ``rng``, ``creatures`` painted in ``order``."""
    img = background(rng, width, height, creature_scale(width, height, len(creatures)))
    for j in order:
        paint_creature(img, creatures[int(j)])
    return finish(rng, img)


class SyntheticFrames:
    """One split of rendered whole frames of ``animals`` creatures each (a FrameSplit); frame i is
    a pure function of (seed, split, i). Tracks are ``animal0``, ``animal1``, ... in that order."""

    def __init__(
        self,
        size: int,
        split: str,
        seed: int,
        width: int,
        height: int,
        num_keypoints: int,
        animals: int,
        variation: Variation,
    ) -> None:
        self.size, self.split, self.seed = size, split, seed
        self.width, self.height, self.animals, self.variation = width, height, animals, variation
        self.columns = keypoint_columns(num_keypoints)
        self.dense = num_keypoints > len(KEYPOINT_NAMES)
        self.tracks: list[str | None] = [f"animal{j}" for j in range(animals)]
        self._labels: dict[int, FrameLabels] = {}  # cheap to draw, read often (layout, crops)

    def __len__(self) -> int:
        return self.size

    def _scene(self, index: int) -> tuple[list[Creature], np.ndarray, int, int, np.random.Generator]:
        """The creatures, paint order, frame width and height of frame ``index``, and the rng of its
        variations (drawn on from after the size)."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        extra = np.random.default_rng([self.seed, SPLIT_IDS[self.split], index, 1])  # variations, as in SyntheticSplit
        lo, hi = self.variation.size_range
        factor = math.exp(extra.uniform(math.log(lo), math.log(hi))) if hi > lo else lo
        width, height = max(16, round(self.width * factor)), max(16, round(self.height * factor))
        geometry = np.random.default_rng([self.seed, SPLIT_IDS[self.split], index])
        creatures, order = sample_scene(geometry, width, height, self.animals, dense=self.dense)
        return creatures, order, width, height, extra

    def labels(self, index: int) -> FrameLabels:
        if index not in self._labels:
            creatures, _, width, height, extra = self._scene(index)
            points = np.stack([c.points[self.columns] for c in creatures])  # (N, K, 2)
            points = mask_outside(points, width, height)
            if self.variation.missing > 0:
                points[extra.random(points.shape[:2]) < self.variation.missing] = np.nan
            name = f"synthetic/{self.split}/{index:06d}"
            self._labels[index] = FrameLabels(points, list(self.tracks), name)
        labels = self._labels[index]
        return FrameLabels(labels.keypoints.copy(), list(labels.tracks), labels.name)

    def image(self, index: int) -> np.ndarray:
        creatures, order, width, height, _ = self._scene(index)
        image = paint_scene(
            np.random.default_rng([self.seed, SPLIT_IDS[self.split], index, 2]), width, height, creatures, order
        )
        if self.variation.grey:
            image = np.repeat(image.mean(2, keepdims=True).round().astype(np.uint8), 3, axis=2)
        return image
