"""trainer=ddp on CPU (2 gloo processes): one run folder, single-process metrics; launchers for SLURM."""

import json
import os
import stat
from pathlib import Path

import pytest
from conftest import TINY, compose_cfg
from lightning import Trainer
from train_helpers import read_csv, run_train

from seqattn.data import build_datamodule
from seqattn.module import KeypointModule
from seqattn.plugins import PLUGINS
from seqattn.sweep import CSV_FILE

pytestmark = pytest.mark.slow

# 7 validation and test images: DistributedSampler pads each to 8 for 2 processes, and the metrics
# must not count the repeated image.
DDP = ["trainer=ddp", "trainer.max_epochs=1", "data.source.num_val=7", "data.source.num_test=7"]


def folders(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*") if p.is_dir())


def test_ddp_run_writes_one_folder_with_single_process_test_metrics(tmp_path):
    result = run_train(tmp_path, *TINY, *DDP)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = folders(tmp_path / "outputs")  # rank 1 re-ran train.py: it must not make a folder of its own
    assert (run / "train_rank1.log").is_file()  # ... but it did run, logging into this folder
    assert json.loads((run / "run_info.json").read_text())["config"]["trainer"]["strategy"] == "ddp"

    summary = json.loads((run / "summary.json").read_text())
    assert len(read_csv(run / "test_per_image.csv")) == 7  # each test image once, padding dropped
    # The test metrics of the 2-process run are those of one process testing the same checkpoint.
    model = KeypointModule.load_from_checkpoint(summary["best_checkpoint"])
    datamodule = build_datamodule(compose_cfg(tmp_path / "unused", *DDP).data)
    again = Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False)
    single = again.test(model, datamodule=datamodule, verbose=False)[0]
    for key in ("test/epe_px", "test/median_px", "test/p90_px", "test/pck@5px", "test/epe_px/snout"):
        assert summary["test_metrics"][key] == pytest.approx(single[key], rel=1e-5), key


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
