"""Temporal filtering of a predicted track: median or Savitzky-Golay over a window of frames.

Points below ``pcutoff`` (and frames that failed to decode) are not smoothed into the track: they
are first replaced by linear interpolation between the trusted points around them, then the
whole series is filtered. Before the first and after the last trusted point the track stays NaN.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter
from scipy.signal import savgol_filter

from seqattn.errors import ConfigError

FILTERS = ("median", "savgol")


def _fill(series: np.ndarray, trusted: np.ndarray) -> np.ndarray:
    """(N,) values; trusted (N,) bool -> interior gaps interpolated, ends outside trusted points NaN."""
    out = np.full_like(series, np.nan)
    idx = np.flatnonzero(trusted)
    if idx.size == 0:
        return out
    inside = np.arange(idx[0], idx[-1] + 1)
    out[inside] = np.interp(inside, idx, series[idx])
    return out


def filter_track(coords: np.ndarray, likelihood: np.ndarray, kind: str, window: int, pcutoff: float) -> np.ndarray:
    """coords (N, K, 2), likelihood (N, K) -> filtered coords (N, K, 2)."""
    if kind not in FILTERS:
        raise ConfigError(f"--filter must be one of {', '.join(FILTERS)}, got {kind!r}")
    if window < 3 or window % 2 == 0:
        raise ConfigError(f"--filter-window must be an odd number of frames >= 3, got {window}")
    n, k, _ = coords.shape
    out = np.full_like(coords, np.nan, dtype=np.float64)
    trusted_all = np.isfinite(coords).all(-1) & (likelihood >= pcutoff)  # (N, K)
    for j in range(k):
        for axis in range(2):
            filled = _fill(coords[:, j, axis].astype(np.float64), trusted_all[:, j])
            span = np.flatnonzero(np.isfinite(filled))
            if span.size == 0:
                continue
            part = filled[span[0] : span[-1] + 1]
            w = min(window, part.size if part.size % 2 else part.size - 1)
            if w >= 3:
                part = (
                    median_filter(part, size=w, mode="nearest")
                    if kind == "median"
                    else savgol_filter(part, w, polyorder=min(2, w - 1), mode="interp")
                )
            out[span[0] : span[-1] + 1, j, axis] = part
    return out
