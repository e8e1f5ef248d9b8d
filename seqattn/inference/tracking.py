"""Identity along a video: which detected animal of each frame is which track.

Each frame brings n_f instances (n_f may be 0): their keypoints (n_f, K, 2) in original pixels, NaN
where missing, and one score each. Frame by frame, the instances are matched to the existing tracks
by the Hungarian algorithm (scipy's ``linear_sum_assignment``) on a cost in pixels: the mean, over
the keypoints present in both, of the distance between the instance and the track's predicted
position (the distance between the centres of their boxes when no keypoint is in both).

Prediction: a constant velocity. A track holds its last position (keypoints it did not see in its
last instance carried along by that instance's mean displacement) and its velocity: the mean
displacement per frame over its last ``velocity_frames`` displacements (zero for a new track, and
after a forced re-link below). After a gap of g frames the
prediction is ``last + velocity * (1 + d + ... + d^(g-1))`` with d = ``velocity_decay``: exact one
frame ahead, slowing down over longer gaps.

Gating: a match is refused when its cost exceeds ``gate`` (default 1.0) x the animal's size, the
size being the larger diagonal of the boxes around the instance's and the track's keypoints (at
least ``MIN_SIZE_PX``): an animal is not expected to move more than its own length between the
prediction and the frame. Every track ever started is a candidate, so a track matched again after
frames without it is re-linked (counted). Refused instances start new tracks.

Ambiguity: the next-best assignment is the best one that leaves out one of the chosen pairs and
matches as many instances within the gate. A frame is ambiguous when it costs less than ``margin``
(default 0.1) x the mean size of the frame's instances more than the best one: a possible identity switch the
motion could not resolve (two animals on top of each other). It is counted, not repaired.

With ``max_tracks`` = N (the number of animals): in a frame with more than N instances the lowest
scores are dropped (id -1); at most N tracks exist; an instance refused by the gate takes the
closest identity left unmatched in that frame (a re-link, its motion restarted) and only starts a
new track while fewer than N exist. Instances without any keypoint get id -1 and are not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from seqattn.errors import ConfigError, DataError

GATE = 1.0  # a match is refused beyond this multiple of the animal's size
MARGIN = 0.1  # ambiguous: the next-best assignment within this multiple of the size
VELOCITY_FRAMES = 3  # the velocity is measured over the last this many displacements
VELOCITY_DECAY = 0.8  # each further frame of a gap moves the prediction by this share of the last
MIN_SIZE_PX = 4.0  # the size of an animal with a single keypoint


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass
class Tracks:
    """ids: per frame, (n_f,) int track index of each instance, -1 when dropped; the counts of the run."""

    ids: list[np.ndarray] = field(default_factory=list)
    num_tracks: int = 0
    tracks_started: int = 0  # identities created (= num_tracks)
    relinked: int = 0  # tracks found again after frames without them
    ambiguous: int = 0  # frames whose next-best assignment was within the margin
    dropped: int = 0  # instances beyond max_tracks in a frame

    def summary(self) -> str:
        """One line for the run's log, e.g. "2 tracks; 3 re-linked after a gap; 1 ambiguous frame; ..."."""
        return (
            f"{_plural(self.num_tracks, 'track')}; {self.relinked} re-linked after a gap; "
            f"{_plural(self.ambiguous, 'ambiguous frame')}; {_plural(self.dropped, 'instance')} dropped"
        )


def _centre(points: np.ndarray) -> np.ndarray:
    """(K, 2) -> (2,) centre of the box around the present keypoints (NaN when none)."""
    present = points[np.isfinite(points).all(-1)]
    return (present.min(0) + present.max(0)) / 2 if len(present) else np.full(2, np.nan)


def _span(points: np.ndarray) -> float:
    """(K, 2) -> diagonal of the box around the present keypoints, pixels (0 when fewer than two)."""
    present = points[np.isfinite(points).all(-1)]
    return float(np.linalg.norm(present.max(0) - present.min(0))) if len(present) else 0.0


def _shift(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(K, 2), (K, 2) -> (2,) mean displacement a -> b over keypoints present in both (else of the centres)."""
    both = np.isfinite(a).all(-1) & np.isfinite(b).all(-1)
    return (b[both] - a[both]).mean(0) if both.any() else _centre(b) - _centre(a)


def _costs(points: np.ndarray, centres: np.ndarray, predicted: np.ndarray, predicted_centres: np.ndarray):
    """(n, K, 2), (n, 2), (T, K, 2), (T, 2) -> (n, T) mean distance over keypoints present in both
    (else between the centres)."""
    d = np.linalg.norm(points[:, None] - predicted[None], axis=-1)  # (n, T, K), NaN where one is missing
    both = np.isfinite(d)
    mean = np.where(both, d, 0.0).sum(-1) / np.maximum(both.sum(-1), 1)
    centre = np.linalg.norm(centres[:, None] - predicted_centres[None], axis=-1)
    return np.where(both.any(-1), mean, centre)


class _Track:
    """One identity: its recent positions (frame, (K, 2)), the motion they imply, its size and centre."""

    def __init__(self, frame: int, points: np.ndarray) -> None:
        self.history = [(frame, points.astype(np.float64))]
        self._measure()

    def _measure(self) -> None:
        (f0, p0), (f1, p1) = self.history[0], self.history[-1]
        self.last_frame, self.position = f1, p1
        self.velocity = _shift(p0, p1) / (f1 - f0) if f1 > f0 else np.zeros(2)  # (2,) pixels per frame
        self.span, self.centre = _span(p1), _centre(p1)

    def travel(self, frame: int, decay: float) -> float:
        """Frames' worth of velocity the prediction moves at ``frame``: 1 + d + ... + d^(gap - 1)."""
        gap = frame - self.last_frame
        return gap if decay == 1 else (1 - decay**gap) / (1 - decay)

    def update(self, frame: int, points: np.ndarray, velocity_frames: int, restart: bool = False) -> None:
        carried = self.position + _shift(self.position, points)
        seen = np.where(np.isfinite(points), points, carried)
        self.history = [(frame, seen)] if restart else [*self.history[-velocity_frames:], (frame, seen)]
        self._measure()


def _assign(cost: np.ndarray, margin_px: float) -> tuple[list[tuple[int, int]], bool]:
    """cost (n, T), inf = refused -> the optimal pairs (row, col), and whether the frame is ambiguous."""
    if cost.size == 0:
        return [], False
    allowed = np.isfinite(cost)
    refused = 1.0 + cost[allowed].sum()  # above any assignment of allowed pairs: their number comes first

    def solve(allowed: np.ndarray) -> tuple[list[tuple[int, int]], float]:
        rows, cols = linear_sum_assignment(np.where(allowed, cost, refused))
        keep = allowed[rows, cols]
        return list(zip(rows[keep].tolist(), cols[keep].tolist(), strict=True)), float(
            cost[rows[keep], cols[keep]].sum()
        )

    pairs, best = solve(allowed)
    for r, c in pairs:
        without = allowed.copy()
        without[r, c] = False
        alternative, total = solve(without)
        if len(alternative) == len(pairs) and total - best < margin_px:
            return pairs, True
    return pairs, False


def _checked(f: int, coords: np.ndarray, scores: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray]:
    coords, scores = np.asarray(coords, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise DataError(f"tracking: frame {f}: scores must be (n,), got shape {scores.shape}")
    if scores.size == 0 and coords.size == 0:
        return coords.reshape(0, k or 0, 2), scores
    if coords.ndim != 3 or coords.shape[-1] != 2 or len(coords) != len(scores):
        raise DataError(f"tracking: frame {f}: coords must be ({len(scores)}, K, 2), got shape {coords.shape}")
    if k is not None and coords.shape[1] != k:
        raise DataError(f"tracking: frame {f}: {coords.shape[1]} keypoints, earlier frames had {k}")
    return coords, scores


def track(
    frames: Iterable[tuple[np.ndarray, np.ndarray]],
    max_tracks: int | None = None,
    gate: float = GATE,
    margin: float = MARGIN,
    velocity_frames: int = VELOCITY_FRAMES,
    velocity_decay: float = VELOCITY_DECAY,
) -> Tracks:
    """frames: per frame (coords (n_f, K, 2) original pixels NaN = missing, scores (n_f,)) -> Tracks.

    The matching, gating, ambiguity margin and ``max_tracks`` rules are in the module docstring.
    """
    if max_tracks is not None and max_tracks < 1:
        raise ConfigError(f"tracking: max_tracks must be a number of animals >= 1, got {max_tracks}")
    if gate <= 0 or margin < 0:
        raise ConfigError(f"tracking: gate must be > 0 and margin >= 0, got gate={gate}, margin={margin}")
    if velocity_frames < 1 or not 0 <= velocity_decay <= 1:
        raise ConfigError(
            f"tracking: velocity_frames must be >= 1 and velocity_decay in [0, 1], "
            f"got {velocity_frames} and {velocity_decay}"
        )
    out, tracks, k = Tracks(), [], None
    for f, (coords, scores) in enumerate(frames):
        coords, scores = _checked(f, coords, scores, k)
        k = coords.shape[1] if len(coords) else k
        ids = np.full(len(scores), -1, dtype=np.int64)
        out.ids.append(ids)
        usable = np.flatnonzero(np.isfinite(coords).all(-1).any(-1))
        if max_tracks is not None and usable.size > max_tracks:
            ranked = usable[np.argsort(-np.nan_to_num(scores[usable], nan=-np.inf), kind="stable")]
            out.dropped += usable.size - max_tracks
            usable = np.sort(ranked[:max_tracks])
        if not usable.size:
            continue
        moved = np.array([t.velocity * t.travel(f, velocity_decay) for t in tracks]).reshape(-1, 2)  # (T, 2)
        predicted = np.array([t.position for t in tracks]).reshape(-1, coords.shape[1], 2) + moved[:, None]
        centres = np.array([t.centre for t in tracks]).reshape(-1, 2) + moved
        points = coords[usable]
        cost = _costs(points, np.array([_centre(p) for p in points]), predicted, centres)
        span = np.maximum([_span(p) for p in points], MIN_SIZE_PX)
        size = np.maximum(span[:, None], [t.span for t in tracks])
        pairs, ambiguous = _assign(np.where(cost <= gate * size, cost, np.inf), margin * float(span.mean()))
        out.ambiguous += ambiguous
        for r, c in pairs:
            out.relinked += tracks[c].last_frame < f - 1
            tracks[c].update(f, coords[usable[r]], velocity_frames)
            ids[usable[r]] = c
        matched_rows, matched_cols = {r for r, _ in pairs}, {c for _, c in pairs}
        rest = [r for r in range(len(usable)) if r not in matched_rows]
        free = [c for c in range(len(tracks)) if c not in matched_cols]
        if max_tracks is not None and rest and free:
            rows, cols = linear_sum_assignment(cost[np.ix_(rest, free)])
            for r, c in zip(np.asarray(rest)[rows], np.asarray(free)[cols], strict=True):
                out.relinked += tracks[c].last_frame < f - 1
                tracks[c].update(f, coords[usable[r]], velocity_frames, restart=True)
                ids[usable[r]] = c
            rest = [r for i, r in enumerate(rest) if i not in set(rows.tolist())]
        for r in rest:  # with max_tracks these fit: an instance left over means fewer than N tracks exist
            ids[usable[r]] = len(tracks)
            tracks.append(_Track(f, coords[usable[r]]))
    out.num_tracks = out.tracks_started = len(tracks)
    return out


def assemble(
    frames: Sequence[tuple[np.ndarray, np.ndarray]], tracks: Tracks, num_keypoints: int
) -> tuple[np.ndarray, np.ndarray]:
    """frames as given to ``track`` and its result -> coords (F, N, K, 2), scores (F, N) per track,
    NaN where a track is absent (N = tracks.num_tracks)."""
    if len(frames) != len(tracks.ids):
        raise DataError(f"tracking: {len(frames)} frames but tracks for {len(tracks.ids)}")
    coords = np.full((len(frames), tracks.num_tracks, num_keypoints, 2), np.nan)
    scores = np.full((len(frames), tracks.num_tracks), np.nan)
    for f, ((points, score), ids) in enumerate(zip(frames, tracks.ids, strict=True)):
        points, score = _checked(f, points, score, num_keypoints)
        if len(ids) != len(score):
            raise DataError(f"tracking: frame {f} has {len(score)} instances but {len(ids)} track ids")
        kept = ids >= 0
        coords[f, ids[kept]] = points[kept]
        scores[f, ids[kept]] = score[kept]
    return coords, scores
