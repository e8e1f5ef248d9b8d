"""What every dataset reader hands to the data module: raw samples in original pixels."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class RawSample:
    image: np.ndarray  # (H, W, 3) uint8, original resolution
    keypoints: np.ndarray  # (K, 2) float, original pixels (pixel centre at integer), NaN = missing
    name: str  # image path or id, as written in the labels


class RawSplit(Protocol):
    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> RawSample: ...


_SIDE = re.compile(r"(?i)(left|right)")


def find_flip_pairs(names: list[str]) -> list[tuple[int, int]]:
    """Left/right pairs found from names that differ only by the word left <-> right.

    ``left_ear``/``right_ear`` and ``leftear``/``RightEar`` pair up; names such as ``paw1LH`` and
    ``paw3RF`` do not (single letters are too ambiguous): configure those pairs explicitly.
    """
    index = {n.lower(): i for i, n in enumerate(names)}
    pairs = []
    for i, name in enumerate(names):
        swapped = _SIDE.sub(lambda m: "right" if m.group(1).lower() == "left" else "left", name).lower()
        j = index.get(swapped)
        if j is not None and i < j and swapped != name.lower():
            pairs.append((i, j))
    return pairs


class KeypointSource:
    """A labelled dataset: named keypoints and train/val/test splits of raw samples."""

    keypoint_names: list[str]

    def splits(self) -> dict[str, RawSplit]:
        raise NotImplementedError

    @property
    def flip_pairs(self) -> list[tuple[int, int]] | None:
        """Index pairs that swap on a horizontal flip; None when unknown (flipping is then unsafe)."""
        return find_flip_pairs(self.keypoint_names) or None
