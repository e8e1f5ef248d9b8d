"""seqattn.evaluation.calibration: the likelihood measured against the error: AUROC, deciles, pcutoff
from validation, Platt scaling."""

import math

import numpy as np
import pytest
import torch

from seqattn.evaluation.calibration import (
    auroc,
    calibrate,
    calibration_table,
    choose_pcutoff,
    fit_calibration,
    fit_platt,
)
from seqattn.evaluation.point_errors import PointErrors


def points_with(errors: np.ndarray, confidence: np.ndarray) -> PointErrors:
    """One keypoint per image: errors (N,) px along x, confidence (N,)."""
    n = len(errors)
    dxy = torch.zeros(n, 1, 2, dtype=torch.float64)
    dxy[:, 0, 0] = torch.from_numpy(errors)
    return PointErrors(
        ["a"],
        torch.arange(n),
        torch.zeros(n, 1, 2),
        dxy.float(),
        torch.ones(n, 1, dtype=torch.bool),
        torch.zeros(n, 1),
        torch.full((n,), 100.0),
        torch.from_numpy(confidence).float()[:, None],
    )


def test_auroc_matches_counting_pairs():
    rng = np.random.default_rng(0)
    scores, positive = rng.integers(0, 5, 60).astype(float), rng.random(60) < 0.4  # many ties
    pairs = [(p > q) + 0.5 * (p == q) for p in scores[positive] for q in scores[~positive]]
    assert auroc(scores, positive) == pytest.approx(np.mean(pairs))
    assert math.isnan(auroc(scores, np.ones(60, bool)))


def test_a_likelihood_that_ranks_the_errors_scores_one_and_picks_its_cutoff():
    errors = np.array([1.0] * 80 + [20.0] * 20)
    confidence = np.concatenate([np.linspace(0.6, 1.0, 80), np.linspace(0.0, 0.5, 20)])
    table = calibration_table(points_with(errors, confidence))
    assert table["auroc"] == pytest.approx(1.0) and table["points"] == 100 and len(table["deciles"]) == 10
    assert table["deciles"][0]["mean_px"] == 20.0 and table["deciles"][-1]["good_share"] == 1.0
    chosen = choose_pcutoff(points_with(errors, confidence))
    # keep as many points as possible with >= 90 % good: all 80 good ones and 8 bad (80 / 88 = 0.909)
    assert chosen["kept_share"] == pytest.approx(0.88) and chosen["pcutoff"] == pytest.approx(np.sort(confidence)[12])
    shuffled = calibration_table(points_with(errors, np.random.default_rng(1).random(100)))
    assert 0.3 < shuffled["auroc"] < 0.7  # a likelihood unrelated to the error is no better than chance


def test_platt_scaling_recovers_a_known_miscalibration_and_keeps_the_ranking():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.02, 0.98, 4000)
    truth = 1 / (1 + np.exp(-(3 * np.log(raw / (1 - raw)) - 1)))  # P(good) for each raw confidence
    good = rng.random(4000) < truth
    platt = fit_platt(raw, good)
    assert platt["a"] == pytest.approx(3, abs=0.3) and platt["b"] == pytest.approx(-1, abs=0.2)
    errors = np.where(good, 1.0, 20.0)
    points = points_with(errors, raw)
    fitted = fit_calibration(points)
    before, after = calibration_table(points), calibration_table(points, calibration=fitted)
    assert before["expected_calibration_error"] > 0.1 and after["expected_calibration_error"] < 0.03
    assert after["auroc"] == pytest.approx(before["auroc"], abs=1e-3) and after["calibrated"]
    # the pcutoff lives on the scaled likelihood: above it 90 % of points are good
    kept = calibrate(raw, fitted) >= fitted["pcutoff"]
    assert good[kept].mean() >= 0.89 and kept.mean() == pytest.approx(fitted["kept_share"], abs=1e-3)  # float32 ties


def test_small_or_separable_validation_sets_still_give_a_usable_scaling():
    separable = fit_platt(np.linspace(0.05, 0.95, 30), np.arange(30) >= 15)
    assert np.isfinite([separable["a"], separable["b"]]).all() and separable["a"] > 0
    few = fit_calibration(points_with(np.array([1.0, 9.0, 1.0]), np.array([0.9, 0.2, 0.8])))
    assert few["platt"] is None and "too few" in few["platt_reason"] and 0 <= few["pcutoff"] <= 1
    assert np.array_equal(calibrate(np.array([0.3, 0.7]), few), [0.3, 0.7])  # no scaling: raw confidence
    reversed_ = fit_calibration(points_with(np.where(np.arange(60) < 30, 1.0, 9.0), np.linspace(0.05, 0.95, 60)))
    assert reversed_["platt"] is None and "no increasing map" in reversed_["platt_reason"]  # never flips the order
    saturated = fit_platt(
        np.r_[np.ones(200), np.full(50, 1 - 1e-9), [0.2, 0.4]], np.r_[np.ones(240, bool), np.zeros(12, bool)]
    )
    assert saturated is None or np.isfinite([saturated["a"], saturated["b"]]).all()
