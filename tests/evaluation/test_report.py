"""report.md: the run's numbers as in summary.json, and a warning when training ran far past its best."""

import numpy as np

from seqattn.evaluation.report import HISTORY_FILE, format_report, num, overfitting_warning, write_report
from seqattn.io.images import read_image

SUMMARY = {
    "monitor": "val/epe_px",
    "best_score": 3.2109,
    "best_epoch": 10,
    "last_epoch": 55,
    "stopped_early": True,
    "stop_reason": "epoch 55: val/epe_px did not improve in the last 45 records",
    "best_checkpoint": "run/checkpoints/best-epoch010.ckpt",
    "last_checkpoint": "run/checkpoints/last.ckpt",
    "loss_threshold": 0.05,
    "loss_threshold_px": 6.4,
    "input_size": 128,
    "test_checkpoint": "run/checkpoints/best-epoch010.ckpt",
    "test_checkpoint_epoch": 10,
    "test_metrics": {"test/epe_px": 3.456789, "test/pck@5px": 0.8123},
}


def history(last_val: float) -> list[dict[str, float]]:
    """56 epochs: validation falls to the best (3.2109) at epoch 10, then moves linearly to ``last_val``."""
    rows = []
    for e in range(56):
        val = 10 - 0.67891 * e if e <= 10 else 3.2109 + (last_val - 3.2109) * (e - 10) / 45
        rows.append({"epoch": e, "train/epe_px": 10 - 0.15 * e, "val/epe_px": val, "val/loss": val / 50, "lr": 1e-3})
    return rows


def test_report_states_the_summary_numbers():
    text = format_report(SUMMARY, history(3.3), output_dir="run")
    for expected in (
        "3.211 px at epoch 10",  # best score, 4 significant digits as the run summary
        "| last epoch | 55 |",
        SUMMARY["stop_reason"],
        "early stopping",
        "0.05 normalized = 6.4 px at the 128 px input",
        "| test/epe_px | 3.457 |",
        "From `run/checkpoints/best-epoch010.ckpt` (epoch 10)",
        "| best (10) | 8.5 | 3.211 | -5.289 |",  # train, validation and their gap at the best epoch
        "| last (55) | 1.75 | 3.3 | 1.55 |",
    ):
        assert expected in text, expected
    assert "Overfitting" not in text  # 3.3 is within 10% of 3.2109


def test_overfitting_warning_when_the_last_epoch_is_much_worse_than_the_best():
    warning = overfitting_warning(SUMMARY, history(5.0))
    assert warning is not None
    assert "best at epoch 10, training ran to epoch 55" in warning and "56% worse" in warning
    assert overfitting_warning(SUMMARY, history(3.4)) is None
    assert overfitting_warning({**SUMMARY, "best_score": None}, history(5.0)) is None


def test_write_report_files(tmp_path):
    paths = write_report(tmp_path, SUMMARY, history(5.0))
    assert {p.name for p in paths} == {"report.md", "learning_curve.png", HISTORY_FILE}
    curve = read_image(tmp_path / "learning_curve.png")
    assert curve.shape[0] > 200 and curve.std() > 0
    assert "> **Overfitting warning**" in (tmp_path / "report.md").read_text()
    lines = (tmp_path / HISTORY_FILE).read_text().splitlines()
    assert lines[0].split(",")[0] == "epoch" and len(lines) == 57


def test_report_without_history_or_test():
    summary = {**SUMMARY, "test_checkpoint": None, "test_metrics": {}}
    text = format_report(summary, [], output_dir="run")
    assert "No epoch history" in text and "No test run." in text
    assert num(None) == "n/a" and num(float("nan")) == "n/a" and num(np.float64(2.0), " px") == "2 px"
