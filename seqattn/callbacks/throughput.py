"""Callbacks that measure or steer training: images/s and a loss-threshold schedule."""

from __future__ import annotations

import math
import time

import lightning as L
from lightning.pytorch.callbacks import Callback, Timer


def training_progress(trainer: L.Trainer) -> float:
    """Fraction of the budget used, in [0, 1]: epochs of max_epochs, steps of max_steps (a fixed
    number of training images, seqattn/training/budget.py) or wall time of max_time."""
    fractions = []
    if trainer.max_epochs and trainer.max_epochs > 0:
        fractions.append(trainer.current_epoch / trainer.max_epochs)
    if trainer.max_steps and trainer.max_steps > 0:
        fractions.append(trainer.global_step / trainer.max_steps)
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    remaining = timer.time_remaining("train") if timer is not None else None
    if remaining is not None:
        elapsed = timer.time_elapsed("train")
        fractions.append(elapsed / max(1e-9, elapsed + remaining))
    return min(1.0, max(fractions, default=0.0))


class ThroughputMonitor(Callback):
    """Logs ``train/images_per_s``: steady-state training rate in labelled images, data loading
    included (the time between consecutive batch ends; the first batch of each epoch, with worker
    start-up, is skipped). Frames without labels mixed into a batch are not counted."""

    def __init__(self) -> None:
        self.samples, self.seconds = 0, 0.0
        self._last: float | None = None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._last = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.seconds += now - self._last
            labelled = batch.get("labelled", batch)  # a batch with frames without labels: its labelled part
            self.samples += len(labelled["image"]) * trainer.world_size
        self._last = now

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.seconds > 0:
            pl_module.log("train/images_per_s", self.samples / self.seconds)


class ThresholdSchedule(Callback):
    """Moves the hinge threshold from ``start`` to ``end`` (normalized units) over the training
    budget, geometrically: lenient early, tight late. Logs ``loss/threshold`` every epoch."""

    def __init__(self, start: float = 0.1, end: float = 0.01) -> None:
        if not (start > 0 and end > 0):
            raise ValueError(f"threshold schedule needs start and end > 0, got {start} and {end}")
        self.start, self.end = start, end

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        p = training_progress(trainer)
        pl_module.loss.threshold = math.exp((1 - p) * math.log(self.start) + p * math.log(self.end))
        for logger in trainer.loggers:
            logger.log_metrics(
                {"loss/threshold": pl_module.loss.threshold, "loss/threshold_px": pl_module.threshold_px},
                step=trainer.global_step,
            )
