"""SLEAP labels (``.slp``, and ``.pkg.slp`` packages with their frames inside), read by sleap-io.

One sample per labelled frame: a frame's user-labelled instances (predicted ones are ignored),
each with its track. Labels with several instances in a frame give whole frames and one crop per
animal (seqattn.data.instances). Frames come from image files, videos or the package itself;
sleap-io decodes the last two.

Left/right pairs come from the skeleton's declared symmetries when it has any, else from the
keypoint names (seqattn.data.base.find_flip_pairs). sleap-io's coordinates put pixel centres
at integers, the codec's convention (older files are converted by sleap-io on load).

Split files list image keys: the image path as the ``.slp`` stores it for image sequences, else
``<video path>#<frame index>`` with the video path as the ``.slp`` stores it (relative to the
file, as SLEAP writes it: a split file moves between machines with its labels); the path sleap-io
resolves on loading is accepted too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqattn.data.formats.label_files import Entry
from seqattn.data.formats.labels import LabelledSource
from seqattn.errors import ConfigError, DataError
from seqattn.io.images import MAX_PIXELS_SETTING, to_rgb_uint8

# (process, labels file) -> its sleap_io.Labels with open videos. Keyed by process: a DataLoader
# worker forked from the process that checked the images must not share its open file handles.
_OPEN: dict[tuple[int, str], Any] = {}


def load_labels(path: Path) -> Any:
    """The ``sleap_io.Labels`` in ``path``; a DataError naming it when it is missing or no SLEAP file."""
    import sleap_io

    if not path.is_file():
        raise DataError(f"SLEAP labels not found: {path}")
    try:
        return sleap_io.load_slp(str(path))
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise DataError(f"{path}: not a readable SLEAP labels file ({exc})") from None


@dataclass(frozen=True)
class SLPFrame:
    """Frame ``index`` of video ``video`` of the labels file ``labels``, decoded by sleap-io."""

    labels: str
    video: int
    index: int

    def read(self, max_pixels: int) -> np.ndarray:
        key = (os.getpid(), self.labels)
        if key not in _OPEN:
            _OPEN[key] = load_labels(Path(self.labels))
        video = _OPEN[key].videos[self.video]
        h, w = _frame_size(video, Path(self.labels))[::-1]
        if h * w > max_pixels:
            raise DataError(
                f"{video.filename}: frames of {w}x{h} pixels, above the limit of {max_pixels} ({MAX_PIXELS_SETTING})"
            )
        try:
            image = np.asarray(video[self.index])
        except (OSError, IndexError, ValueError, RuntimeError) as exc:
            raise DataError(f"{video.filename}: frame {self.index} cannot be decoded ({exc})") from None
        return to_rgb_uint8(image)


def _frame_size(video: Any, path: Path) -> tuple[int, int]:
    """(width, height) of a video's frames; a DataError naming it when sleap-io cannot open it."""
    shape = video.shape
    if shape is None:
        raise DataError(f"{path}: video {video.filename} cannot be opened (not a video sleap-io decodes?)")
    return int(shape[2]), int(shape[1])


def _skeleton(labels: Any, path: Path, name: str | None) -> Any:
    """The skeleton to train: the only one, or the one called ``name``."""
    skeletons = labels.skeletons
    if name is not None:
        found = [s for s in skeletons if s.name == name]
        if not found:
            raise ConfigError(f"data.source.skeleton: {path} has no skeleton {name!r} ({[s.name for s in skeletons]})")
        return found[0]
    if len(skeletons) != 1:
        names = [s.name for s in skeletons]
        raise DataError(f"{path}: {len(skeletons)} skeletons {names}; choose one with data.source.skeleton=<name>")
    return skeletons[0]


def _frame_source(
    video: Any, index: int, path: Path, video_index: int
) -> tuple[str, str | None, Path, SLPFrame | None]:
    """(image key, the key as sleap-io resolved it or None, file, frame reader) of frame ``index``:
    an image file of a sequence, else a frame that sleap-io decodes (a video, or an image inside
    the package)."""
    if isinstance(video.filename, list):  # an image sequence: one file per frame
        stored = video.filename[index]
        file = Path(stored)
        if not file.is_absolute() and not file.is_file():
            file = path.parent / stored
        return stored, None, file, None
    if not video.exists():
        raise DataError(f"{path}: video {video.filename} not found (move it back, or fix the path in SLEAP)")
    stored = (video.backend_metadata or {}).get("filename") or video.filename
    key, resolved = f"{stored}#{index}", f"{video.filename}#{index}"
    return key, resolved if resolved != key else None, Path(video.filename), SLPFrame(str(path), video_index, index)


class SLPSource(LabelledSource):
    """SLEAP labels with a split file or seeded split fractions (see the module docstring)."""

    def __init__(
        self,
        path: str,
        skeleton: str | None = None,
        **common: Any,
    ) -> None:
        file = Path(path)
        labels = load_labels(file)
        chosen = _skeleton(labels, file, skeleton)
        names = list(chosen.node_names)
        video_index = {id(v): i for i, v in enumerate(labels.videos)}
        entries = []
        for lf in labels.labeled_frames:
            instances = [inst for inst in lf.user_instances if inst.skeleton is chosen]
            if not instances:
                continue
            key, alias, image, frame = _frame_source(lf.video, lf.frame_idx, file, video_index[id(lf.video)])
            for i, inst in enumerate(instances):
                points = np.asarray(inst.numpy(), dtype=np.float64)  # (K, 2), NaN: not labelled
                track = inst.track.name if inst.track is not None else None
                name = f"{key}#{i}" if len(instances) > 1 else key
                entries.append(Entry(name, key, image, points, frame=frame, track=track, alias=alias))
        if not entries:
            raise DataError(f"{file}: no frame with a user-labelled instance of skeleton {chosen.name!r}")
        if common.get("flip_pairs") is None and chosen.symmetries:  # the skeleton's own pairs before names
            common["flip_pairs"] = [list(pair) for pair in chosen.symmetry_names]
        self._build(names, entries, str(file), **common)
