"""Early stopping that a validation split of a handful of images cannot trigger by noise.

Lightning's EarlyStopping with two additions, both resolved before training
(``seqattn/training/choices.py``) and printed in the run header:

- ``window``: the stopping rule compares the mean of the last ``window`` validation values, not
  the last value alone (the best checkpoint is still chosen on each epoch's own value);
- ``min_progress``: no stop before this share of the training budget has been spent (the
  wall-time budget ``max_time``, ``max_epochs`` or ``max_steps``, whichever is furthest along).
  The learning-rate schedule runs over the same budget, so the epochs a stop would cut are the
  ones at the lowest rates.
"""

from __future__ import annotations

import math

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, Timer
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

from seqattn.errors import ConfigError

_KEY = "callbacks.early_stopping"


def budget_progress(trainer: L.Trainer) -> float:
    """Share of the training budget spent after the current epoch, in [0, 1]; 1 when unbounded."""
    shares = []
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    if timer is not None:
        elapsed, left = timer.time_elapsed("train"), timer.time_remaining("train")
        if left is not None and elapsed + left > 0:
            shares.append(elapsed / (elapsed + left))
    if trainer.max_epochs is not None and trainer.max_epochs > 0:
        shares.append((trainer.current_epoch + 1) / trainer.max_epochs)
    if trainer.max_steps is not None and trainer.max_steps > 0:
        shares.append(trainer.global_step / trainer.max_steps)
    return min(1.0, max(shares)) if shares else 1.0


class EarlyStoppingReport(EarlyStopping):
    """EarlyStopping on a windowed mean, held off until ``min_progress`` of the budget; its verbose
    output names the epoch, the patience left and the best epoch."""

    def __init__(self, *args, window: int = 1, min_progress: float = 0.8, **kwargs) -> None:
        patience, min_delta = kwargs.get("patience", 3), kwargs.get("min_delta", 0.0)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ConfigError(f"{_KEY}.patience must be an integer >= 0, got {patience}")
        if not min_delta >= 0:  # Lightning gives it the monitor's sign itself: a negative one counts regressions
            raise ConfigError(f"{_KEY}.min_delta must be >= 0, got {min_delta}")
        if int(window) < 1:
            raise ConfigError(f"{_KEY}.window must be >= 1, got {window}")
        if not 0.0 <= float(min_progress) <= 1.0:
            raise ConfigError(f"{_KEY}.min_progress must be in [0, 1], got {min_progress}")
        super().__init__(*args, **kwargs)
        self.window, self.min_progress = int(window), float(min_progress)
        self.values: list[float] = []  # every validation value seen, for the window
        self.best_epoch: int | None = None
        self._epoch = 0

    def state_dict(self) -> dict:
        return {**super().state_dict(), "best_epoch": self.best_epoch, "values": list(self.values)}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self.best_epoch = state_dict.get("best_epoch")
        self.values = list(state_dict.get("values", []))

    def _run_early_stopping_check(self, trainer: L.Trainer) -> None:
        """Lightning's check on the windowed value; every rank takes part in the same reduction."""
        logs = trainer.callback_metrics
        if trainer.fast_dev_run or not self._validate_condition_metric(logs):
            return
        self._epoch = trainer.current_epoch
        current = logs[self.monitor].squeeze().detach().float().cpu()
        self.values.append(float(current))
        recent = self.values[-self.window :]
        smoothed = torch.tensor(sum(recent) / len(recent)) if all(map(math.isfinite, recent)) else current
        should_stop, reason = self._evaluate_stopping_criteria(smoothed)
        progress = budget_progress(trainer)
        if should_stop and self.stopping_reason == EarlyStoppingReason.PATIENCE_EXHAUSTED:
            if progress < self.min_progress:  # a plateau this early is more likely the split's noise
                should_stop, self.stopping_reason = False, EarlyStoppingReason.NOT_STOPPED
                reason = (
                    f"epoch {self._epoch}: {self.monitor} has not improved for {self.wait_count} epochs; no stop"
                    f" before {self.min_progress:.0%} of the budget ({progress:.0%} spent)"
                )
        should_stop = trainer.strategy.reduce_boolean_decision(should_stop, all=False)
        trainer.should_stop = trainer.should_stop or should_stop
        if should_stop:
            self.stopped_epoch = trainer.current_epoch
            self.stopping_reason_message = reason
        if reason and self.verbose:
            self._log_info(trainer, reason, self.log_rank_zero_only)

    def _evaluate_stopping_criteria(self, current: torch.Tensor) -> tuple[bool, str | None]:
        should_stop, reason = super()._evaluate_stopping_criteria(current)
        what = (
            f"{self.monitor} (mean of the last {min(self.window, len(self.values))})"
            if self.window > 1
            else self.monitor
        )
        if self.wait_count == 0 and torch.isfinite(current):
            self.best_epoch = self._epoch
        elif reason is None:
            reason = (
                f"{what} = {float(current):.4g} did not improve on {float(self.best_score):.4g}"
                f" (epoch {self.best_epoch}): {self.wait_count}/{self.patience} epochs without improvement"
            )
        if reason is not None:
            reason = f"epoch {self._epoch}: {reason}"
        return should_stop, reason
