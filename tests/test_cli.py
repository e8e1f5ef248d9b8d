"""train.py as a user runs it, in a subprocess: one-line config errors and a multirun sweep."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, TINY, tiny

pytestmark = pytest.mark.slow


def run_train(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


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
