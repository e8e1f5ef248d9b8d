"""Does the likelihood predict the error? AUROC, error per likelihood decile, a reliability plot,
a post-hoc calibration and the pcutoff, both fitted on validation predictions.

The model's per-keypoint confidence is trained towards exp(-(error / scale)^2), a closeness, not
a probability. Every checkpoint stores a Platt scaling fitted on its validation predictions,
P(error <= ``GOOD_PX`` original pixels) = sigmoid(a logit(confidence) + b), and ``predict.py``
writes that as DeepLabCut's ``likelihood``: 0.9 then means "9 in 10 such points are within 5 px".
The map is increasing, so it keeps the ranking (and the AUROC) of the raw confidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from seqattn.io.files import save_figure

if TYPE_CHECKING:  # seqattn.evaluation.metrics imports this module
    from seqattn.evaluation.point_errors import PointErrors

GOOD_PX = 5.0  # "error > 5 px" is what the AUROC separates
WANTED_GOOD = 0.9  # pcutoff: the lowest likelihood above which this share of points is good
FALLBACK_PCUTOFF = 0.6  # DeepLabCut's default, when the validation set cannot choose one
MIN_CALIBRATION_POINTS = 20  # fewer validation points (or all good, or all bad): no Platt scaling


def _points(points: PointErrors, calibration: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(likelihood, error px) of every labelled point with a likelihood, as flat arrays."""
    dist = points.distances()  # (N, K), NaN where not labelled
    keep = points.visible & torch.isfinite(points.confidence)
    return calibrate(points.confidence[keep].double().numpy(), calibration), dist[keep].double().numpy()


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


def likelihood_auroc(points: PointErrors, good_px: float = GOOD_PX) -> float:
    """AUROC of the raw confidence for telling good points (<= good_px) from bad; NaN when there
    are no likelihoods, or no good or no bad points."""
    likelihood, error = _points(points)
    return auroc(likelihood, error <= good_px)


def calibration_table(points: PointErrors, good_px: float = GOOD_PX, calibration: dict | None = None) -> dict[str, Any]:
    """AUROC of the likelihood for telling good points (<= good_px) from bad, and per decile of the
    likelihood: its range, the number of points, the mean and median error, the share that is good.
    With a checkpoint's ``calibration``, of the likelihood ``predict.py`` writes (Platt-scaled);
    ``expected_calibration_error`` is the point-weighted gap between decile mean and good share."""
    likelihood, error = _points(points, calibration)
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
    gap = sum(r["points"] * abs(r["likelihood_mean"] - r["good_share"]) for r in deciles) / likelihood.size
    return {
        "points": int(likelihood.size),
        "good_px": good_px,
        "good_share": float(good.mean()),
        "auroc": auroc(likelihood, good),  # high likelihood should mean a good point
        "expected_calibration_error": float(gap),  # 0 when the likelihood is the share of good points
        "calibrated": bool((calibration or {}).get("platt")),
        "deciles": deciles,
    }


def _logit(p: np.ndarray) -> np.ndarray:
    return _logit_tensor(torch.as_tensor(np.ascontiguousarray(p))).numpy()


def _logit_tensor(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp(1e-6, 1 - 1e-6)
    return torch.log(p / (1 - p))


def fit_platt(likelihood: np.ndarray, good: np.ndarray, prior: float = 1.0) -> dict[str, float] | None:
    """a, b of P(good) = sigmoid(a logit(likelihood) + b) by damped Newton steps on the log-loss,
    with Platt's smoothed targets and a weak pull (``prior``) towards the identity a = 1, b = 0, so
    that a small or separable validation set still gives finite numbers. None when the fit does not
    converge to a finite, increasing map (a > 0): the raw confidence is then kept."""
    x = np.stack([_logit(likelihood), np.ones_like(likelihood)], 1)  # (N, 2)
    pos, neg = int(good.sum()), int((~good).sum())
    target = np.where(good, (pos + 1) / (pos + 2), 1 / (neg + 2))  # Platt (1999)
    w0 = np.array([1.0, 0.0])

    def objective(w: np.ndarray) -> float:
        z = x @ w
        return float(np.sum(np.logaddexp(0, z) - target * z) + 0.5 * prior * np.sum((w - w0) ** 2))

    w, value = w0.copy(), objective(w0)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ (p - target) + prior * (w - w0)
        hess = (x * (p * (1 - p))[:, None]).T @ x + prior * np.eye(2)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while objective(w - t * step) > value and t > 1e-8:  # backtracking: never a worse fit
            t *= 0.5
        w, previous, value = w - t * step, value, objective(w - t * step)
        if previous - value < 1e-12 * max(1.0, abs(value)):
            break
    if not np.isfinite(w).all() or w[0] <= 0:
        return None
    return {"a": float(w[0]), "b": float(w[1])}


def calibrate(confidence: np.ndarray, calibration: dict[str, Any] | None) -> np.ndarray:
    """Raw model confidence -> the likelihood written and measured: Platt-scaled when the checkpoint
    has a scaling (checkpoints saved before it existed keep their raw confidence)."""
    return calibrate_tensor(torch.as_tensor(np.ascontiguousarray(confidence)), calibration).numpy()


def calibrate_tensor(confidence: torch.Tensor, calibration: dict[str, Any] | None) -> torch.Tensor:
    """``calibrate`` on a tensor of any shape and float dtype (exported models compute it in their graph)."""
    platt = (calibration or {}).get("platt")
    if not platt:
        return confidence
    return torch.sigmoid(platt["a"] * _logit_tensor(confidence) + platt["b"])


def fit_calibration(points: PointErrors, good_px: float = GOOD_PX) -> dict[str, Any]:
    """What a checkpoint stores from its validation predictions: the Platt scaling and the pcutoff
    chosen on the scaled likelihood (the one ``predict.py`` writes)."""
    likelihood, error = _points(points)
    good = error <= good_px
    platt = None
    if likelihood.size < MIN_CALIBRATION_POINTS or good.all() or not good.any():
        why = f"{likelihood.size} validation points, {int(good.sum())} within {good_px:g} px"
        why += ": too few (or all on one side of it) to fit"
    else:
        platt = fit_platt(likelihood, good)
        why = (
            f"fitted on {likelihood.size} validation points: P(error <= {good_px:g} px)"
            if platt
            else "the fit gave no increasing map: raw confidence kept"
        )
    return {**choose_pcutoff(points, good_px, calibration={"platt": platt}), "platt": platt, "platt_reason": why}


def choose_pcutoff(
    points: PointErrors, good_px: float = GOOD_PX, wanted: float = WANTED_GOOD, calibration: dict | None = None
) -> dict[str, Any]:
    """The lowest likelihood c such that, of the points with likelihood >= c, ``wanted`` are good:
    DeepLabCut's pcutoff, chosen on (validation) predictions rather than guessed."""
    likelihood, error = _points(points, calibration)
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
    ax.set_xlabel("likelihood (decile mean)" + (", Platt-scaled on validation" if table.get("calibrated") else ""))
    ax.set_ylabel(f"share of points within {table['good_px']:g} px", color="tab:blue")
    twin = ax.twinx()
    twin.plot(x, [r["mean_px"] for r in rows], "s-", color="tab:orange", label="mean error")
    twin.set_ylabel("mean error, px", color="tab:orange")
    auc = table["auroc"]
    ece = table.get("expected_calibration_error", float("nan"))
    ax.set_title(
        f"{title}  AUROC (error <= {table['good_px']:g} px) = {auc:.3f}, ECE = {ece:.3f}" if auc == auc else title,
        fontsize=9,
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path
