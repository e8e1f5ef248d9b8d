"""A video's predictions as SLEAP labels (``.predictions.slp``) and NWB (ndx-pose), written by sleap-io.

One predicted instance per frame (every frame, NaN points where nothing was predicted or the
frame did not decode), each point with its calibrated likelihood as its score. Coordinates are
original-video pixels with pixel centres at integers, the convention of both formats.
SLEAP's GUI opens the ``.slp`` beside the video; ``pynwb`` and ``sleap_io.load_nwb`` read the
``.nwb``, whose pose series carry each frame's timestamp in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FORMATS = ("dlc", "slp", "nwb")  # dlc: the .h5/.csv tables, always the default


def prediction_labels(
    video: Path, names: list[str], coords: np.ndarray, likelihood: np.ndarray, edges: list[tuple[str, str]]
):
    """``sleap_io.Labels`` holding coords (N, K, 2) and likelihood (N, K) of ``video``'s N frames."""
    import sleap_io

    skeleton = sleap_io.Skeleton(list(names), name="seqattn")
    if edges:
        skeleton.add_edges(edges)
    media = sleap_io.Video.from_filename(str(video.resolve()), open_backend=False)  # found from any --out
    frames = []
    for i, (points, scores) in enumerate(zip(coords, likelihood, strict=True)):
        scores = np.nan_to_num(scores, nan=0.0)
        instance = sleap_io.PredictedInstance.from_numpy(
            points.astype(np.float64), skeleton, point_scores=scores, score=float(scores.mean())
        )
        frames.append(sleap_io.LabeledFrame(video=media, frame_idx=i, instances=[instance]))
    return sleap_io.Labels(labeled_frames=frames, videos=[media], skeletons=[skeleton])


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
