"""A video's predictions as SLEAP labels (``.predictions.slp``) and NWB (ndx-pose), written by sleap-io.

One animal: one predicted instance per frame (every frame, NaN points where nothing was predicted
or the frame did not decode), each point with its calibrated likelihood as its score. Several
tracked animals (``tracked_labels``): one ``sleap_io.Track`` per identity and one predicted
instance per animal present in a frame, with its instance score; a frame with no animal has no
labelled frame, as SLEAP writes its own predictions. Coordinates are original-video pixels with
pixel centres at integers, the convention of both formats. SLEAP's GUI opens the ``.slp`` beside
the video; ``pynwb`` and ``sleap_io.load_nwb`` read the ``.nwb``, whose pose series carry each
frame's timestamp in seconds (several animals: one PoseEstimation per track, ``track=<name>``;
sleap-io's NWB reader gives their instances back without the tracks).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import sleap_io

    from seqattn.inference.animals import TrackedPoses

FORMATS = ("dlc", "slp", "nwb")  # dlc: the .h5/.csv tables, always the default


def _skeleton_and_video(
    video: Path, names: list[str], edges: list[tuple[str, str]]
) -> tuple[sleap_io.Skeleton, sleap_io.Video]:
    import sleap_io

    skeleton = sleap_io.Skeleton(list(names), name="seqattn")
    if edges:
        skeleton.add_edges(edges)
    media = sleap_io.Video.from_filename(str(video.resolve()), open_backend=False)  # found from any --out
    return skeleton, media


def _instance(
    skeleton: sleap_io.Skeleton,
    points: np.ndarray,
    scores: np.ndarray,
    score: float = float("nan"),
    track: sleap_io.Track | None = None,
) -> sleap_io.PredictedInstance:
    """points (K, 2), scores (K,) (NaN: 0) -> an instance scored ``score`` (NaN: the points' mean)."""
    import sleap_io

    scores = np.nan_to_num(scores.astype(np.float64), nan=0.0)
    score = float(score) if np.isfinite(score) else float(scores.mean())
    return sleap_io.PredictedInstance.from_numpy(
        points.astype(np.float64), skeleton, point_scores=scores, score=score, track=track
    )


def prediction_labels(
    video: Path, names: list[str], coords: np.ndarray, likelihood: np.ndarray, edges: list[tuple[str, str]]
) -> sleap_io.Labels:
    """``sleap_io.Labels`` holding coords (N, K, 2) and likelihood (N, K) of ``video``'s N frames."""
    import sleap_io

    skeleton, media = _skeleton_and_video(video, names, edges)
    frames = [
        sleap_io.LabeledFrame(video=media, frame_idx=i, instances=[_instance(skeleton, points, scores)])
        for i, (points, scores) in enumerate(zip(coords, likelihood, strict=True))
    ]
    return sleap_io.Labels(labeled_frames=frames, videos=[media], skeletons=[skeleton])


def tracked_labels(video: Path, poses: TrackedPoses, edges: list[tuple[str, str]]) -> sleap_io.Labels:
    """``sleap_io.Labels`` of ``poses`` (F frames, N identities): a track per identity (all N, even
    one never present), an instance per (frame, identity) present, no frame where none is."""
    import sleap_io

    skeleton, media = _skeleton_and_video(video, poses.keypoint_names, edges)
    tracks = [sleap_io.Track(name) for name in poses.track_names]
    frames = []
    for f, present in enumerate(poses.present):
        instances = [
            _instance(skeleton, poses.coords[f, n], poses.likelihood[f, n], poses.score[f, n], tracks[n])
            for n in np.flatnonzero(present)
        ]
        if instances:
            frames.append(sleap_io.LabeledFrame(video=media, frame_idx=f, instances=instances))
    return sleap_io.Labels(labeled_frames=frames, videos=[media], skeletons=[skeleton], tracks=tracks)


def write_slp(labels, path: Path) -> None:
    import sleap_io

    sleap_io.save_slp(labels, str(path), verbose=False)


def write_nwb(labels, path: Path, times: list[float | None], fps: float | None) -> None:
    """NWB predictions; a frame without a decoded timestamp gets its index / ``fps`` (its index when
    the video states no frame rate)."""
    from sleap_io.io.nwb_predictions import write_nwb as write

    rate = fps or 1.0
    stamps = np.array([i / rate if t is None else t for i, t in enumerate(times)], dtype=np.float64)
    write(labels, str(path), pose_estimation_metadata={"video_timestamps": stamps, "source_software": "seqattn"})
