"""trainer=ddp on CPU (2 gloo processes), several epochs with the default callbacks: one run folder,
single-process metrics, no hang (SIGTERM, a stuck collective); launchers for SLURM."""

import json
import os
import re
import stat
import time
from pathlib import Path

import pytest
from helpers import TINY, compose_cfg, interrupt_at, read_csv, run_train
from lightning import Trainer

from seqattn.data import build_datamodule
from seqattn.module import KeypointModule
from seqattn.training.plugins import PLUGINS
from seqattn.training.sweep import CSV_FILE

pytestmark = pytest.mark.slow

# 7 validation and test images: DistributedSampler pads each to 8 for 2 processes, and the metrics
# must not count the repeated image. Three epochs at least: the hang of issue 11 came after the first.
DDP = ["trainer=ddp", "trainer.max_epochs=3", "data.source.num_val=7", "data.source.num_test=7"]
# What a user gets by default (progress bar, wandb offline), which TINY switches off for speed.
DEFAULTS = ["trainer.enable_progress_bar=true", "logger=wandb"]
# Early stopping after epoch 2: only an improvement by 1000 px counts, and the patience is 2.
STOP_EARLY = [
    "trainer.max_epochs=8",
    "callbacks.early_stopping.patience=2",
    "callbacks.early_stopping.min_delta=1000",
    "callbacks.early_stopping.min_progress=0",
]
HANG = 300  # seconds: a DDP test still running then has hung (they take 15-60 s)


def folders(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*") if p.is_dir())


def single_process_test(tmp_path: Path, checkpoint: str) -> dict[str, float]:
    model = KeypointModule.load_from_checkpoint(checkpoint)
    datamodule = build_datamodule(compose_cfg(tmp_path / "unused", *DDP).data, model.geometry, augment=False)
    again = Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False)
    return again.test(model, datamodule=datamodule, verbose=False)[0]


def test_ddp_run_with_default_callbacks_stops_early_and_tests_the_best_checkpoint(tmp_path):
    result = run_train(tmp_path, *TINY, *DDP, *DEFAULTS, *STOP_EARLY, "test_ckpt=best", timeout=HANG)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = folders(tmp_path / "outputs")  # rank 1 re-ran train.py: it must not make a folder of its own
    assert (run / "train_rank1.log").is_file()  # ... but it did run, logging into this folder
    assert (run / "wandb").is_dir() and (run / "viz" / "val_epoch000.png").is_file()

    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped_early"] and summary["last_epoch"] == 2, summary["stop_reason"]
    assert summary["best_epoch"] == 0 and summary["test_checkpoint"] == summary["best_checkpoint"]
    assert [int(r["epoch"]) for r in read_csv(run / "history.csv")] == [0, 1, 2]
    assert len(read_csv(run / "test_per_image.csv")) == 7  # each test image once, padding dropped
    # The test metrics of the 2-process run are those of one process testing the same checkpoint.
    single = single_process_test(tmp_path, summary["best_checkpoint"])
    # (Pixel metrics only: the loss is a mean over batches, whose padding repeats an image.)
    for key in ("test/epe_px", "test/median_px", "test/p90_px", "test/pck@5px", "test/epe_px/snout"):
        assert summary["test_metrics"][key] == pytest.approx(single[key], rel=1e-5), key


def test_sigterm_to_one_rank_stops_every_rank_and_resume_finishes_the_run(tmp_path):
    marker = tmp_path / "signalled"
    args = [*TINY, *DDP, *interrupt_at(1, 0, marker, "SIGTERM", rank=1)]
    started = time.monotonic()
    stopped = run_train(tmp_path, *args, timeout=HANG)
    assert marker.exists() and stopped.returncode == 143, stopped.stderr[-3000:]
    assert time.monotonic() - started < 120
    (run,) = folders(tmp_path / "outputs")
    assert "interrupted; continue from the last finished epoch" in stopped.stdout
    assert "rank 1 of 2: SIGTERM received" in (run / "train_rank1.log").read_text()
    assert not (run / "summary.json").exists()

    resumed = run_train(tmp_path, f"resume={run}", timeout=HANG)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert folders(tmp_path / "outputs") == [run]  # the same folder, continued
    summary = json.loads((run / "summary.json").read_text())
    assert summary["last_epoch"] == 2 and summary["resumed_from"].endswith("last.ckpt")
    assert [int(r["epoch"]) for r in read_csv(run / "history.csv")] == [0, 1, 2]


def test_a_collective_on_one_rank_fails_within_the_timeout_naming_rank_and_stage(tmp_path):
    trap = ["+callbacks.trap._target_=helpers.RankZeroCollective", "ddp_timeout_s=15"]
    started = time.monotonic()
    result = run_train(tmp_path, *TINY, *DDP, *trap, timeout=HANG)
    assert result.returncode != 0
    assert time.monotonic() - started < 150
    # The rank left waiting times out; which one that is depends on how gloo paired the calls.
    waited = r"error: rank [01] of 2: the other processes did not answer within 15 s \(ddp_timeout_s\) during "
    assert re.search(waited + r"(end of )?(train|validation)", result.stderr), result.stderr[-3000:]


def test_ddp_sweep_jobs_stay_in_their_own_folders(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_train(tmp_path, "-m", *TINY, *DDP, "loss.threshold=0.3,0.1", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    # Lightning's own re-launch would run the whole sweep again in each child (another sweep folder).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep"]
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    for row in read_csv(sweep / CSV_FILE):
        assert row["status"] == "ok", row["error"]
        assert (sweep / row["job"] / "train_rank1.log").is_file()


def test_submitit_local_launcher_runs_a_ddp_job(tmp_path):
    pytest.importorskip(PLUGINS["submitit_local"][0], reason="hydra-submitit-launcher not installed")
    sweep = tmp_path / "sweep"
    result = run_train(tmp_path, "-m", "hydra/launcher=submitit_local", *TINY, *DDP, f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = read_csv(sweep / CSV_FILE)
    assert row["status"] == "ok", row["error"]
    assert (sweep / "0" / "train_rank1.log").is_file() and (sweep / ".submitit").is_dir()


def _fake_slurm(bin_dir: Path, capture: Path) -> dict[str, str]:
    """``srun`` and ``sbatch`` stand-ins: sbatch keeps the script it is given and refuses the job."""
    bin_dir.mkdir()
    for name, body in (("srun", "exit 1"), ("sbatch", f'cp "$1" "{capture}"; echo refused >&2; exit 1')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(stat.S_IRWXU)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def test_slurm_launcher_config_reaches_sbatch(tmp_path):
    pytest.importorskip(PLUGINS["submitit_slurm"][0], reason="hydra-submitit-launcher not installed")
    script = tmp_path / "submitted.sh"
    args = ["-m", "hydra/launcher=slurm", "hydra.launcher.partition=gpu", "trainer=ddp", "trainer.devices=4"]
    args += ["trainer.num_nodes=2", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    result = run_train(tmp_path, *args, env=_fake_slurm(tmp_path / "bin", script))
    assert result.returncode != 0  # no cluster: the submission is refused, after the script was written
    text = script.read_text()
    for line in (
        "--partition=gpu",
        "--nodes=2",
        "--ntasks-per-node=4",  # one process per GPU: Lightning takes the ranks from SLURM
        "--gpus-per-node=4",
        "--cpus-per-task=8",
        "--mem=64GB",
        "--time=240",
    ):
        assert f"#SBATCH {line}\n" in text, line


def test_submitit_requeue_continues_the_job_in_its_folder(tmp_path):
    """Preemption as submitit delivers it: its signal (USR2) checkpoints the job and requeues it; the
    restarted job finds its folder's last.ckpt and continues from it instead of starting over."""
    pytest.importorskip(PLUGINS["submitit_local"][0], reason="hydra-submitit-launcher not installed")
    sweep, marker = tmp_path / "sweep", tmp_path / "preempted"
    args = ["-m", "hydra/launcher=submitit_local", *TINY, "trainer.max_epochs=3", f"hydra.sweep.dir={sweep}"]
    result = run_train(tmp_path, *args, *interrupt_at(1, 1, marker, "SIGUSR2"), timeout=HANG)
    assert result.returncode == 0, result.stderr[-3000:]
    assert marker.exists()  # the job was signalled once, in epoch 1
    (row,) = read_csv(sweep / CSV_FILE)
    assert row["status"] == "ok", row["error"]
    summary = json.loads((sweep / "0" / "summary.json").read_text())
    assert summary["resumed_from"] == str(sweep / "0" / "checkpoints" / "last.ckpt") and summary["last_epoch"] == 2
    assert [int(r["epoch"]) for r in read_csv(sweep / "0" / "history.csv")] == [0, 1, 2]
    info = json.loads((sweep / "0" / "run_info.json").read_text())
    assert len(info["earlier_starts"]) == 1  # the first attempt, before the requeue
