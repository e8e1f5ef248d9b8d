"""seqattn.training.evaluate (eval.py): a checkpoint tested again gives the run's figures and files;
data that does not fit it, and bad paths, are one line."""

import json

import pytest
from helpers import ANIMALS, SOURCE, eval_cfg, read_csv

from seqattn.errors import ConfigError, DataError
from seqattn.training.evaluate import evaluate
from seqattn.training.evaluate import main as eval_main
from seqattn.training.resume import LAST_CHECKPOINT


def test_eval_reproduces_the_test_metrics_and_files(tiny_run, tmp_path):
    summary, _ = tiny_run
    result = evaluate(eval_cfg(tmp_path / "eval", f"ckpt_path={summary.best_checkpoint}"))
    assert result.checkpoint_epoch == summary.best_epoch
    assert result.metrics["test/epe_px"] == pytest.approx(summary.test_metrics["test/epe_px"], rel=1e-5)
    saved = json.loads((tmp_path / "eval" / "test_metrics.json").read_text())
    assert saved["checkpoint"] == summary.best_checkpoint and saved["checkpoint_epoch"] == summary.best_epoch
    assert len(read_csv(tmp_path / "eval" / "test_per_image.csv")) == SOURCE["num_test"]
    assert (tmp_path / "eval" / "test_per_keypoint.csv").is_file()
    assert (tmp_path / "eval" / "viz" / "test_worst.png").is_file()
    calibration = json.loads((tmp_path / "eval" / "test_calibration.json").read_text())  # the run's, again
    assert calibration["auroc"] == pytest.approx(summary.test_metrics["test/likelihood_auroc"], rel=1e-5)
    assert (tmp_path / "eval" / "test_calibration.png").is_file()


def test_eval_of_several_animals_runs_the_whole_pipeline_on_whole_frames(animals_run, tmp_path):
    summary, run = animals_run
    data = [o for o in ANIMALS if o.startswith("data.")]
    result = evaluate(eval_cfg(tmp_path / "eval", f"ckpt_path={summary.best_checkpoint}", *data))
    trained = json.loads((run / "test_metrics.json").read_text())["full_frame"]
    again = json.loads((tmp_path / "eval" / "test_metrics.json").read_text())["full_frame"]
    assert again["num_true"] == 16 and again == trained  # the run's own figures, again (NaN: null in both)
    assert result.metrics["full_frame/oks_map"] == pytest.approx(summary.test_metrics["full_frame/oks_map"], rel=1e-4)
    assert (tmp_path / "eval" / "viz" / "test_full_frame_worst.png").stat().st_size > 0


@pytest.mark.parametrize(
    "override, error, words",
    [
        ("data.source.num_keypoints=3", DataError, "keypoint names of the data (snout, left_ear, right_ear) differ"),
        ("input_size=64", ConfigError, "input_size=64 differs from the checkpoint's 32"),
    ],
)
def test_eval_rejects_data_that_does_not_fit_the_checkpoint(tiny_run, tmp_path, override, error, words):
    with pytest.raises(error, match=r"^" + words.replace("(", r"\(").replace(")", r"\)")):
        evaluate(eval_cfg(tmp_path, f"ckpt_path={tiny_run[0].best_checkpoint}", override))


def test_eval_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        eval_main(eval_cfg(tmp_path, f"ckpt_path={tmp_path / 'nope.ckpt'}"))
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: ckpt_path: no checkpoint file at {tmp_path}/nope.ckpt"
    with pytest.raises(ConfigError, match="^ckpt_path is required"):
        evaluate(eval_cfg(tmp_path))
    (tmp_path / "notes.ckpt").write_text("not a checkpoint")
    with pytest.raises(ConfigError, match=f"^ckpt_path: {tmp_path}/notes.ckpt is not a readable checkpoint"):
        evaluate(eval_cfg(tmp_path, f"ckpt_path={tmp_path / 'notes.ckpt'}"))


def test_eval_into_a_folder_it_cannot_write_is_one_line(trained, tmp_path, capsys):
    from seqattn.training.evaluate import main as eval_main

    (tmp_path / "afile").write_text("x")
    cfg = eval_cfg(tmp_path / "afile" / "out", f"ckpt_path={trained / LAST_CHECKPOINT}")
    with pytest.raises(SystemExit) as stopped:
        eval_main(cfg)
    err = capsys.readouterr().err.strip()
    assert stopped.value.code == 2 and err.count("\n") == 0 and err.startswith("error: cannot write "), err
