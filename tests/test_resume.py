"""Reproducibility (same seed -> same metrics, run_info.json) and resuming an interrupted run."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from conftest import ROOT, TINY, compose_cfg
from train_helpers import interrupt_at, read_csv, run_train

import seqattn
from seqattn.errors import ConfigError
from seqattn.evaluation.report import HISTORY_FILE
from seqattn.training.resume import LAST_CHECKPOINT, RUN_OVERRIDES, resume_argv, saved_overrides
from seqattn.training.run_info import RUN_INFO_FILE, git_commit
from seqattn.training.train import RunSummary, train

# Two epochs; interrupted at batch 1 (of 3) of epoch 1, a run resumes from last.ckpt of epoch 0.
RUN = ["trainer.max_epochs=2", "trainer.deterministic=true"]


def outcome(summary: RunSummary) -> tuple:
    return summary.best_score, summary.best_epoch, summary.last_epoch, summary.test_metrics


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[RunSummary, Path]:
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    return train(compose_cfg(out, *RUN)), out


def test_same_seed_and_config_give_the_same_metrics_and_record_how(tmp_path, uninterrupted):
    first, first_dir = uninterrupted
    again = train(compose_cfg(tmp_path / "run", *RUN))
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


def test_sigterm_mid_epoch_then_resume_ends_like_an_uninterrupted_run(tmp_path, uninterrupted):
    first, first_dir = uninterrupted
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as stopped:
        train(compose_cfg(run, *RUN, *interrupt_at(1, 1, tmp_path / "marker", "SIGTERM")))
    assert stopped.value.code == 143  # 128 + SIGTERM, as a shell reports a terminated program
    assert not (run / "summary.json").exists()

    # resume= names the run folder; paths.output_dir points elsewhere and must stay unused
    resumed = train(compose_cfg(tmp_path / "elsewhere", *RUN, f"resume={run}"))
    assert not (tmp_path / "elsewhere").exists()
    assert resumed.resumed_from == str(run / LAST_CHECKPOINT)
    assert outcome(resumed) == outcome(first)
    assert Path(resumed.best_checkpoint).parent == run / "checkpoints"
    # one history: the epoch before the interruption and those after it, as in the uninterrupted run
    assert read_csv(run / HISTORY_FILE) == read_csv(first_dir / HISTORY_FILE)
    info = json.loads((run / RUN_INFO_FILE).read_text())
    assert info["resumed_from"] == str(run / LAST_CHECKPOINT) and len(info["earlier_starts"]) == 1


@pytest.mark.slow
def test_ctrl_c_then_resume_from_the_command_line_continues_in_the_same_folder(tmp_path, uninterrupted):
    first, _ = uninterrupted
    stopped = run_train(tmp_path, *TINY, *RUN, *interrupt_at(1, 1, tmp_path / "marker", "SIGINT"))
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    (run,) = (tmp_path / "outputs").glob("*/*")
    assert f"python train.py resume={run}" in stopped.stderr + stopped.stdout

    # resume=<folder> alone: the run's own overrides (TINY, RUN) are replayed
    resumed = run_train(tmp_path, f"resume={run}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert list((tmp_path / "outputs").glob("*/*")) == [run]
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["best_score"], summary["best_epoch"], summary["last_epoch"]) == outcome(first)[:3]
    assert summary["test_metrics"] == pytest.approx(first.test_metrics, rel=1e-6)
    assert [r["epoch"] for r in read_csv(run / HISTORY_FILE)] == ["0", "1"]


def make_run(folder: Path, overrides: list[str]) -> Path:
    (folder / ".hydra").mkdir(parents=True)
    (folder / RUN_OVERRIDES).write_text(yaml.safe_dump(overrides))
    (folder / "checkpoints").mkdir()
    write_plain_checkpoint(folder / LAST_CHECKPOINT)
    return folder


def write_plain_checkpoint(path: Path) -> Path:
    """The least a checkpoint must hold to be read: weights, the keypoint names, an epoch."""
    torch.save({"state_dict": {}, "hyper_parameters": {"keypoint_names": ["a"]}, "epoch": 0}, path)
    return path


def as_dict(argv: list[str]) -> dict[str, str]:
    return dict(a.split("=", 1) for a in argv)


def test_resume_replays_the_runs_overrides_and_pins_its_folder(tmp_path):
    run = make_run(tmp_path / "run", ["loss.threshold=0.1", "trainer.max_epochs=3", "+callbacks.x.a=1"])
    argv = resume_argv([f"resume={run}", "trainer.max_epochs=5"])
    assert as_dict(argv) == {
        "loss.threshold": "0.1",
        "trainer.max_epochs": "5",  # given now: wins over the saved value
        "+callbacks.x.a": "1",
        "resume": str(run),
        "hydra.run.dir": f'"{run}"',
        "hydra.output_subdir": "null",  # train() writes .hydra/ once every check has passed
    }
    by_ckpt = resume_argv([f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}"])
    assert as_dict(by_ckpt)["hydra.run.dir"] == f'"{run}"' and as_dict(by_ckpt)["loss.threshold"] == "0.1"
    foreign = tmp_path / "model.ckpt"
    write_plain_checkpoint(foreign)
    assert resume_argv([f"ckpt_path={foreign}", "a=1"]) == [f"ckpt_path={foreign}", "a=1"]  # a new folder


@pytest.mark.parametrize(
    "argv, message",
    [
        (["resume={tmp}"], "resume: no checkpoints/last.ckpt in"),
        (["ckpt_path={tmp}/missing.ckpt"], "ckpt_path: no checkpoint file at"),
        (["resume={run}", "ckpt_path={run}/checkpoints/last.ckpt"], "resume=<run folder> or ckpt_path"),
        (["-m", "resume={run}"], "without -m"),
    ],
)
def test_resume_errors_name_the_setting(tmp_path, argv, message):
    run = make_run(tmp_path / "run", [])
    with pytest.raises(ConfigError, match=re.escape(message)):
        resume_argv([a.format(tmp=tmp_path, run=run) for a in argv])
    if argv[0] != "-m":  # train(cfg) checks the same, before anything is written
        overrides = [a.format(tmp=tmp_path, run=run) for a in argv]
        with pytest.raises(ConfigError, match=re.escape(message)):
            train(compose_cfg(tmp_path / "out", *overrides))
        assert not (tmp_path / "out").exists()


def test_a_run_started_with_a_removed_option_names_the_commit_that_had_it(tmp_path):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- +experiment=threshold_schedule\n- trainer.max_epochs=3\n")
    with pytest.raises(ConfigError, match=r"resume: .*run was started with the threshold schedule .* commit aa4ed51"):
        saved_overrides(run)
