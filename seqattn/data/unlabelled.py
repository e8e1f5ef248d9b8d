"""Frames of videos without labels, letterboxed like the labelled images, for the objective's
unlabelled terms (seqattn/losses/unlabelled.py).

``data.unlabelled`` names a video, a list of videos or a folder of them. ``frames`` frames are
drawn evenly over the whole of every recording (in proportion to its length), each with the frame
after it (for the temporal term). All are decoded once, before training, and kept in memory as
uint8 letterboxes; ``cache_mb`` bounds that memory (fewer frames are drawn to fit it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from seqattn.data.codec import KeypointCodec, image_to_tensor
from seqattn.data.video import VIDEO_SUFFIXES, decode_frames, list_videos
from seqattn.data.video_info import DecodeReport, probe
from seqattn.errors import DataError
from seqattn.files import printable

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


class UnlabelledFrames(Dataset):
    """Items: ``image`` (3, S', S') float32, a drawn frame's letterbox; ``next`` the frame after it."""

    def __init__(self, videos: Sequence[Path], codec: KeypointCodec, frames: int, cache_mb: float) -> None:
        infos = [probe(v) for v in videos]  # a broken file fails here, before training, by name
        per_pair = 2 * codec.side * codec.side * 3
        fits = int(cache_mb * 2**20 // per_pair)
        if fits < 1:
            raise DataError(f"data.unlabelled_cache_mb={cache_mb} holds no frame pair at {codec.side} px")
        if fits < frames:
            log.warning(f"data.unlabelled: {fits} frame pairs fit in {cache_mb:g} MB at {codec.side} px, not {frames}")
        picks = spread_picks([i.frames_expected for i in infos], min(frames, fits))
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self.sources: list[tuple[str, int]] = []  # (video, frame number) of each pair
        for video, wanted in zip(videos, picks, strict=True):
            self._decode(video, wanted, codec)
        if not self.pairs:
            raise DataError(f"data.unlabelled: no frame could be read from {', '.join(map(printable, videos))}")
        log.info(f"unlabelled: {len(self.pairs)} frame pairs from {len(videos)} video(s), {self.memory_mb:.0f} MB")

    def _decode(self, video: Path, wanted: list[int], codec: KeypointCodec) -> None:
        if not wanted:
            return
        needed, kept = set(wanted) | {t + 1 for t in wanted}, {}
        for frame in decode_frames(video, DecodeReport()):
            if frame.index in needed and frame.image is not None:
                kept[frame.index] = codec.letterbox(frame.image)[0]
            if frame.index >= max(needed):
                break
        for t in wanted:
            if t in kept and t + 1 in kept:
                self.pairs.append((kept[t], kept[t + 1]))
                self.sources.append((str(video), t))

    @property
    def memory_mb(self) -> float:
        return sum(a.nbytes + b.nbytes for a, b in self.pairs) / 2**20

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image, following = self.pairs[index]
        return {"image": image_to_tensor(image), "next": image_to_tensor(following)}
