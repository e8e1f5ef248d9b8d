"""seqattn.training.test_results: the test's files in the run folder and the calibration in the checkpoint."""

import json

from seqattn.training.test_results import CALIBRATION_FILE, CALIBRATION_PLOT


def test_run_folder_and_checkpoint_hold_the_calibration(tiny_run):
    from seqattn.inference.batch import load_checkpoint

    summary, run = tiny_run
    record = json.loads((run / CALIBRATION_FILE).read_text())
    assert record["points"] > 0 and 0 <= record["auroc"] <= 1 and record["checkpoint"] == summary.best_checkpoint
    assert (run / CALIBRATION_PLOT).stat().st_size > 0
    assert 0 <= record["pcutoff_from_validation"]["pcutoff"] <= 1
    assert "test/likelihood_auroc" in summary.test_metrics
    module = load_checkpoint(summary.best_checkpoint)
    assert module.calibration == record["pcutoff_from_validation"]  # predict.py's default pcutoff
    assert "platt" in module.calibration and record["calibrated"] == bool(module.calibration["platt"])
    assert 0 <= record["expected_calibration_error"] <= 1 and "raw_confidence" in record
