"""Lightning's EarlyStopping, saying every epoch how long the monitored metric has not improved."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping


class EarlyStoppingReport(EarlyStopping):
    """EarlyStopping whose verbose output names the epoch, the patience left and the best epoch."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.best_epoch: int | None = None
        self._epoch = 0

    def state_dict(self) -> dict:
        return {**super().state_dict(), "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self.best_epoch = state_dict.get("best_epoch")

    def _run_early_stopping_check(self, trainer: L.Trainer) -> None:
        self._epoch = trainer.current_epoch
        super()._run_early_stopping_check(trainer)

    def _evaluate_stopping_criteria(self, current: torch.Tensor) -> tuple[bool, str | None]:
        should_stop, reason = super()._evaluate_stopping_criteria(current)
        if self.wait_count == 0 and torch.isfinite(current):
            self.best_epoch = self._epoch
        elif reason is None:
            reason = (
                f"{self.monitor} = {float(current):.4g} did not improve on {float(self.best_score):.4g}"
                f" (epoch {self.best_epoch}): {self.wait_count}/{self.patience} epochs without improvement"
            )
        if reason is not None:
            reason = f"epoch {self._epoch}: {reason}"
        return should_stop, reason
