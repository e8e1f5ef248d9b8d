"""A label-free measure of a video's predictions: how much they jump from frame to frame.

A keypoint on a real animal moves little between consecutive frames; a model that is unsure
flickers between places. Without labels, the jitter of its predictions shows that flicker:

- ``median_step_px``: per keypoint, the median displacement between consecutive frames (original
  pixels), over the frame pairs where both predictions exist;
- ``jump_share``: the share of those displacements larger than ``JUMP_FRACTION`` of the animal's
  size (the median over frames of the predicted points' bounding-box long side).
"""

from __future__ import annotations

import numpy as np

JUMP_FRACTION = 0.1  # of the animal's size


def temporal_jitter(xy: np.ndarray, names: list[str]) -> dict:
    """xy (N, K, 2) predictions in frame order, NaN where missing -> the jitter record (JSON-ready)."""
    if xy.ndim != 3 or xy.shape[1] != len(names) or xy.shape[2] != 2:
        raise ValueError(f"expected (frames, {len(names)}, 2) predictions, got {xy.shape}")
    steps = np.linalg.norm(np.diff(xy, axis=0), axis=2)  # (N - 1, K), NaN where a frame lacks the point
    seen = np.isfinite(xy).all(2)  # (N, K)
    spans = [float(np.ptp(p[s], axis=0).max()) for p, s in zip(xy, seen, strict=True) if s.sum() >= 2]
    size = float(np.median(spans)) if spans else float("nan")
    counted = np.isfinite(steps)
    per_point = {
        name: float(np.median(steps[counted[:, k], k])) if counted[:, k].any() else None for k, name in enumerate(names)
    }
    finite = steps[counted]
    jumps = float((finite > JUMP_FRACTION * size).mean()) if finite.size and np.isfinite(size) else None
    return {
        "median_step_px": float(np.median(finite)) if finite.size else None,
        "median_step_px_per_keypoint": per_point,
        "jump_share": jumps,
        "jump_px": JUMP_FRACTION * size if np.isfinite(size) else None,
        "animal_size_px": size if np.isfinite(size) else None,
        "frame_pairs": int(counted.any(1).sum()),
        "definition": f"displacement between consecutive frames; a jump is one above {JUMP_FRACTION:g} of the"
        " animal's size (median bounding-box long side of the predictions)",
    }
