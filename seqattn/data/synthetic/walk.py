"""Videos of synthetic creatures walking smooth closed paths, with their true keypoints.

One creature walks a figure of eight through the frame (``walking_poses``, ``render_video``).
Several (``herd_poses``, ``render_walk``) each walk a figure of eight of their own, turned by
180 / animals degrees from the last and at their own pace, so their paths cross in the middle of
the frame and they meet there now and then: touching, crossing, one walking over the other. Each
keeps its size and colours all along (the same random state every frame), and the truth keeps one
identity order: what tracking needs.

    python -m seqattn.data.synthetic demo.mp4 [frames] [--animals N]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from seqattn.data.synthetic.creature import Pose, render_creature
from seqattn.data.synthetic.names import KEYPOINT_NAMES
from seqattn.data.synthetic.scene import paint_scene, sample_scene


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


def herd_poses(frames: int, width: int, height: int, animals: int, fps: float = 30.0) -> list[list[Pose]]:
    """``animals`` creatures walking crossing figures of eight: per frame, one Pose per animal
    (identity order). Animal j's figure is turned by pi * j / animals, it loops in 8 x (1 + 0.3 j)
    seconds and starts 2 pi j / (animals + 1) along it (apart at the start, meeting later)."""
    out: list[list[Pose]] = [[] for _ in range(frames)]
    for j in range(animals):
        turn, period, start = math.pi * j / animals, 8.0 * (1 + 0.3 * j), 2 * math.pi * j / (animals + 1)
        c, s = math.cos(turn), math.sin(turn)
        for i in range(frames):
            t = i / fps
            a = start + 2 * math.pi * t / period
            u, v = math.sin(a), 0.6 * math.sin(2 * a)  # the figure, before turning, in [-1, 1]
            du, dv = math.cos(a), 1.2 * math.cos(2 * a)
            x, y = 0.5 + 0.3 * (c * u - s * v), 0.5 + 0.3 * (s * u + c * v)
            dx, dy = c * du - s * dv, s * du + c * dv
            stride = 2 * math.pi * t * 1.5 + j  # 1.5 strides a second, diagonal legs in phase
            swings = tuple(0.6 * math.sin(stride + phase) for phase in (0, math.pi, math.pi, 0))
            head, bend = 0.4 * math.sin(3 * a), 0.7 * math.sin(stride / 2)
            out[i].append(Pose((x * width, y * height), math.atan2(dy * height, dx * width), head, swings, bend))
    return out


def render_walk(
    path: str, frames: int = 150, width: int = 320, height: int = 240, fps: int = 30, seed: int = 0, animals: int = 1
) -> np.ndarray:
    """Write a video of ``animals`` synthetic creatures walking (H.264 .mp4, or any container FFmpeg
    knows by the suffix); returns the true keypoints of every frame, (frames, animals, 10, 2) in
    pixels, animals in one identity order throughout, points outside the frame or under another
    creature included. One animal: the walk of ``render_video``. Several: each drawn
    1/sqrt(animals) as large (seqattn.data.synthetic.scene), painted in identity order (the later
    over the earlier)."""
    import av

    truth = []
    named = len(KEYPOINT_NAMES)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width + width % 2, height + height % 2, "yuv420p"
        if animals == 1:
            scenes = ([pose] for pose in walking_poses(frames, width, height, fps))
        else:
            scenes = iter(herd_poses(frames, width, height, animals, fps))
        for poses in scenes:
            if animals == 1:  # exactly the single walk as it always was
                image, points = render_creature(np.random.default_rng([seed, 3]), width, height, poses[0])
                points = points[None]
            else:  # the same random states every frame: each creature keeps its looks
                creatures, order = sample_scene(
                    np.random.default_rng([seed, 3, animals]), width, height, animals, poses
                )
                image = paint_scene(np.random.default_rng([seed, 3, animals, 1]), width, height, creatures, order)
                points = np.stack([c.points for c in creatures])
            canvas = np.zeros((stream.height, stream.width, 3), np.uint8)
            canvas[:height, :width] = image
            for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                container.mux(packet)
            truth.append(points[:, :named])
        for packet in stream.encode(None):
            container.mux(packet)
    return np.stack(truth)


def render_video(
    path: str, frames: int = 150, width: int = 320, height: int = 240, fps: int = 30, seed: int = 0
) -> np.ndarray:
    """Write a video of one synthetic creature walking (H.264 .mp4, or any container FFmpeg knows by
    the suffix); returns the true keypoints of every frame, (frames, 10, 2) in pixels."""
    return render_walk(path, frames, width, height, fps, seed)[:, 0]


def main(argv: list[str] | None = None) -> None:
    """``python -m seqattn.data.synthetic demo.mp4 [frames] [--animals N]``: the demo walk."""
    parser = argparse.ArgumentParser(prog="python -m seqattn.data.synthetic", description=main.__doc__)
    parser.add_argument("out", help="the video to write (.mp4, or any container FFmpeg knows)")
    parser.add_argument("frames", nargs="?", type=int, default=300, help="frames at 30 per second (300)")
    parser.add_argument("--animals", type=int, default=1, help="creatures walking crossing paths (1)")
    args = parser.parse_args(argv)
    if args.animals < 1 or args.frames < 1:
        parser.error("frames and --animals must be at least 1")
    render_walk(args.out, frames=args.frames, animals=args.animals)
    print(f"wrote {args.out}")
