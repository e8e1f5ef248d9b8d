"""The synthetic creature's rendering: one four-legged creature over a cluttered background.

The creature has a random pose (head turn, leg swing, tail bend), rotation, size and position,
over a textured noisy background with distractor shapes; everything comes from the rng given, so
the same rng state gives the same image. Left and right follow the creature's own chirality, as
in real animals, so a horizontal flip must swap them.

``render_creature`` is one image: ``background``, then ``sample_creature`` (the shape, colour and
keypoints, no pixels) and ``paint_creature``, then ``finish`` (blur, noise), all from one rng in
that order. Scenes of several creatures (seqattn.data.synthetic.scene) use the same pieces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from seqattn.data.synthetic.names import DENSE_NAMES, HEAD, LEG, OUTLINE, SPINE, TAIL

_SHIFT = 4  # cv2 fixed-point bits: draw at 1/16 pixel precision


def _pt(p: np.ndarray) -> tuple[int, int]:
    """A point in pixels as cv2's fixed-point coordinates."""
    return int(round(p[0] * (1 << _SHIFT))), int(round(p[1] * (1 << _SHIFT)))


def _rad(r: float) -> int:
    """A length in pixels as cv2's fixed-point units, at least one."""
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
    """Draw 2 to 6 random circles, lines and ellipses onto ``img``, in place."""
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


def _dense_points(at, neck, head_dir, head_side, length, paws, tailbase, tail_mid, tailtip, body_width) -> np.ndarray:
    """The dense landmarks (len(DENSE_NAMES), 2) in pixels, in DENSE_NAMES order."""
    pts = []
    for i in range(OUTLINE):  # body ellipse centred at u = -0.07, half-length 0.4, half-width body_width
        a = math.pi * (i + 0.5) / OUTLINE  # 0 (front) .. pi (back)
        u, v = -0.07 + 0.4 * math.cos(a), body_width * math.sin(a)
        pts += [at(u, v), at(u, -v)]
    head_centre = neck + 0.2 * length * head_dir
    for i in range(HEAD):
        a = math.pi * (i + 0.5) / HEAD
        along, across = 0.18 * length * math.cos(a), 0.1 * length * math.sin(a)
        pts += [
            head_centre + along * head_dir + across * head_side,
            head_centre + along * head_dir - across * head_side,
        ]
    for first in (0, 2):  # fore legs (paws 0, 1), hind legs (paws 2, 3): left, right
        for i in range(LEG):
            f = (i + 1) / (LEG + 1)
            for hip, paw in (paws[first], paws[first + 1]):
                pts.append(hip + f * (paw - hip))
    for i in range(SPINE):
        pts.append(neck + (i + 1) / (SPINE + 1) * (tailbase - neck))
    for i in range(TAIL):
        f = (i + 1) / (TAIL + 1) * 2
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


@dataclass
class Creature:
    """One creature's drawn shape and colour, in image pixels: what ``paint_creature`` draws."""

    length: float  # body length L
    theta: float  # body direction, radians
    centre: np.ndarray  # (2,)
    body_centre: np.ndarray  # (2,) the body ellipse's centre
    neck: np.ndarray  # (2,)
    head_dir: np.ndarray  # (2,) unit vector
    snout: np.ndarray  # (2,)
    ears: list[np.ndarray]  # 2 x (2,): left, right
    paws: list[tuple[np.ndarray, np.ndarray]]  # 4 x (hip, paw), each (2,): fore left, fore right, hind ...
    tailbase: np.ndarray  # (2,)
    tail_mid: np.ndarray  # (2,)
    tailtip: np.ndarray  # (2,)
    body: tuple[int, int, int]  # RGB
    body_width: float  # half-width of the body, units of L
    points: np.ndarray  # (MAX_KEYPOINTS, 2): the 10 named keypoints, then DENSE_NAMES


def sample_creature(
    rng: np.random.Generator,
    width: int,
    height: int,
    size: float,
    pose: Pose | None = None,
    centre: np.ndarray | None = None,
    dense: bool = True,
) -> Creature:
    """Draw one creature from ``rng`` (no pixels): its body length is 0.3 to 0.55 x ``size``, its
    centre anywhere in the middle 80% of the ``width`` x ``height`` frame. ``pose`` replaces the
    drawn pose, ``centre`` (2,) the drawn centre; the rng is drawn from all the same, so the
    appearance stays that of the same rng state. ``dense`` False: the dense landmarks are NaN
    (not computed: faster)."""
    length = rng.uniform(0.3, 0.55) * size  # body length L in pixels
    theta = rng.uniform(0, 2 * math.pi)
    drawn = np.array([rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height])
    at_centre = drawn if centre is None else np.asarray(centre, dtype=np.float64)
    if pose is not None:
        theta, at_centre = pose.theta, np.asarray(pose.centre, dtype=np.float64)
    fwd = np.array([math.cos(theta), math.sin(theta)])
    left = np.array([fwd[1], -fwd[0]])  # the creature's left, fixed chirality

    def at(u: float, v: float) -> np.ndarray:  # body frame (units of L) -> image pixels
        return at_centre + length * (u * fwd + v * left)

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
    r, g, b = (int(c) for c in rng.integers(40, 230, 3))
    body = (r, g, b)
    body_width = rng.uniform(0.14, 0.2)
    named = np.stack([snout, ears[0], ears[1], neck, paws[0][1], paws[1][1], paws[2][1], paws[3][1], tailbase, tailtip])
    if dense:
        landmarks = _dense_points(at, neck, head_dir, head_side, length, paws, tailbase, tail_mid, tailtip, body_width)
    else:
        landmarks = np.full((len(DENSE_NAMES), 2), np.nan)
    points = np.concatenate([named, landmarks])
    return Creature(
        length=length, theta=theta, centre=at_centre, body_centre=at(-0.07, 0.0), neck=neck, head_dir=head_dir,
        snout=snout, ears=ears, paws=paws, tailbase=tailbase, tail_mid=tail_mid, tailtip=tailtip, body=body,
        body_width=body_width, points=points,
    )  # fmt: skip


def paint_creature(img: np.ndarray, c: Creature) -> None:
    """Draw ``c`` onto ``img`` (H, W, 3) uint8, in place, over whatever is there."""
    dark = tuple(int(0.55 * v) for v in c.body)
    light = tuple(int(min(255, 1.3 * v + 30)) for v in c.body)
    aa, length = cv2.LINE_AA, c.length
    thick = max(1, int(0.05 * length))
    cv2.line(img, _pt(c.tailbase), _pt(c.tail_mid), dark, thick, aa, _SHIFT)
    cv2.line(img, _pt(c.tail_mid), _pt(c.tailtip), dark, max(1, thick // 2), aa, _SHIFT)
    for hip, paw in c.paws:
        cv2.line(img, _pt(hip), _pt(paw), dark, thick, aa, _SHIFT)
        cv2.circle(img, _pt(paw), _rad(0.05 * length), light, -1, aa, _SHIFT)
    body_axes = (_rad(0.4 * length), _rad(c.body_width * length))
    cv2.ellipse(img, _pt(c.body_centre), body_axes, math.degrees(c.theta), 0, 360, c.body, -1, aa, _SHIFT)
    head_centre = c.neck + 0.2 * length * c.head_dir
    head_angle = math.degrees(math.atan2(c.head_dir[1], c.head_dir[0]))
    cv2.ellipse(
        img, _pt(head_centre), (_rad(0.18 * length), _rad(0.1 * length)), head_angle, 0, 360, light, -1, aa, _SHIFT
    )
    for ear in c.ears:
        cv2.circle(img, _pt(ear), _rad(0.06 * length), dark, -1, aa, _SHIFT)
    cv2.circle(img, _pt(c.snout), _rad(0.025 * length), (20, 20, 20), -1, aa, _SHIFT)


def background(rng: np.random.Generator, width: int, height: int, size: float) -> np.ndarray:
    """The (H, W, 3) uint8 scene without creatures: texture, gradient, grain and distractor shapes
    about as large as a creature of ``size``."""
    img = _background(rng, width, height)
    _distractors(rng, img, size)
    return img


def finish(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """The camera: a slight blur and sensor noise over the painted (H, W, 3) uint8 scene."""
    img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.3, 1.0))
    noisy = img.astype(np.float32) + rng.normal(0, rng.uniform(2, 12), img.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def render_creature(
    rng: np.random.Generator, width: int, height: int, pose: Pose | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Render one image; returns (H, W, 3) uint8 and all MAX_KEYPOINTS keypoints (104, 2) in pixels:
    the 10 named ones, then the dense landmarks of DENSE_NAMES. ``pose`` replaces the drawn pose
    (the rng is drawn from all the same, so the appearance stays that of the same rng)."""
    size = min(width, height)
    img = background(rng, width, height, size)
    creature = sample_creature(rng, width, height, size, pose)
    paint_creature(img, creature)
    return finish(rng, img), creature.points
