"""Frames of videos without labels, letterboxed like the labelled images, for the objective's
unlabelled terms (seqattn/losses/unlabelled.py).

``data.unlabelled`` names a video, a list of videos or a folder of them. ``frames`` frames are
drawn evenly over the whole of every recording (in proportion to its length), each with the frame
after it (for the temporal term). All are decoded once, before training, and kept in memory as
letterboxes compressed without loss (``pack``: PNG, one channel for a grey video), each unpacked
when drawn. ``cache_mb`` bounds the compressed bytes: past it, fewer pairs are kept, still spread
over every recording; the log line says what the frames take.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from seqattn.data.codec import KeypointCodec, image_to_uint8
from seqattn.errors import DataError
from seqattn.io.files import printable
from seqattn.io.video import VIDEO_SUFFIXES, decode_frames, list_videos
from seqattn.io.video_info import DecodeReport, probe

log = logging.getLogger(__name__)


def find_videos(spec: str | Sequence[str]) -> list[Path]:
    """The videos ``spec`` names (a file, a folder of videos, or a list of either); a DataError
    naming the path when one is missing, not a video, or a folder without videos."""
    videos: list[Path] = []
    for item in [spec] if isinstance(spec, str | Path) else list(spec):
        path = Path(item).expanduser()
        if path.is_dir():
            found = list_videos(path)
            if not found:
                raise DataError(f"data.unlabelled: no video ({', '.join(VIDEO_SUFFIXES)}) in {printable(path)}")
            videos += found
        elif path.is_file():
            videos.append(path)
        else:
            raise DataError(f"data.unlabelled: {printable(path)} does not exist")
    if not videos:
        raise DataError("data.unlabelled: no video given")
    return videos


def spread_picks(lengths: Sequence[int], total: int) -> list[list[int]]:
    """``total`` frame numbers spread evenly over videos of ``lengths`` frames (shares in proportion
    to length), each with a next frame in its video: per video, sorted frame numbers t (t + 1 exists)."""
    usable = np.maximum(np.asarray(lengths, dtype=float) - 1, 0)
    if usable.sum() <= 0:
        return [[] for _ in lengths]
    shares = np.floor(total * usable / usable.sum()).astype(int)
    shares[np.argmax(usable)] += total - shares.sum()
    return [
        sorted(set(np.linspace(0, n, num=min(k, int(n)), endpoint=False).round().astype(int).tolist())) if k else []
        for n, k in zip(usable, shares, strict=True)
    ]


def pack(image: np.ndarray) -> np.ndarray:
    """(S, S, C) uint8 letterbox -> its lossless PNG bytes (uint8, 1-D); a single channel when every
    channel is the same (grey video), which ``image_to_uint8`` repeats back."""
    if image.ndim == 3 and all(np.array_equal(image[..., 0], image[..., c]) for c in range(1, image.shape[2])):
        image = image[..., 0]
    ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])  # fast; the padding shrinks most
    if not ok:
        raise DataError(f"could not compress a {image.shape} frame")
    return data.reshape(-1)


def unpack(data: np.ndarray) -> np.ndarray:
    """``pack``'s bytes -> the (S, S) or (S, S, C) uint8 letterbox (BGR/RGB order kept as packed)."""
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


class UnlabelledFrames(Dataset):
    """Items: ``image`` (3, S', S') uint8, a drawn frame's letterbox; ``next`` the frame after it.
    ``pairs``: the packed (``pack``) frames and next frames, in the order drawn.

    Frames are letterboxed as video prediction letterboxes them (resized in the decoder). When the
    packed pairs outgrow ``cache_mb``, every other one is dropped and every other one still to come
    is skipped (again as often as needed): the pairs kept stay spread over every recording."""

    def __init__(self, videos: Sequence[Path], codec: KeypointCodec, frames: int, cache_mb: float) -> None:
        infos = [probe(v) for v in videos]  # a broken file fails here, before training, by name
        self.limit, self.stride, self.drawn = cache_mb * 2**20, 1, 0  # bytes; keep draws d with d % stride == 0
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self.sources: list[tuple[str, int]] = []  # (video, frame number) of each pair
        self._draws: list[int] = []  # each pair's draw number
        self._bytes = 0
        for video, wanted in zip(videos, spread_picks([i.frames_expected for i in infos], frames), strict=True):
            self._decode(video, wanted, codec)
        if not self.pairs:
            raise DataError(f"data.unlabelled: no frame could be read from {', '.join(map(printable, videos))}")
        if self.stride > 1:
            fit = f"{len(self)} frame pairs fit in data.unlabelled_cache_mb={cache_mb:g}"
            log.warning(f"data.unlabelled: {fit}, not {frames}: one drawn pair in {self.stride} is kept")
        log.info(f"unlabelled: {len(self)} frame pairs from {len(videos)} video(s), {self.memory_mb:.0f} MB")

    def _decode(self, video: Path, wanted: list[int], codec: KeypointCodec) -> None:
        if not wanted:
            return
        starts, pending = set(wanted), None  # pending: (frame number, draw, packed frame) awaiting its next
        for frame in decode_frames(video, DecodeReport(), codec.fitted_size, keep_full=False):
            if frame.index > wanted[-1] + 1:
                break
            follows = pending is not None and frame.index == pending[0] + 1
            if not (follows or frame.index in starts):
                continue
            image = None if frame.small is None else pack(codec.pad(frame.small, codec.frame(*frame.size)))
            if follows and image is not None:
                self._add(pending[2], image, pending[1], (str(video), pending[0]))
            pending = None
            if frame.index in starts:
                self.drawn += 1
                if image is not None and (self.drawn - 1) % self.stride == 0:
                    pending = (frame.index, self.drawn - 1, image)

    def _add(self, image: np.ndarray, following: np.ndarray, draw: int, source: tuple[str, int]) -> None:
        self.pairs.append((image, following))
        self.sources.append(source)
        self._draws.append(draw)
        self._bytes += image.nbytes + following.nbytes
        while self._bytes > self.limit:
            if len(self.pairs) == 1:
                raise DataError(
                    f"data.unlabelled_cache_mb={self.limit / 2**20:g} holds no frame pair"
                    f" (one takes {self.memory_mb:.2f} MB)"
                )
            self.stride *= 2
            keep = [i for i, d in enumerate(self._draws) if d % self.stride == 0]
            self.pairs, self.sources, self._draws = (
                [self.pairs[i] for i in keep],
                [self.sources[i] for i in keep],
                [self._draws[i] for i in keep],
            )
            self._bytes = sum(a.nbytes + b.nbytes for a, b in self.pairs)

    @property
    def memory_mb(self) -> float:
        return self._bytes / 2**20

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image, following = self.pairs[index]
        return {"image": image_to_uint8(unpack(image)), "next": image_to_uint8(unpack(following))}
