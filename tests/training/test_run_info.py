"""seqattn.training.run_info: the record of how a run was made (same seed and config: same figures)."""

import json
import subprocess

from helpers import ROOT, TINY_RUN, compose_cfg, outcome

import seqattn
from seqattn.training.run_info import RUN_INFO_FILE, git_commit
from seqattn.training.train import train


def test_same_seed_and_config_give_the_same_metrics_and_record_how(tmp_path, tiny_run):
    first, first_dir = tiny_run
    again = train(compose_cfg(tmp_path / "run", *TINY_RUN))
    assert outcome(again) == outcome(first)  # exactly: CPU, deterministic, same seed

    info = json.loads((tmp_path / "run" / RUN_INFO_FILE).read_text())
    assert info["seqattn_version"] == seqattn.__version__
    assert info["config"]["trainer"]["deterministic"] is True and info["config"]["seed"] == 42
    assert info["config"]["paths"]["output_dir"] == str(tmp_path / "run")  # resolved, not ${...}
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    expected = head.stdout.strip() if head.returncode == 0 else "unknown"
    assert info["git_commit"].removesuffix("-dirty") == expected


def test_git_commit_is_unknown_outside_a_checkout(tmp_path):
    assert git_commit(tmp_path) == "unknown"
