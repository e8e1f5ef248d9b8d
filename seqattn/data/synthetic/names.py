"""The synthetic creature's keypoint names: 10 named anatomical points, then dense landmarks.

The dense landmarks cover the body outline, the head, the legs, the spine and the tail.
Lateral points carry left/right in their names, so a horizontal flip finds their pairs; points
on the midline (spine, tail, head axis) are their own mirror image. ``keypoint_names`` picks a
skeleton of any size up to ``MAX_KEYPOINTS`` that spreads over all parts and never keeps half of
a left/right pair.
"""

from __future__ import annotations

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
# landmarks per part: outline and head points per flank, leg points per leg, spine and tail points
OUTLINE, HEAD, LEG, SPINE, TAIL = 20, 8, 4, 10, 12


def _dense_names() -> tuple[str, ...]:
    """Names of the extra landmarks beyond the 10 named ones, in the order ``render_creature`` gives them."""
    names = []
    for i in range(OUTLINE):  # body outline, front to back, on both flanks
        names += [f"body_left_{i:02d}", f"body_right_{i:02d}"]
    for i in range(HEAD):
        names += [f"head_left_{i:02d}", f"head_right_{i:02d}"]
    for leg in ("fore", "hind"):
        for i in range(LEG):
            names += [f"{leg}leg_left_{i}", f"{leg}leg_right_{i}"]
    names += [f"spine_{i:02d}" for i in range(SPINE)] + [f"tail_{i:02d}" for i in range(TAIL)]
    return tuple(names)


DENSE_NAMES = _dense_names()
MAX_KEYPOINTS = len(KEYPOINT_NAMES) + len(DENSE_NAMES)  # 104


def keypoint_names(num_keypoints: int) -> list[str]:
    """The first 10 are the named anatomy; beyond, landmarks spread evenly over the dense set
    (outline, head, legs, spine, tail), left/right pairs kept together."""
    extra = num_keypoints - len(KEYPOINT_NAMES)
    return list(KEYPOINT_NAMES[:num_keypoints]) + [DENSE_NAMES[i] for i in dense_choice(extra)]


def dense_choice(extra: int) -> list[int]:
    """Indices into DENSE_NAMES of ``extra`` landmarks spread over the parts; never half a left/right pair."""
    units = _dense_units()  # a left/right pair, or one midline point
    chosen = []
    for u in sorted(range(len(units)), key=lambda u: (_spread_rank(u, len(units)), u)):
        if len(chosen) + len(units[u]) <= extra:
            chosen += units[u]
    return sorted(chosen)


def _dense_units() -> list[list[int]]:
    """DENSE_NAMES indices grouped as they must be chosen: left/right pairs, then single midline points."""
    units, i = [], 0
    lateral = 2 * (OUTLINE + HEAD + 2 * LEG)
    while i < lateral:
        units.append([i, i + 1])
        i += 2
    units += [[j] for j in range(lateral, len(DENSE_NAMES))]
    return units


def _spread_rank(u: int, n: int) -> int:
    """Bit-reversal order of unit u among n: any prefix of the order is spread over all parts."""
    bits = max(1, (n - 1).bit_length())
    return int(f"{u:0{bits}b}"[::-1], 2)


def keypoint_columns(num_keypoints: int) -> list[int]:
    """Indices into the renderer's (MAX_KEYPOINTS, 2) points of ``keypoint_names(num_keypoints)``."""
    named = min(num_keypoints, len(KEYPOINT_NAMES))
    return list(range(named)) + [len(KEYPOINT_NAMES) + i for i in dense_choice(num_keypoints - named)]
