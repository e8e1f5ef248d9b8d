"""The embedded default dataset: rendered four-legged creatures (no files, no download).

Each sample is rendered from ``(seed, split, index)`` alone, so it is identical on every machine
and in every worker. The creature and its keypoints come from :mod:`seqattn.data.synthetic.creature`
(rendering) and :mod:`seqattn.data.synthetic.names` (the skeleton). Keypoints that fall outside
the frame are missing (NaN). Left and right follow the creature's own chirality, as in real
animals, so a horizontal flip must swap them.

With ``animals`` >= 2 every frame holds that many creatures (:mod:`seqattn.data.synthetic.scene`):
``frames()`` gives the whole frames, ``layout`` where each animal's crop lies
(:mod:`seqattn.data.instances`, from ``anchor`` and ``crop_size``) and ``splits()`` one crop per
animal, as the label files with several animals in a frame do.

    python -m seqattn.data.synthetic demo.mp4 [frames] [--animals N]    # a video of creatures walking
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from seqattn.data.base import KeypointSource, RawSample
from seqattn.data.instances import InstanceCrops, instance_frames, resolve_layout
from seqattn.data.synthetic.creature import render_creature
from seqattn.data.synthetic.names import KEYPOINT_NAMES, MAX_KEYPOINTS, keypoint_columns, keypoint_names
from seqattn.data.synthetic.scene import SPLIT_IDS, SyntheticFrames, mask_outside
from seqattn.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Variation:
    """How a synthetic set departs from the default, to stand in for data of other kinds (benchmarks)."""

    grey: bool = False  # one channel repeated (grey cameras)
    centred: bool = False  # crops of width x height around the creature, cut from a frame 1.5 times as large
    size_range: tuple[float, float] = (1.0, 1.0)  # each image's sides scaled by a log-uniform factor in this range
    missing: float = 0.0  # share of labels removed at random (occlusions, unlabelled parts)


class SyntheticSplit:
    """One split of rendered samples; sample i is a pure function of (seed, split, i)."""

    def __init__(
        self,
        size: int,
        split: str,
        seed: int,
        width: int,
        height: int,
        num_keypoints: int,
        variation: Variation = Variation(),
    ) -> None:
        self.size, self.split, self.seed = size, split, seed
        self.width, self.height, self.num_keypoints = width, height, num_keypoints
        self.variation = variation
        self.columns = keypoint_columns(num_keypoints)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> RawSample:
        if not 0 <= index < self.size:
            raise IndexError(index)
        v = self.variation
        rng = np.random.default_rng([self.seed, SPLIT_IDS[self.split], index])
        # variations only: the same base samples with or without them
        extra = np.random.default_rng([self.seed, SPLIT_IDS[self.split], index, 1])
        lo, hi = v.size_range
        factor = math.exp(extra.uniform(math.log(lo), math.log(hi))) if hi > lo else lo
        width, height = max(16, round(self.width * factor)), max(16, round(self.height * factor))
        if v.centred:  # a crop around the creature from a frame 1.5 times as large, as trackers cut them
            big_w, big_h = round(1.5 * width), round(1.5 * height)
            image, points = render_creature(rng, big_w, big_h)
            cx, cy = np.nanmean(points[: len(KEYPOINT_NAMES)], axis=0)
            x0 = int(np.clip(round(cx - width / 2), 0, big_w - width))
            y0 = int(np.clip(round(cy - height / 2), 0, big_h - height))
            image, points = image[y0 : y0 + height, x0 : x0 + width], points - np.array([x0, y0])
        else:
            image, points = render_creature(rng, width, height)
        if v.grey:
            image = np.repeat(image.mean(2, keepdims=True).round().astype(np.uint8), 3, axis=2)
        points = mask_outside(points[self.columns], width, height)
        if v.missing > 0:
            points[extra.random(len(points)) < v.missing] = np.nan
        return RawSample(image=image, keypoints=points, name=f"synthetic/{self.split}/{index:06d}")


class SyntheticSource(KeypointSource):
    """The embedded default dataset: rendered creatures with up to 10 named keypoints, or up to 104
    with dense landmarks (``num_keypoints`` = 17, 68, 100, ...: many-keypoint skeletons).
    ``grey``, ``centred``, ``size_range`` and ``missing`` vary it (see :class:`Variation`).

    ``animals`` >= 2: frames of ``width`` x ``height`` with that many creatures each, drawn
    1/sqrt(animals) as large (seqattn.data.synthetic.scene); ``frames()`` then gives them whole,
    ``layout`` the crop around each (``anchor``, ``crop_size``: seqattn.data.instances) and
    ``splits()`` those crops. With one animal ``anchor`` and ``crop_size`` are unused."""

    def __init__(
        self,
        num_train: int = 1000,
        num_val: int = 200,
        num_test: int = 200,
        width: int = 160,
        height: int = 128,
        num_keypoints: int = len(KEYPOINT_NAMES),
        seed: int = 0,
        grey: bool = False,
        centred: bool = False,
        size_range: tuple[float, float] = (1.0, 1.0),
        missing: float = 0.0,
        animals: int = 1,
        anchor: str | None = "auto",
        crop_size: int | str = "auto",
    ) -> None:
        if not 1 <= num_keypoints <= MAX_KEYPOINTS:
            raise ConfigError(f"data.source.num_keypoints must be in 1..{MAX_KEYPOINTS}, got {num_keypoints}")
        for key, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
            if value < 1:
                raise ConfigError(f"data.source.{key} must be >= 1, got {value}")
        if min(width, height) < 16:
            raise ConfigError(f"data.source width and height must be >= 16 pixels, got {width}x{height}")
        lo, hi = (float(x) for x in size_range)
        if not 0 < lo <= hi:
            raise ConfigError(
                f"data.source.size_range must be [low, high] with 0 < low <= high, got {list(size_range)}"
            )
        if not 0 <= missing < 1:
            raise ConfigError(f"data.source.missing must be in [0, 1), got {missing}")
        if isinstance(animals, bool) or int(animals) != animals or animals < 1:
            raise ConfigError(f"data.source.animals must be a whole number >= 1, got {animals!r}")
        if animals > 1 and centred:
            raise ConfigError("data.source.centred crops one creature: it cannot go with data.source.animals > 1")
        self.keypoint_names = keypoint_names(num_keypoints)
        variation = Variation(bool(grey), bool(centred), (lo, hi), float(missing))
        sizes = {"train": num_train, "val": num_val, "test": num_test}
        if animals == 1:
            self._splits: dict[str, SyntheticSplit | InstanceCrops] = {
                name: SyntheticSplit(n, name, seed, width, height, num_keypoints, variation)
                for name, n in sizes.items()
            }
            return
        self._frames = {
            name: SyntheticFrames(n, name, seed, width, height, num_keypoints, int(animals), variation)
            for name, n in sizes.items()
        }
        every = [f for split in self._frames.values() for f in instance_frames(split)]
        self.layout = resolve_layout(every, self.keypoint_names, anchor, crop_size, "the synthetic creatures")
        self._splits = {name: InstanceCrops(f, self.layout, self.keypoint_names) for name, f in self._frames.items()}
        log.info(f"{animals} synthetic creatures in a frame: {self.layout.reason}")

    def frames(self) -> dict[str, SyntheticFrames]:
        if self.layout is None:
            return super().frames()
        return self._frames

    def splits(self) -> dict[str, SyntheticSplit | InstanceCrops]:
        return self._splits
