"""What every dataset reader hands to the data module: raw samples in original pixels."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from seqattn.data.instances import InstanceLayout


@dataclass
class RawSample:
    image: np.ndarray  # (H, W, 3) uint8, original resolution
    keypoints: np.ndarray  # (K, 2) float, original pixels (pixel centre at integer), NaN = missing
    name: str  # image path or id, as written in the labels


# (S, S, C) uint8 image, (K, 2) input-pixel keypoints with NaN -> the same, transformed
Augment = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class RawSplit(Protocol):
    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> RawSample: ...


@dataclass
class FrameLabels:
    """Every labelled animal of one frame (labels with several animals in a frame)."""

    keypoints: np.ndarray  # (N, K, 2) original pixels (pixel centre at integer), NaN = missing
    tracks: list[str | None]  # (N,) each animal's identity along the video (a track name); None: unknown
    name: str  # the frame's image key, as split files list it


class FrameSplit(Protocol):
    """A split of whole frames with all their animals: the detector's training images and the
    full-frame evaluation. ``labels`` reads no image."""

    def __len__(self) -> int: ...

    def labels(self, index: int) -> FrameLabels: ...

    def image(self, index: int) -> np.ndarray:  # (H, W, 3) uint8 RGB
        ...


log = logging.getLogger(__name__)

# Side markers: the word left/right anywhere (any case); else, in a name without that word, a
# single L/R standing apart (at either end, next to a separator or a digit, or at a camel-case
# boundary: wingL, forelegR4, Lhand) or a single l/r between non-letters (l_eye, eye_r).
_SIDE_WORD = re.compile(r"(?i:left|right)")
_SIDE_LETTER = re.compile(r"(?<![A-Z])[LR](?![A-Z])|(?<![A-Za-z])[lr](?![A-Za-z])")
_SWAP = {"left": "right", "right": "left", "l": "r", "r": "l"}


def _swap(m: re.Match) -> str:
    word = m.group(0)
    other = _SWAP[word.lower()]
    if word.isupper():
        return other.upper()
    return other.capitalize() if word[0].isupper() else other


def mirror_name(name: str) -> tuple[str, bool]:
    """``name`` with every side marker swapped, and whether it has the word left/right."""
    if _SIDE_WORD.search(name):
        return _SIDE_WORD.sub(_swap, name), True
    return _SIDE_LETTER.sub(_swap, name), False


def find_flip_pairs(names: list[str]) -> list[tuple[int, int]]:
    """Left/right pairs found from names that differ only by their side markers; [] when a name
    says left or right in words but has no partner (a flip could not swap it: flips are unsafe).

    ``left_ear``/``right_ear``, ``leftear``/``RightEar``, ``leftRearPaw``/``rightRearPaw``,
    SLEAP's ``wingL``/``wingR`` and ``forelegL4``/``forelegR4``, ``l_eye``/``r_eye`` and
    ``Lhand``/``Rhand`` pair up. Names that differ in anything else do not (``paw1LH``/``paw4RH``:
    the number differs too): configure those pairs explicitly. A name with the word left/right
    swaps only that word (the R of ``Rear`` is no side); every marker of a name is swapped at once,
    and two names pair only if each is the other's mirror.
    """
    index = {n.lower(): i for i, n in enumerate(names)}
    pairs, unpaired = [], []
    for i, name in enumerate(names):
        mirrored, worded = mirror_name(name)
        j = index.get(mirrored.lower())
        if j is not None and j != i and mirror_name(names[j])[0].lower() == name.lower():
            if i < j:
                pairs.append((i, j))
        elif worded:
            unpaired.append(name)
    if unpaired:
        log.warning(f"left/right keypoints without a partner: {', '.join(unpaired)}; flips need data.source.flip_pairs")
        return []
    return pairs


class KeypointSource:
    """A labelled dataset: named keypoints and train/val/test splits of raw samples.

    A source of several animals in a frame also has ``layout`` (seqattn.data.instances: where each
    animal's crop lies) and ``frames()``: its splits as whole frames; ``splits()`` then holds one
    crop per animal.
    """

    keypoint_names: list[str]
    layout: InstanceLayout | None = None

    def splits(self) -> dict[str, RawSplit]:
        raise NotImplementedError

    def frames(self) -> dict[str, FrameSplit]:
        raise NotImplementedError(f"{type(self).__name__} holds one animal per image")

    @property
    def flip_pairs(self) -> list[tuple[int, int]] | None:
        """Index pairs that swap on a horizontal flip; None when unknown (flipping is then unsafe)."""
        return find_flip_pairs(self.keypoint_names) or None
