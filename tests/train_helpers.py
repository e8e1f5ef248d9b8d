"""Helpers for the sweep, DDP and resume tests: train.py in a subprocess, and a callback that
interrupts training at a known batch (``+callbacks.interrupt._target_=train_helpers.SignalAt``)."""

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import ROOT
from lightning.pytorch.callbacks import Callback

TESTS = Path(__file__).resolve().parent


def run_train(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python train.py *args`` in ``cwd``; this folder is importable there (for SignalAt)."""
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    full_env = {**os.environ, "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "0", "PYTHONPATH": path, **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def interrupt_at(epoch: int, batch: int, marker: Path, signal_name: str) -> list[str]:
    """Overrides that add :class:`SignalAt` to a run."""
    return [
        "+callbacks.interrupt._target_=train_helpers.SignalAt",
        f"+callbacks.interrupt.epoch={epoch}",
        f"+callbacks.interrupt.batch={batch}",
        f"+callbacks.interrupt.marker={marker}",
        f"+callbacks.interrupt.signal_name={signal_name}",
    ]


class SignalAt(Callback):
    """Sends ``signal_name`` to this process at batch ``batch`` of epoch ``epoch`` (a user's Ctrl+C,
    a scheduler's SIGTERM), unless ``marker`` exists; creates ``marker`` first, so the resumed run,
    which replays the same config, is not interrupted again."""

    def __init__(self, epoch: int, batch: int, marker: str, signal_name: str = "SIGTERM") -> None:
        self.epoch, self.batch, self.marker = epoch, batch, Path(marker)
        self.signal = signal.Signals[signal_name]

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch) and not self.marker.exists():
            self.marker.touch()
            if self.signal == signal.SIGINT:  # started in the background, Python may have inherited "ignore"
                signal.signal(signal.SIGINT, signal.default_int_handler)
            os.kill(os.getpid(), self.signal)
