"""A video of the synthetic creature walking a smooth closed path, with its true keypoints."""

from __future__ import annotations

import math

import numpy as np

from seqattn.data.synthetic.creature import Pose, render_creature
from seqattn.data.synthetic.names import KEYPOINT_NAMES


def walking_poses(frames: int, width: int, height: int, fps: float = 30.0) -> list[Pose]:
    """A creature walking a smooth closed path through the frame: one Pose per frame."""
    poses = []
    for i in range(frames):
        t = i / fps
        a = 2 * math.pi * t / 8.0  # one loop in 8 s
        x, y = 0.5 + 0.3 * math.sin(a), 0.5 + 0.25 * math.sin(2 * a)
        dx, dy = 0.3 * math.cos(a), 0.5 * math.cos(2 * a)  # the path's direction: the body follows it
        stride = 2 * math.pi * t * 1.5  # 1.5 strides a second, diagonal legs in phase
        swings = tuple(0.6 * math.sin(stride + phase) for phase in (0, math.pi, math.pi, 0))
        poses.append(
            Pose(
                (x * width, y * height),
                math.atan2(dy * height, dx * width),
                0.4 * math.sin(a * 3),
                swings,
                0.7 * math.sin(stride / 2),
            )
        )
    return poses


def render_video(
    path: str, frames: int = 150, width: int = 320, height: int = 240, fps: int = 30, seed: int = 0
) -> np.ndarray:
    """Write a video of one synthetic creature walking (H.264 .mp4, or any container FFmpeg knows by
    the suffix); returns the true keypoints of every frame, (frames, 10, 2) in pixels."""
    import av

    truth = []
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width + width % 2, height + height % 2, "yuv420p"
        for pose in walking_poses(frames, width, height, fps):
            image, points = render_creature(np.random.default_rng([seed, 3]), width, height, pose)
            canvas = np.zeros((stream.height, stream.width, 3), np.uint8)
            canvas[:height, :width] = image
            for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                container.mux(packet)
            truth.append(points[: len(KEYPOINT_NAMES)])
        for packet in stream.encode(None):
            container.mux(packet)
    return np.stack(truth)
