"""train.py as a user runs it, in a subprocess: one-line errors (bad values, a full disk) and a
multirun sweep."""

import json
from pathlib import Path

import pytest
from helpers import TINY, run_train, tiny

from seqattn.training.resume import LAST_CHECKPOINT

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "overrides, names",
    [
        (["loss.threshold=-1"], "loss.threshold"),
        (["data.source.num_keypoints=0"], "data.source.num_keypoints"),
        (["data=csv", "data.path=missing.csv"], "CSV labels not found: missing.csv"),
        (["data=dlc"], "data.path is required"),
    ],
)
def test_bad_value_is_one_line_naming_the_setting_and_leaves_no_run_folder(tmp_path, overrides, names):
    result = run_train(tmp_path, *tiny(*overrides))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and names in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "outputs").exists()  # nothing written half-way


def test_unknown_model_name_is_a_short_error(tmp_path):
    result = run_train(tmp_path, *TINY, "model=nosuchmodel")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: unknown model 'nosuchmodel' (model=nosuchmodel); choose one of: sequential, softargmax"
    )


def test_multirun_threshold_sweep_writes_one_folder_per_job(tmp_path):
    sweep = tmp_path / "sweep"
    # the default logger (wandb, offline) on purpose: it must need no login and no network
    base = [o for o in TINY if not o.startswith("logger=")]
    result = run_train(
        tmp_path, "-m", *base, "trainer.max_epochs=1", "loss.threshold=0.3,0.1", f"hydra.sweep.dir={sweep}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summaries = {}
    for job in ("0", "1"):
        data = json.loads((sweep / job / "summary.json").read_text())
        summaries[data["loss_threshold"]] = data
        assert Path(data["best_checkpoint"]).parent == sweep / job / "checkpoints"
        assert (sweep / job / "wandb").is_dir()
    assert set(summaries) == {0.3, 0.1}
    assert summaries[0.3]["loss_threshold_px"] == pytest.approx(0.3 * 32)


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_leaves_no_truncated_checkpoint(tmp_path, trained):
    size = (trained / LAST_CHECKPOINT).stat().st_size
    run = tmp_path / "run"
    args = [*TINY, "trainer.max_epochs=1", "callbacks.error_overlays=null", f"hydra.run.dir={run}"]
    done = run_train(tmp_path, *args, limit_bytes=size // 2)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: cannot write ") and ".ckpt" in lines[-1], lines[-3:]
    assert "Traceback" not in done.stderr
    left = sorted(p.name for p in (run / "checkpoints").iterdir()) if (run / "checkpoints").exists() else []
    assert left == [], left  # no truncated file under its final name, no temporary either
