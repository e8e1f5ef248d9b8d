"""Evaluation on full frames with several animals, as SLEAP and COCO do it: which prediction is which
labelled animal, the object keypoint similarity (OKS), recall, precision, OKS mAP and identity switches.

Per frame: predicted instances (n, K, 2) original pixels (NaN = not predicted) with scores (n,), and
labelled ones (m, K, 2) (NaN = not labelled). A labelled animal without any labelled keypoint is left
out (COCO ignores such annotations too).

``FullFrameMetrics`` / ``frame_metrics`` give ``matched_epe_px_{mean,median,p90}`` (errors of the pairs
``match`` finds, at keypoints labelled in the truth and predicted), ``instance_recall`` and
``instance_precision`` (true positive: matched with OKS >= 0.5), ``oks_map`` (COCO's AP averaged over
OKS 0.50:0.05:0.95, with COCO's own greedy matching by score at each threshold, every frame's
predictions ranked together; no cap on detections per frame, no area ranges), the counts, and
``identity_switches``. Ratios are NaN when their denominator is 0.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from seqattn.errors import DataError

# COCO's per-keypoint constant is k_i = 2 sigma_i; one sigma for every keypoint, SLEAP's default
# (sleap.nn.evals.compute_oks, stddev=0.025): there are no per-part sigmas measured for animals.
OKS_K = 2 * 0.025
TRUE_POSITIVE_OKS = 0.5  # a prediction is a true positive when matched with at least this OKS
OKS_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # COCO's 0.50:0.05:0.95
RECALL_POINTS = np.linspace(0.0, 1.0, 101)  # COCO's interpolated precision is read at these recalls
MIN_AREA_PX2 = 1.0  # the area of a truth whose labelled points span no box (one point, or a line)


def _instances(name: str, f: int, coords, k: int | None) -> np.ndarray:
    coords = np.asarray(coords, dtype=np.float64)
    if coords.size == 0:
        return coords.reshape(0, k or 0, 2)
    if coords.ndim != 3 or coords.shape[-1] != 2 or (k is not None and coords.shape[1] != k):
        want = "(n, K, 2)" if k is None else f"(n, {k}, 2)"
        raise DataError(f"full-frame metrics: frame {f}: {name} must be {want}, got shape {coords.shape}")
    return coords


def _per_instance(name: str, f: int, values, n: int) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != (n,):
        raise DataError(f"full-frame metrics: frame {f}: {name} must be ({n},), got shape {values.shape}")
    return values


def oks(pred: np.ndarray, truth: np.ndarray, k: float = OKS_K) -> np.ndarray:
    """pred (n, K, 2), truth (m, K, 2) original pixels, NaN = missing -> (n, m) OKS.

    COCO's definition (cocoeval.computeOks): OKS = mean over the keypoints labelled in the truth of
    exp(-d^2 / (2 s^2 k^2)), d the distance to the prediction (a keypoint not predicted scores 0) and
    s^2 the object's area, here the area of the box around the truth's labelled points (at least
    ``MIN_AREA_PX2``), as SLEAP takes it.
    """
    labelled = np.isfinite(truth).all(-1)  # (m, K)
    low = np.where(labelled[..., None], truth, np.inf).min(1, initial=np.inf)
    high = np.where(labelled[..., None], truth, -np.inf).max(1, initial=-np.inf)
    area = np.where(labelled.any(1), np.prod(high - low, axis=-1), 0.0)  # (m,)
    d2 = ((pred[:, None] - truth[None]) ** 2).sum(-1)  # (n, m, K), NaN where either is missing
    similarity = np.exp(-d2 / (2 * np.maximum(area, MIN_AREA_PX2)[:, None] * k**2))
    return np.nan_to_num(similarity, nan=0.0).sum(-1) / np.maximum(labelled.sum(1), 1)


def _mean_distance(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(n, K, 2), (m, K, 2) -> (n, m) mean distance over keypoints labelled and predicted, NaN if none."""
    d = np.linalg.norm(pred[:, None] - truth[None], axis=-1)  # (n, m, K)
    both = np.isfinite(d)
    with np.errstate(invalid="ignore"):
        return np.where(both, d, 0.0).sum(-1) / both.sum(-1)


def match(pred: np.ndarray, truth: np.ndarray, k: float = OKS_K) -> list[tuple[int, int]]:
    """pred (n, K, 2), truth (m, K, 2) -> pairs (i_pred, j_true) of the optimal matching (Hungarian)
    on the mean distance over the keypoints labelled in the truth.

    A pair whose OKS is 0 is refused: no labelled keypoint predicted, or all of them so far that
    exp(-d^2 / (2 s^2 k^2)) is 0 in float64 (d beyond about 38.6 s k, about twice the animal's size).
    """
    cost = _mean_distance(pred, truth)
    allowed = np.isfinite(cost) & (oks(pred, truth, k) > 0)
    if not allowed.any():
        return []
    refused = 1.0 + cost[allowed].sum()  # above any sum of allowed pairs: as many pairs as possible first
    rows, cols = linear_sum_assignment(np.where(allowed, cost, refused))
    keep = allowed[rows, cols]
    return list(zip(rows[keep].tolist(), cols[keep].tolist(), strict=True))


def _average_precision(frames: list[tuple[np.ndarray, np.ndarray]], num_true: int, threshold: float) -> float:
    """COCO's AP at one OKS threshold: in each frame, predictions by decreasing score take the free
    truth of highest OKS >= threshold; then all predictions ranked by score, precision made monotone,
    read at 101 recalls (0 beyond the largest recall reached)."""
    ranked_scores, hits = [], []
    for similarity, scores in frames:
        taken = np.zeros(similarity.shape[1], dtype=bool)
        for i in np.argsort(-scores, kind="mergesort"):
            free = np.where(taken, -1.0, similarity[i])
            j = int(np.argmax(free)) if free.size else -1
            hit = j >= 0 and bool(free[j] >= threshold)
            if hit:
                taken[j] = True
            ranked_scores.append(scores[i])
            hits.append(hit)
    if not hits:
        return 0.0
    order = np.argsort(-np.asarray(ranked_scores), kind="mergesort")
    hit = np.asarray(hits)[order]
    tp, fp = np.cumsum(hit), np.cumsum(~hit)
    recall, precision = tp / num_true, tp / (tp + fp)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    at = np.searchsorted(recall, RECALL_POINTS, side="left")
    return float(np.where(at < len(precision), precision[np.minimum(at, len(precision) - 1)], 0.0).mean())


class FullFrameMetrics:
    """Accumulates frames (``add``), then ``compute`` -> a plain dict of floats and counts.

    ``identity_switches`` counts, for each true identity (name, within its ``sequence``), the frames
    where it is matched to a predicted track other than the one it was last matched to (frames without
    it in between do not reset this, as CLEAR-MOT counts them). Two animals whose predicted tracks swap
    once are therefore 2 switches. Predictions with track -1 carry no identity. NaN when no frame came
    with both predicted tracks and true names.
    """

    def __init__(self, k: float = OKS_K) -> None:
        self.k = k
        self.errors: list[np.ndarray] = []  # per frame, the matched keypoints' errors, pixels
        self.num_frames = self.num_true = self.num_pred = self.num_matched = self.true_positives = 0
        self._ranked: list[tuple[np.ndarray, np.ndarray]] = []  # per frame: OKS (n, m), scores (n,)
        self._last_track: dict[tuple[Hashable, Hashable], Hashable] = {}
        self._switches: int | None = None

    def add(
        self,
        pred: np.ndarray,
        scores: np.ndarray,
        truth: np.ndarray,
        pred_tracks: np.ndarray | None = None,
        true_tracks: Sequence[Hashable] | None = None,
        sequence: Hashable = None,
    ) -> None:
        """One frame: pred (n, K, 2), scores (n,), truth (m, K, 2) original pixels, NaN = missing;
        pred_tracks (n,) predicted track ids (-1: none), true_tracks (m,) true identities; ``sequence``
        names the video the identities belong to."""
        f = self.num_frames
        truth = _instances("truth", f, truth, None)
        pred = _instances("pred", f, pred, truth.shape[1] if len(truth) else None)
        truth = _instances("truth", f, truth, pred.shape[1] if len(pred) else None)
        scores = _per_instance("scores", f, scores, len(pred)).astype(np.float64)
        kept = np.isfinite(truth).all(-1).any(-1)  # truths with a labelled keypoint
        tracked = pred_tracks is not None and true_tracks is not None
        if tracked:
            pred_tracks = _per_instance("pred_tracks", f, pred_tracks, len(pred)).tolist()
            true_tracks = _per_instance("true_tracks", f, np.asarray(true_tracks, dtype=object), len(kept))[kept]
        truth = truth[kept]
        similarity = oks(pred, truth, self.k)
        pairs = match(pred, truth, self.k)
        self.num_frames += 1
        self.num_true += len(truth)
        self.num_pred += len(pred)
        self.num_matched += len(pairs)
        self.true_positives += sum(int(similarity[i, j] >= TRUE_POSITIVE_OKS) for i, j in pairs)
        self._ranked.append((similarity, np.nan_to_num(scores, nan=-np.inf)))
        for i, j in pairs:
            d = np.linalg.norm(pred[i] - truth[j], axis=-1)
            self.errors.append(d[np.isfinite(d)])
        if not tracked:
            return
        self._switches = self._switches or 0
        for i, j in pairs:
            if pred_tracks[i] == -1:
                continue
            key = (sequence, true_tracks[j])
            self._switches += int(key in self._last_track and self._last_track[key] != pred_tracks[i])
            self._last_track[key] = pred_tracks[i]

    def compute(self) -> dict[str, float]:
        errors = np.concatenate(self.errors) if self.errors else np.zeros(0)

        def stat(fn) -> float:
            return float(fn(errors)) if errors.size else float("nan")

        def ratio(a: int, b: int) -> float:
            return a / b if b else float("nan")

        ap = [_average_precision(self._ranked, self.num_true, t) for t in OKS_THRESHOLDS] if self.num_true else []
        return {
            "matched_epe_px_mean": stat(np.mean),
            "matched_epe_px_median": stat(np.median),
            "matched_epe_px_p90": stat(lambda e: np.percentile(e, 90)),
            "instance_recall": ratio(self.true_positives, self.num_true),
            "instance_precision": ratio(self.true_positives, self.num_pred),
            "oks_map": float(np.mean(ap)) if ap else float("nan"),
            "num_frames": self.num_frames,
            "num_true": self.num_true,
            "num_pred": self.num_pred,
            "num_matched": self.num_matched,
            "identity_switches": float("nan") if self._switches is None else self._switches,
        }


def frame_metrics(
    pred: Sequence[np.ndarray],
    scores: Sequence[np.ndarray],
    truth: Sequence[np.ndarray],
    pred_tracks: Sequence[np.ndarray] | None = None,
    true_tracks: Sequence[Sequence[Hashable]] | None = None,
    k: float = OKS_K,
) -> dict[str, float]:
    """The metrics of a sequence of frames (one video): per frame, the arguments of
    ``FullFrameMetrics.add``; pred_tracks and true_tracks are given for every frame or for none."""
    if not len(pred) == len(scores) == len(truth):
        raise DataError(f"full-frame metrics: {len(pred)} predicted frames, {len(scores)} scores, {len(truth)} truths")
    metrics = FullFrameMetrics(k)
    for f in range(len(pred)):
        tracks = (None, None) if pred_tracks is None or true_tracks is None else (pred_tracks[f], true_tracks[f])
        metrics.add(pred[f], scores[f], truth[f], *tracks)
    return metrics.compute()
