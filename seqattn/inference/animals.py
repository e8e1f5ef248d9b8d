"""Several tracked animals' predictions (``TrackedPoses``) and the files they are written to.

- DeepLabCut multi-animal tables ``<stem>.h5`` / ``<stem>.csv`` (``write_tracked_tables``): the four
  column levels scorer / individuals / bodyparts / coords, one row per frame, NaN where an identity
  is absent; ``movement.io.load_poses.from_dlc_file`` reads them with an ``individuals`` dimension
  of the track names (seqattn.inference.tables.pose_table).
- SLEAP ``<stem>.predictions.slp`` and NWB ``<stem>.nwb`` (``write_tracked_sleap``): a track per
  identity, an instance per animal present (seqattn.inference.sleap_files.tracked_labels).
- A labelled video coloured by identity, each animal's track name beside it (``write_tracked_video``,
  seqattn.inference.labeled_video.LabeledVideoWriter).

Every writer takes an optional ``OutputSet`` (seqattn.inference.tables): the files appear when the
set is committed, all of them or none; without one each file appears whole or not at all.
``write_tracked_outputs`` writes a video's files as one set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqattn.inference.labeled_video import LabeledVideoWriter
from seqattn.inference.sleap_files import tracked_labels, write_nwb, write_slp
from seqattn.inference.tables import OutputSet, output_set, pose_table, write_output, write_pose_files
from seqattn.io.video_info import VideoInfo

__all__ = [
    "TrackedPoses",
    "write_tracked_outputs",
    "write_tracked_sleap",
    "write_tracked_tables",
    "write_tracked_video",
]


@dataclass
class TrackedPoses:
    """A video's (or image folder's) predictions of several animals, by identity."""

    coords: np.ndarray  # (F, N, K, 2) float64 original pixels (pixel centres at integers), NaN where n is absent in f
    likelihood: np.ndarray  # (F, N, K) float32, NaN where absent
    score: np.ndarray  # (F, N) float32 instance score, NaN where absent
    track_names: list[str]  # (N,) e.g. ["track_0", "track_1"] or the user's names
    keypoint_names: list[str]  # (K,)

    def __post_init__(self) -> None:
        f, n, k = self.coords.shape[:3]
        if self.coords.shape != (f, n, k, 2) or self.likelihood.shape != (f, n, k) or self.score.shape != (f, n):
            raise ValueError(
                f"TrackedPoses: coords {self.coords.shape}, likelihood {self.likelihood.shape} and score "
                f"{self.score.shape} should be (F, N, K, 2), (F, N, K) and (F, N)"
            )
        if len(self.track_names) != n or len(set(self.track_names)) != n:
            raise ValueError(f"TrackedPoses: {n} identities need {n} distinct track names, got {self.track_names}")
        if len(self.keypoint_names) != k:
            raise ValueError(f"TrackedPoses: {k} keypoints, but names {self.keypoint_names}")

    @property
    def present(self) -> np.ndarray:
        """(F, N) bool: identity n is in frame f (at least one keypoint with finite x and y)."""
        return np.isfinite(self.coords).all(-1).any(-1)


def write_tracked_tables(
    stem: Path, poses: TrackedPoses, scorer: str, files: OutputSet | None = None, index: list[str] | None = None
) -> dict[str, Path]:
    """``<stem>.h5`` and ``<stem>.csv``: multi-animal DeepLabCut tables, rows frames 0..F-1 (or the
    image names in ``index``). Returns {"h5": path, "csv": path}."""
    table = pose_table(
        scorer, poses.keypoint_names, poses.coords, poses.likelihood, index=index, individuals=poses.track_names
    )
    return write_pose_files(stem, table, files)


def write_tracked_sleap(
    stem: Path,
    video: Path,
    poses: TrackedPoses,
    formats: Iterable[str] = ("slp",),
    edges: list[tuple[str, str]] | None = None,
    times: list[float | None] | None = None,
    fps: float | None = None,
    files: OutputSet | None = None,
) -> dict[str, Path]:
    """``<stem>.predictions.slp`` ("slp" in ``formats``) and ``<stem>.nwb`` ("nwb": frame f at
    ``times[f]`` seconds, else f / ``fps``) of ``video``'s ``poses``. Returns {format: path}."""
    formats = tuple(formats)
    labels = tracked_labels(video, poses, edges or [])
    write = files.write if files is not None else write_output
    paths = {}
    if "slp" in formats:
        paths["slp"] = write(stem.with_name(f"{stem.name}.predictions.slp"), lambda p: write_slp(labels, p))
    if "nwb" in formats:
        stamps = list(times) if times is not None else [None] * len(poses.coords)
        paths["nwb"] = write(stem.with_name(f"{stem.name}.nwb"), lambda p: write_nwb(labels, p, stamps, fps))
    return paths


def write_tracked_video(
    path: Path,
    frames: Iterable[np.ndarray | None],
    info: VideoInfo,
    poses: TrackedPoses,
    pcutoff: float = 0.6,
    skeleton: list[tuple[str, str]] | None = None,
    files: OutputSet | None = None,
) -> Path:
    """The labelled video ``path`` of ``frames`` (each (H, W, 3) uint8 RGB, or None: black), frame f
    showing ``poses`` of frame f (nothing past the F-th), each identity in its own colour with its
    track name. Whole or absent: renamed when ``files`` is committed (without one, at once)."""
    if files is None:
        with output_set() as own:
            return write_tracked_video(path, frames, info, poses, pcutoff, skeleton, own)
    f, n, k = poses.likelihood.shape
    nothing = np.full((n, k, 2), np.nan), np.full((n, k), np.nan)
    writer = LabeledVideoWriter(
        files.reserve(path), info, poses.keypoint_names, pcutoff, skeleton, target=path, tracks=poses.track_names
    )
    try:
        for i, image in enumerate(frames):
            points, likelihood = (poses.coords[i], poses.likelihood[i]) if i < f else nothing
            writer.write(image, points, likelihood)
        writer.close()
    finally:
        writer.abort()  # no-op once closed: a half-written video is removed
    return path


def write_tracked_outputs(
    stem: Path,
    poses: TrackedPoses,
    scorer: str,
    video: Path | None = None,
    formats: Iterable[str] = ("dlc",),
    edges: list[tuple[str, str]] | None = None,
    times: list[float | None] | None = None,
    fps: float | None = None,
    files: OutputSet | None = None,
) -> dict[str, Path]:
    """The tables ("dlc" in ``formats``), ``.predictions.slp`` ("slp") and ``.nwb`` ("nwb", which need
    ``video``) of ``poses`` beside ``stem``, as one set: all of them appear or none (with ``files``,
    when the caller commits it)."""
    formats = tuple(formats)
    if files is None:
        with output_set() as own:
            return write_tracked_outputs(stem, poses, scorer, video, formats, edges, times, fps, own)
    paths = write_tracked_tables(stem, poses, scorer, files) if "dlc" in formats else {}
    if "slp" in formats or "nwb" in formats:
        if video is None:
            raise ValueError("write_tracked_outputs: SLEAP and NWB files name the video; pass video=")
        paths |= write_tracked_sleap(stem, video, poses, formats, edges, times, fps, files)
    return paths
