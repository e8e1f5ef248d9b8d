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


# A side marker: the word left/right anywhere (any case), or a single L/R letter standing apart
# (at either end, next to a separator or a digit, or at a camel-case boundary: wingL, forelegR4,
# Lhand), or a single l/r between non-letters (l_eye, eye_r).
_SIDE = re.compile(r"(?i:left|right)|(?<![A-Z])[LR](?![A-Z])|(?<![A-Za-z])[lr](?![A-Za-z])")
_SWAP = {"left": "right", "right": "left", "l": "r", "r": "l"}


def _swap_sides(name: str) -> str:
    def swap(m: re.Match) -> str:
        word = m.group(0)
        other = _SWAP[word.lower()]
        if word.isupper():
            return other.upper()
        return other.capitalize() if word[0].isupper() else other

    return _SIDE.sub(swap, name)


def find_flip_pairs(names: list[str]) -> list[tuple[int, int]]:
    """Left/right pairs found from names that differ only by their side markers.

    ``left_ear``/``right_ear``, ``leftear``/``RightEar``, SLEAP's ``wingL``/``wingR`` and
    ``forelegL4``/``forelegR4``, ``l_eye``/``r_eye`` and ``Lhand``/``Rhand`` pair up. Names that
    differ in anything else do not (``paw1LH``/``paw4RH``: the number differs too): configure
    those pairs explicitly. Every marker of a name is swapped at once, and a name pairs only with
    the one other name that this gives.
    """
    index = {n.lower(): i for i, n in enumerate(names)}
    pairs = []
    for i, name in enumerate(names):
        swapped = _swap_sides(name).lower()
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
