"""Procedurally rendered four-legged creatures: the embedded default dataset (no files, no download).

Each sample is rendered from ``(seed, split, index)`` alone, so it is identical on every machine
and in every worker. The creature has a random pose (head turn, leg swing, tail bend), rotation,
size and position, over a textured noisy background with distractor shapes. Keypoints that fall
outside the frame are missing (NaN). Left and right follow the creature's own chirality, as in
real animals, so a horizontal flip must swap them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from seqattn.data.base import KeypointSource, RawSample
from seqattn.errors import ConfigError

KEYPOINT_NAMES = (
    "snout",
    "left_ear",
    "right_ear",
    "neck",
    "left_forepaw",
    "right_forepaw",
    "left_hindpaw",
    "right_hindpaw",
    "tailbase",
    "tailtip",
)
_SHIFT = 4  # cv2 fixed-point bits: draw at 1/16 pixel precision
_SPLITS = {"train": 0, "val": 1, "test": 2}


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(p[0] * (1 << _SHIFT))), int(round(p[1] * (1 << _SHIFT)))


def _rad(r: float) -> int:
    return max(1, int(round(r * (1 << _SHIFT))))


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Low-frequency colour texture + a gradient + fine grain."""
    coarse = rng.uniform(0, 255, size=(rng.integers(3, 8), rng.integers(3, 8), 3)).astype(np.float32)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0, 1, size=(h // 4 + 1, w // 4 + 1, 3)).astype(np.float32)
    img += 25 * cv2.resize(fine, (w, h), interpolation=cv2.INTER_LINEAR)
    gx, gy = np.meshgrid(np.linspace(-1, 1, w), np.linspace(-1, 1, h))
    img += (40 * (rng.uniform(-1, 1) * gx + rng.uniform(-1, 1) * gy))[..., None].astype(np.float32)
    return np.clip(0.6 * img + 50, 0, 255).astype(np.uint8)


def _distractors(rng: np.random.Generator, img: np.ndarray, size: float) -> None:
    h, w = img.shape[:2]
    for _ in range(rng.integers(2, 7)):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        kind = rng.integers(3)
        if kind == 0:
            cv2.circle(img, _pt(centre), _rad(rng.uniform(0.03, 0.12) * size), colour, -1, cv2.LINE_AA, _SHIFT)
        elif kind == 1:
            end = centre + rng.normal(0, 0.3 * size, 2)
            cv2.line(img, _pt(centre), _pt(end), colour, int(rng.integers(1, 4)), cv2.LINE_AA, _SHIFT)
        else:
            axes = _pt(rng.uniform(0.03, 0.15, 2) * size)
            cv2.ellipse(img, _pt(centre), axes, rng.uniform(0, 180), 0, 360, colour, -1, cv2.LINE_AA, _SHIFT)


def _dense_names() -> tuple[str, ...]:
    """Names of the extra landmarks beyond the 10 named ones, in the order ``render_creature`` gives them.

    Lateral points carry left/right in their names, so a horizontal flip finds their pairs;
    points on the midline (spine, tail, head axis) are their own mirror image.
    """
    names = []
    for i in range(_OUTLINE):  # body outline, front to back, on both flanks
        names += [f"body_left_{i:02d}", f"body_right_{i:02d}"]
    for i in range(_HEAD):
        names += [f"head_left_{i:02d}", f"head_right_{i:02d}"]
    for leg in ("fore", "hind"):
        for i in range(_LEG):
            names += [f"{leg}leg_left_{i}", f"{leg}leg_right_{i}"]
    names += [f"spine_{i:02d}" for i in range(_SPINE)] + [f"tail_{i:02d}" for i in range(_TAIL)]
    return tuple(names)


_OUTLINE, _HEAD, _LEG, _SPINE, _TAIL = 20, 8, 4, 10, 12
DENSE_NAMES = _dense_names()
MAX_KEYPOINTS = len(KEYPOINT_NAMES) + len(DENSE_NAMES)  # 104


def keypoint_names(num_keypoints: int) -> list[str]:
    """The first 10 are the named anatomy; beyond, landmarks spread evenly over the dense set
    (outline, head, legs, spine, tail), left/right pairs kept together."""
    extra = num_keypoints - len(KEYPOINT_NAMES)
    return list(KEYPOINT_NAMES[:num_keypoints]) + [DENSE_NAMES[i] for i in _dense_choice(extra)]


def _dense_choice(extra: int) -> list[int]:
    """Indices into DENSE_NAMES of ``extra`` landmarks spread over the parts; never half a left/right pair."""
    units = _dense_units()  # a left/right pair, or one midline point
    chosen = []
    for u in sorted(range(len(units)), key=lambda u: (_spread_rank(u, len(units)), u)):
        if len(chosen) + len(units[u]) <= extra:
            chosen += units[u]
    return sorted(chosen)


def _dense_units() -> list[list[int]]:
    units, i = [], 0
    lateral = 2 * (_OUTLINE + _HEAD + 2 * _LEG)
    while i < lateral:
        units.append([i, i + 1])
        i += 2
    units += [[j] for j in range(lateral, len(DENSE_NAMES))]
    return units


def _spread_rank(u: int, n: int) -> int:
    """Bit-reversal order of unit u among n: any prefix of the order is spread over all parts."""
    bits = max(1, (n - 1).bit_length())
    return int(f"{u:0{bits}b}"[::-1], 2)


def _dense_points(at, neck, head_dir, head_side, length, paws, tailbase, tail_mid, tailtip, body_width) -> np.ndarray:
    """The dense landmarks (len(DENSE_NAMES), 2) in pixels, in DENSE_NAMES order."""
    pts = []
    for i in range(_OUTLINE):  # body ellipse centred at u = -0.07, half-length 0.4, half-width body_width
        a = math.pi * (i + 0.5) / _OUTLINE  # 0 (front) .. pi (back)
        u, v = -0.07 + 0.4 * math.cos(a), body_width * math.sin(a)
        pts += [at(u, v), at(u, -v)]
    head_centre = neck + 0.2 * length * head_dir
    for i in range(_HEAD):
        a = math.pi * (i + 0.5) / _HEAD
        along, across = 0.18 * length * math.cos(a), 0.1 * length * math.sin(a)
        pts += [
            head_centre + along * head_dir + across * head_side,
            head_centre + along * head_dir - across * head_side,
        ]
    for first in (0, 2):  # fore legs (paws 0, 1), hind legs (paws 2, 3): left, right
        for i in range(_LEG):
            f = (i + 1) / (_LEG + 1)
            for hip, paw in (paws[first], paws[first + 1]):
                pts.append(hip + f * (paw - hip))
    for i in range(_SPINE):
        pts.append(neck + (i + 1) / (_SPINE + 1) * (tailbase - neck))
    for i in range(_TAIL):
        f = (i + 1) / (_TAIL + 1) * 2
        pts.append(tailbase + f * (tail_mid - tailbase) if f <= 1 else tail_mid + (f - 1) * (tailtip - tail_mid))
    return np.stack(pts)


@dataclass
class Pose:
    """Where the creature is and how it holds itself; the rest of a rendering comes from the rng."""

    centre: tuple[float, float]  # pixels
    theta: float  # body direction, radians
    head: float  # head turn, radians in [-0.6, 0.6]
    swings: tuple[float, float, float, float]  # leg swing offsets, radians in [-0.7, 0.7]
    bend: float  # tail bend, radians in [-0.9, 0.9]


def render_creature(
    rng: np.random.Generator, width: int, height: int, pose: Pose | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Render one image; returns (H, W, 3) uint8 and all MAX_KEYPOINTS keypoints (104, 2) in pixels:
    the 10 named ones, then the dense landmarks of DENSE_NAMES. ``pose`` replaces the drawn pose
    (the rng is drawn from all the same, so the appearance stays that of the same rng)."""
    img = _background(rng, width, height)
    size = min(width, height)
    _distractors(rng, img, size)

    length = rng.uniform(0.3, 0.55) * size  # body length L in pixels
    theta = rng.uniform(0, 2 * math.pi)
    centre = np.array([rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height])
    if pose is not None:
        theta, centre = pose.theta, np.asarray(pose.centre, dtype=np.float64)
    fwd = np.array([math.cos(theta), math.sin(theta)])
    left = np.array([fwd[1], -fwd[0]])  # the creature's left, fixed chirality

    def at(u: float, v: float) -> np.ndarray:  # body frame (units of L) -> image pixels
        return centre + length * (u * fwd + v * left)

    def heading(angle: float) -> np.ndarray:  # unit vector rotated from the body axis
        c, s = math.cos(angle), math.sin(angle)
        return c * fwd + s * left

    neck, tailbase = at(0.3, 0.0), at(-0.45, 0.0)
    head_turn = rng.uniform(-0.6, 0.6)
    head_dir = heading(head_turn if pose is None else pose.head)
    head_side = np.array([head_dir[1], -head_dir[0]])
    snout = neck + 0.38 * length * head_dir
    ears = [neck + length * (0.1 * head_dir + s * 0.13 * head_side) for s in (1, -1)]
    paws = []
    for leg, (u, side) in enumerate(((0.18, 1), (0.18, -1), (-0.32, 1), (-0.32, -1))):
        hip = at(u, side * 0.12)
        offset = rng.uniform(-0.7, 0.7)
        swing = side * (math.pi / 2 + (offset if pose is None else pose.swings[leg]))
        paws.append((hip, hip + rng.uniform(0.25, 0.35) * length * heading(swing)))
    bend = rng.uniform(-0.9, 0.9)
    if pose is not None:
        bend = pose.bend
    tail_mid = tailbase + 0.3 * length * heading(math.pi + bend / 2)
    tailtip = tail_mid + 0.3 * length * heading(math.pi + bend)

    body = tuple(int(c) for c in rng.integers(40, 230, 3))
    dark = tuple(int(0.55 * c) for c in body)
    light = tuple(int(min(255, 1.3 * c + 30)) for c in body)
    aa = cv2.LINE_AA
    thick = max(1, int(0.05 * length))
    cv2.line(img, _pt(tailbase), _pt(tail_mid), dark, thick, aa, _SHIFT)
    cv2.line(img, _pt(tail_mid), _pt(tailtip), dark, max(1, thick // 2), aa, _SHIFT)
    for hip, paw in paws:
        cv2.line(img, _pt(hip), _pt(paw), dark, thick, aa, _SHIFT)
        cv2.circle(img, _pt(paw), _rad(0.05 * length), light, -1, aa, _SHIFT)
    body_width = rng.uniform(0.14, 0.2)
    body_axes = (_rad(0.4 * length), _rad(body_width * length))
    cv2.ellipse(img, _pt(at(-0.07, 0.0)), body_axes, math.degrees(theta), 0, 360, body, -1, aa, _SHIFT)
    head_centre = neck + 0.2 * length * head_dir
    head_angle = math.degrees(math.atan2(head_dir[1], head_dir[0]))
    cv2.ellipse(
        img, _pt(head_centre), (_rad(0.18 * length), _rad(0.1 * length)), head_angle, 0, 360, light, -1, aa, _SHIFT
    )
    for ear in ears:
        cv2.circle(img, _pt(ear), _rad(0.06 * length), dark, -1, aa, _SHIFT)
    cv2.circle(img, _pt(snout), _rad(0.025 * length), (20, 20, 20), -1, aa, _SHIFT)

    img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.3, 1.0))
    noisy = img.astype(np.float32) + rng.normal(0, rng.uniform(2, 12), img.shape)
    img = np.clip(noisy, 0, 255).astype(np.uint8)
    named = np.stack([snout, ears[0], ears[1], neck, paws[0][1], paws[1][1], paws[2][1], paws[3][1], tailbase, tailtip])
    dense = _dense_points(at, neck, head_dir, head_side, length, paws, tailbase, tail_mid, tailtip, body_width)
    return img, np.concatenate([named, dense])


@dataclass(frozen=True)
class Variation:
    """How a synthetic set departs from the default, to stand in for data of other kinds (benchmarks)."""

    grey: bool = False  # one channel repeated (grey cameras)
    centred: bool = False  # crops of width x height around the creature, cut from a frame 1.5 times as large
    size_range: tuple[float, float] = (1.0, 1.0)  # each image's sides scaled by a log-uniform factor in this range
    missing: float = 0.0  # share of labels removed at random (occlusions, unlabelled parts)


class SyntheticSplit:
    """One split of rendered samples; sample i is a pure function of (seed, split, i)."""

    def __init__(
        self,
        size: int,
        split: str,
        seed: int,
        width: int,
        height: int,
        num_keypoints: int,
        variation: Variation = Variation(),
    ) -> None:
        self.size, self.split, self.seed = size, split, seed
        self.width, self.height, self.num_keypoints = width, height, num_keypoints
        self.variation = variation
        named = min(num_keypoints, len(KEYPOINT_NAMES))
        self.columns = list(range(named)) + [len(KEYPOINT_NAMES) + i for i in _dense_choice(num_keypoints - named)]

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> RawSample:
        if not 0 <= index < self.size:
            raise IndexError(index)
        v = self.variation
        rng = np.random.default_rng([self.seed, _SPLITS[self.split], index])
        extra = np.random.default_rng([self.seed, _SPLITS[self.split], index, 1])  # variations only: same base samples
        lo, hi = v.size_range
        factor = math.exp(extra.uniform(math.log(lo), math.log(hi))) if hi > lo else lo
        width, height = max(16, round(self.width * factor)), max(16, round(self.height * factor))
        if v.centred:  # a crop around the creature from a frame 1.5 times as large, as trackers cut them
            big_w, big_h = round(1.5 * width), round(1.5 * height)
            image, points = render_creature(rng, big_w, big_h)
            cx, cy = np.nanmean(points[: len(KEYPOINT_NAMES)], axis=0)
            x0 = int(np.clip(round(cx - width / 2), 0, big_w - width))
            y0 = int(np.clip(round(cy - height / 2), 0, big_h - height))
            image, points = image[y0 : y0 + height, x0 : x0 + width], points - np.array([x0, y0])
        else:
            image, points = render_creature(rng, width, height)
        if v.grey:
            image = np.repeat(image.mean(2, keepdims=True).round().astype(np.uint8), 3, axis=2)
        points = points[self.columns].copy()
        outside = (points < -0.5).any(1) | (points[:, 0] >= width - 0.5) | (points[:, 1] >= height - 0.5)
        points[outside] = np.nan
        if v.missing > 0:
            points[extra.random(len(points)) < v.missing] = np.nan
        return RawSample(image=image, keypoints=points, name=f"synthetic/{self.split}/{index:06d}")


class SyntheticSource(KeypointSource):
    """The embedded default dataset: rendered creatures with up to 10 named keypoints, or up to 104
    with dense landmarks (``num_keypoints`` = 17, 68, 100, ...: many-keypoint skeletons).
    ``grey``, ``centred``, ``size_range`` and ``missing`` vary it (see :class:`Variation`)."""

    def __init__(
        self,
        num_train: int = 1000,
        num_val: int = 200,
        num_test: int = 200,
        width: int = 160,
        height: int = 128,
        num_keypoints: int = len(KEYPOINT_NAMES),
        seed: int = 0,
        grey: bool = False,
        centred: bool = False,
        size_range: tuple[float, float] = (1.0, 1.0),
        missing: float = 0.0,
    ) -> None:
        if not 1 <= num_keypoints <= MAX_KEYPOINTS:
            raise ConfigError(f"data.source.num_keypoints must be in 1..{MAX_KEYPOINTS}, got {num_keypoints}")
        for key, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
            if value < 1:
                raise ConfigError(f"data.source.{key} must be >= 1, got {value}")
        if min(width, height) < 16:
            raise ConfigError(f"data.source width and height must be >= 16 pixels, got {width}x{height}")
        lo, hi = (float(x) for x in size_range)
        if not 0 < lo <= hi:
            raise ConfigError(
                f"data.source.size_range must be [low, high] with 0 < low <= high, got {list(size_range)}"
            )
        if not 0 <= missing < 1:
            raise ConfigError(f"data.source.missing must be in [0, 1), got {missing}")
        self.keypoint_names = keypoint_names(num_keypoints)
        variation = Variation(bool(grey), bool(centred), (lo, hi), float(missing))
        sizes = {"train": num_train, "val": num_val, "test": num_test}
        self._splits = {
            name: SyntheticSplit(n, name, seed, width, height, num_keypoints, variation) for name, n in sizes.items()
        }

    def splits(self) -> dict[str, SyntheticSplit]:
        return self._splits


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


def main(argv: list[str] | None = None) -> None:
    """``python -m seqattn.data.synthetic demo.mp4 [frames]``: the walking-creature demo video."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m seqattn.data.synthetic <out.mp4> [frames]", file=sys.stderr)
        sys.exit(2)
    render_video(args[0], frames=int(args[1]) if len(args) > 1 else 300)
    print(f"wrote {args[0]}")


if __name__ == "__main__":
    main()
