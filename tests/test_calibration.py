"""The likelihood measured against the error: AUROC, deciles, pcutoff from validation, files."""

import json
import math

import numpy as np
import pytest
import torch

from seqattn.calibration import auroc, calibration_table, choose_pcutoff
from seqattn.metrics import PointErrors
from seqattn.results import CALIBRATION_FILE, CALIBRATION_PLOT


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


def test_run_folder_and_checkpoint_hold_the_calibration(make_cfg, tmp_path):
    from seqattn.inference.batch import load_checkpoint
    from seqattn.train import train

    summary = train(make_cfg("trainer.max_epochs=2"))
    run = tmp_path / "run"
    record = json.loads((run / CALIBRATION_FILE).read_text())
    assert record["points"] > 0 and 0 <= record["auroc"] <= 1 and record["checkpoint"] == summary.best_checkpoint
    assert (run / CALIBRATION_PLOT).stat().st_size > 0
    assert 0 <= record["pcutoff_from_validation"]["pcutoff"] <= 1
    assert "test/likelihood_auroc" in summary.test_metrics
    module = load_checkpoint(summary.best_checkpoint)
    assert module.calibration == record["pcutoff_from_validation"]  # predict.py's default pcutoff
