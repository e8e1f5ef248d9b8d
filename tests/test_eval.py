"""eval.py as a user runs it, in a subprocess."""

import os
import subprocess
import sys

import pytest
from helpers import EVAL_TINY, ROOT


@pytest.mark.slow
def test_eval_cli_prints_the_table(tiny_run, tmp_path):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    cmd = [sys.executable, str(ROOT / "eval.py"), *EVAL_TINY, f"hydra.run.dir={tmp_path}"]
    result = subprocess.run([*cmd, f"ckpt_path={tiny_run[0].best_checkpoint}"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test/epe_px" in result.stdout and f"(epoch {tiny_run[0].best_epoch})" in result.stdout
    assert (tmp_path / "test_metrics.json").is_file()
