"""seqattn.training.resume: resuming an interrupted run in its folder, from its own overrides."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from helpers import TINY, TINY_RUN, compose_cfg, interrupt_at, outcome, read_csv, run_train

from seqattn.errors import ConfigError
from seqattn.evaluation.report import HISTORY_FILE
from seqattn.training.resume import LAST_CHECKPOINT, RUN_OVERRIDES, resume_argv, saved_overrides
from seqattn.training.run_info import RUN_INFO_FILE
from seqattn.training.train import train


def test_sigterm_mid_epoch_then_resume_ends_like_an_uninterrupted_run(tmp_path, tiny_run):
    first, first_dir = tiny_run
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as stopped:
        train(compose_cfg(run, *TINY_RUN, *interrupt_at(1, 1, tmp_path / "marker", "SIGTERM")))
    assert stopped.value.code == 143  # 128 + SIGTERM, as a shell reports a terminated program
    assert not (run / "summary.json").exists()

    # resume= names the run folder; paths.output_dir points elsewhere and must stay unused
    resumed = train(compose_cfg(tmp_path / "elsewhere", *TINY_RUN, f"resume={run}"))
    assert not (tmp_path / "elsewhere").exists()
    assert resumed.resumed_from == str(run / LAST_CHECKPOINT)
    assert outcome(resumed) == outcome(first)
    assert Path(resumed.best_checkpoint).parent == run / "checkpoints"
    # one history: the epoch before the interruption and those after it, as in the uninterrupted run
    assert read_csv(run / HISTORY_FILE) == read_csv(first_dir / HISTORY_FILE)
    info = json.loads((run / RUN_INFO_FILE).read_text())
    assert info["resumed_from"] == str(run / LAST_CHECKPOINT) and len(info["earlier_starts"]) == 1


@pytest.mark.slow
def test_ctrl_c_then_resume_from_the_command_line_continues_in_the_same_folder(tmp_path, tiny_run):
    first, _ = tiny_run
    stopped = run_train(tmp_path, *TINY, *TINY_RUN, *interrupt_at(1, 1, tmp_path / "marker", "SIGINT"))
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    (run,) = (tmp_path / "outputs").glob("*/*")
    assert f"python train.py resume={run}" in stopped.stderr + stopped.stdout

    # resume=<folder> alone: the run's own overrides (TINY, TINY_RUN) are replayed
    resumed = run_train(tmp_path, f"resume={run}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert list((tmp_path / "outputs").glob("*/*")) == [run]
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["best_score"], summary["best_epoch"], summary["last_epoch"]) == outcome(first)[:3]
    assert summary["test_metrics"] == pytest.approx(first.test_metrics, rel=1e-6)
    assert [r["epoch"] for r in read_csv(run / HISTORY_FILE)] == ["0", "1", "2"]


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


@pytest.mark.slow
def test_a_failed_resume_leaves_the_run_folder_as_it_was(tmp_path, trained):
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(trained), str(run)], check=True)
    (run / ".hydra").mkdir(exist_ok=True)
    (run / RUN_OVERRIDES).write_text(yaml.safe_dump([*TINY, "trainer.max_epochs=3"]))
    before = {p: (run / p).read_bytes() for p in (RUN_OVERRIDES, RUN_INFO_FILE)}
    done = run_train(tmp_path, f"resume={run}", "data.source.num_keypoints=3")  # another K
    assert done.returncode == 2 and "was trained on 4 keypoints" in done.stderr.strip().splitlines()[-1]
    assert {p: (run / p).read_bytes() for p in before} == before
    done = run_train(tmp_path, f"resume={run}", "trainer.max_epochs=4")  # plain resume still works
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trainer.max_epochs=4" in yaml.safe_load((run / RUN_OVERRIDES).read_text())
    assert json.loads((run / "summary.json").read_text())["last_epoch"] == 3


def test_malformed_saved_overrides_are_one_line(tmp_path, trained):
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(trained), str(run)], check=True)
    (run / ".hydra").mkdir(exist_ok=True)
    (run / RUN_OVERRIDES).write_text("- a=1\n  b: [")
    with pytest.raises(ConfigError, match=r"overrides.yaml is not readable YAML"):
        resume_argv([f"resume={run}"])
    (run / RUN_OVERRIDES).write_text("{a: 1}")
    with pytest.raises(ConfigError, match=r"overrides.yaml must be a list of overrides"):
        resume_argv([f"resume={run}"])
