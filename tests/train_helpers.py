"""Helpers for the sweep, DDP and resume tests: train.py in a subprocess, a callback that
interrupts training at a known batch (``+callbacks.interrupt._target_=train_helpers.SignalAt``),
and one that re-creates the DDP trap of a collective made on rank 0 alone."""

import csv
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import torch
from conftest import ROOT
from lightning.pytorch.callbacks import Callback

TESTS = Path(__file__).resolve().parent


def run_train(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """``python train.py *args`` in ``cwd``; this folder is importable there (for SignalAt).

    Runs in a process group of its own: a run still going after ``timeout`` seconds (a hang) is
    killed with every process it started (DDP ranks included) and the test fails, saying so.
    """
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    full_env = {**os.environ, "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "0", "PYTHONPATH": path, **(env or {})}
    command = [sys.executable, str(ROOT / "train.py"), *args]
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"train.py did not finish within {timeout:g} s (hung?):\n{err[-3000:]}") from None
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def interrupt_at(epoch: int, batch: int, marker: Path, signal_name: str, rank: int | None = None) -> list[str]:
    """Overrides that add :class:`SignalAt` to a run."""
    return [
        "+callbacks.interrupt._target_=train_helpers.SignalAt",
        f"+callbacks.interrupt.epoch={epoch}",
        f"+callbacks.interrupt.batch={batch}",
        f"+callbacks.interrupt.marker={marker}",
        f"+callbacks.interrupt.signal_name={signal_name}",
        f"+callbacks.interrupt.rank={'null' if rank is None else rank}",
    ]


class SignalAt(Callback):
    """Sends ``signal_name`` to this process at batch ``batch`` of epoch ``epoch`` (a user's Ctrl+C,
    a scheduler's SIGTERM), unless ``marker`` exists; creates ``marker`` first, so the resumed run,
    which replays the same config, is not interrupted again."""

    def __init__(
        self, epoch: int, batch: int, marker: str, signal_name: str = "SIGTERM", rank: int | None = None
    ) -> None:
        self.epoch, self.batch, self.marker, self.rank = epoch, batch, Path(marker), rank
        self.signal = signal.Signals[signal_name]

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if self.rank is not None and trainer.global_rank != self.rank:  # under DDP: signal that rank only
            return
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch) and not self.marker.exists():
            self.marker.touch()
            if self.signal == signal.SIGINT:  # started in the background, Python may have inherited "ignore"
                signal.signal(signal.SIGINT, signal.default_int_handler)
            os.kill(os.getpid(), self.signal)


class RankZeroCollective(Callback):
    """An all-reduce on rank 0 only at the end of train epoch ``epoch``: the mistake a rank-0-only
    hook (progress bar, logger, writer) makes when it syncs. The run must fail, not hang."""

    def __init__(self, epoch: int = 0) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero and trainer.current_epoch == self.epoch:
            torch.distributed.all_reduce(torch.zeros(1))


def epe_from_per_image(run_dir: Path) -> float:
    """The mean error over every labelled point of ``test_per_image.csv`` (one cell per image and
    keypoint): what ``test/epe_px`` must equal when the labels, the predictions and the files agree."""
    rows = read_csv(run_dir / "test_per_image.csv")
    cells = [float(v) for r in rows for k, v in r.items() if k.endswith("_px") and k != "mean_px" and v]
    assert cells and all(map(math.isfinite, cells)), "no labelled test point, or a non-finite error"
    return sum(cells) / len(cells)
