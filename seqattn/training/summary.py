"""What a run reports: the summary (summary.json, the sweepers' objective) and its stop reason."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, Timer
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

from seqattn.checkpoint import read_checkpoint

log = logging.getLogger("seqattn")


@dataclass
class RunSummary:
    monitor: str
    best_score: float | None
    best_epoch: int | None
    last_epoch: int
    stopped_early: bool
    stop_reason: str
    best_checkpoint: str | None
    last_checkpoint: str | None
    loss_threshold: float | None
    loss_threshold_px: float | None
    input_size: int
    test_checkpoint: str | None = None
    test_checkpoint_epoch: int | None = None
    test_metrics: dict[str, float] = field(default_factory=dict)
    resumed_from: str | None = None  # the checkpoint this start continued, if any
    label_offset_px: list[float] | None = None  # the tested checkpoint's (dx, dy), pixels of the step-0 input
    wall_time_s: float | None = None  # of this start, from config check to summary

    def objective(self) -> float:
        """The monitored best value for sweepers; NaN or missing becomes +inf."""
        v = self.best_score
        return math.inf if v is None or math.isnan(v) else float(v)


def label_offset_px(module: Any) -> list[float]:
    """The labels' estimated offset from the landmarks (seqattn.models.label_offset), (dx, dy) in
    pixels of the step-0 input, as the loss threshold is stated."""
    return [round(float(v), 4) for v in module.label_offset().detach().cpu().double() * module.input_size]


def checkpoint_epoch(path: str | None) -> int | None:
    if not path or not Path(path).is_file():
        return None
    return int(read_checkpoint(path)["epoch"])


def stop_reason(trainer: L.Trainer, early: EarlyStopping | None) -> tuple[bool, str]:
    if early is not None and early.stopping_reason != EarlyStoppingReason.NOT_STOPPED:
        return True, getattr(early, "stopping_reason_message", None) or "early stopping"
    if trainer.interrupted:
        return False, "interrupted"
    if trainer.max_epochs is not None and 0 < trainer.max_epochs <= trainer.current_epoch:
        return False, f"reached trainer.max_epochs={trainer.max_epochs}"
    if trainer.max_steps is not None and 0 < trainer.max_steps <= trainer.global_step:
        return False, f"reached trainer.max_steps={trainer.max_steps}"
    if any(isinstance(c, Timer) for c in trainer.callbacks):
        return False, "the wall-time budget (trainer.max_time) ran out"
    return False, "the trainer stopped"


def announce_threshold(module: Any, loggers: list[Any]) -> None:
    """Log the hinge threshold in normalized units and in pixels of the step-0 input, and record
    both as the loggers' hyperparameters (``loss_threshold``, ``loss_threshold_px``)."""
    t, px = module.loss_threshold, module.threshold_px
    if t is None:
        return
    log.info(f"hinge loss threshold: {t:.4g} normalized = {px:.2f} px at the {module.input_size} px input")
    for logger in loggers:
        logger.log_hyperparams({"loss_threshold": t, "loss_threshold_px": px})
