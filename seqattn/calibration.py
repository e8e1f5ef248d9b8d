"""Does the likelihood predict the error? AUROC, error per likelihood decile, a reliability plot,
and the pcutoff chosen on validation predictions.

The likelihood is the model's per-keypoint confidence (``predict.py`` writes it as DeepLabCut's
``likelihood``). A point is "good" when its error is at most ``GOOD_PX`` original pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqattn.metrics import PointErrors

GOOD_PX = 5.0  # "error > 5 px" is what the AUROC separates
WANTED_GOOD = 0.9  # pcutoff: the lowest likelihood above which this share of points is good
FALLBACK_PCUTOFF = 0.6  # DeepLabCut's default, when the validation set cannot choose one


def _points(points: PointErrors) -> tuple[np.ndarray, np.ndarray]:
    """(likelihood, error px) of every labelled point with a likelihood, as flat arrays."""
    dist = points.distances()  # (N, K), NaN where not labelled
    keep = points.visible & torch.isfinite(points.confidence)
    return points.confidence[keep].double().numpy(), dist[keep].double().numpy()


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counted half (Mann-Whitney)."""
    pos, neg = int(positive.sum()), int((~positive).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(first, counts, strict=True):
        ranks[order[start : start + count]] = start + (count + 1) / 2
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * neg))


def calibration_table(points: PointErrors, good_px: float = GOOD_PX) -> dict[str, Any]:
    """AUROC of the likelihood for telling good points (<= good_px) from bad, and per decile of the
    likelihood: its range, the number of points, the mean and median error, the share that is good."""
    likelihood, error = _points(points)
    if likelihood.size == 0:
        return {"points": 0, "auroc": None, "deciles": []}
    good = error <= good_px
    edges = np.quantile(likelihood, np.linspace(0, 1, 11))
    which = np.clip(np.searchsorted(edges, likelihood, side="right") - 1, 0, 9)
    deciles = []
    for d in range(10):
        sel = which == d
        if sel.any():
            deciles.append(
                {
                    "decile": d + 1,
                    "likelihood_from": float(likelihood[sel].min()),
                    "likelihood_to": float(likelihood[sel].max()),
                    "likelihood_mean": float(likelihood[sel].mean()),
                    "points": int(sel.sum()),
                    "mean_px": float(error[sel].mean()),
                    "median_px": float(np.median(error[sel])),
                    "good_share": float(good[sel].mean()),
                }
            )
    return {
        "points": int(likelihood.size),
        "good_px": good_px,
        "good_share": float(good.mean()),
        "auroc": auroc(likelihood, good),  # high likelihood should mean a good point
        "deciles": deciles,
    }


def choose_pcutoff(points: PointErrors, good_px: float = GOOD_PX, wanted: float = WANTED_GOOD) -> dict[str, Any]:
    """The lowest likelihood c such that, of the points with likelihood >= c, ``wanted`` are good:
    DeepLabCut's pcutoff, chosen on (validation) predictions rather than guessed."""
    likelihood, error = _points(points)
    chosen = {"good_px": good_px, "wanted_good_share": wanted, "points": int(likelihood.size)}
    if likelihood.size == 0:
        return {**chosen, "pcutoff": FALLBACK_PCUTOFF, "reason": "no likelihoods: DeepLabCut's default"}
    order = np.argsort(-likelihood, kind="mergesort")
    good = (error[order] <= good_px).astype(np.float64)
    share = np.cumsum(good) / np.arange(1, good.size + 1)  # good share among the top-n by likelihood
    ok = np.flatnonzero(share >= wanted)
    if ok.size == 0:
        return {**chosen, "pcutoff": 1.0, "kept_share": 0.0, "reason": f"no likelihood reaches {wanted:.0%} good"}
    n = int(ok.max()) + 1  # keep the most points that still meet the share
    return {
        **chosen,
        "pcutoff": float(likelihood[order][n - 1]),
        "kept_share": n / likelihood.size,
        "reason": f"{wanted:.0%} of the points above it are within {good_px:g} px",
    }


def plot_reliability(table: dict[str, Any], path: Path, title: str = "") -> Path:
    """Share of good points and mean error against the likelihood, per decile."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table["deciles"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    x = [r["likelihood_mean"] for r in rows]
    ax.plot([0, 1], [0, 1], color="0.8", lw=1, ls="--", label="ideal (share = likelihood)")
    ax.plot(x, [r["good_share"] for r in rows], "o-", color="tab:blue", label=f"share within {table['good_px']:g} px")
    ax.set_xlim(0, 1), ax.set_ylim(0, 1.02)
    ax.set_xlabel("likelihood (decile mean)")
    ax.set_ylabel(f"share of points within {table['good_px']:g} px", color="tab:blue")
    twin = ax.twinx()
    twin.plot(x, [r["mean_px"] for r in rows], "s-", color="tab:orange", label="mean error")
    twin.set_ylabel("mean error, px", color="tab:orange")
    auc = table["auroc"]
    ax.set_title(f"{title}  AUROC (error <= {table['good_px']:g} px) = {auc:.3f}" if auc == auc else title, fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
