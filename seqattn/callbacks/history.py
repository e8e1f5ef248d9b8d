"""One row per epoch of the numbers a training report needs: train/val EPE, val loss, learning rate."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import TrainerFn


class MetricsHistory(Callback):
    """Records per epoch the logged ``train_keys`` and ``val_keys`` and the learning rate.

    Validation values are taken when validation ends. Train epoch values are logged by the module
    in its own ``on_train_epoch_end``, which Lightning runs *after* the callbacks' hook, so they
    are read when the next epoch starts, or when training ends for the last epoch. A key logged
    both per step and per epoch appears as ``<key>_epoch``; it is stored under ``<key>``. ``lr``
    is the first parameter group's rate at the end of the epoch. Saved in checkpoints, so a
    resumed run keeps the earlier epochs (all of them when the checkpoint is taken at the end of a
    train epoch, as train.py sets up ``last.ckpt``).
    """

    def __init__(
        self,
        train_keys: tuple[str, ...] = ("train/epe_px", "train/loss"),
        val_keys: tuple[str, ...] = ("val/epe_px", "val/loss"),
    ) -> None:
        self.train_keys, self.val_keys = tuple(train_keys), tuple(val_keys)
        self.rows: dict[int, dict[str, float]] = {}

    @property
    def records(self) -> list[dict[str, float]]:
        """[{"epoch": e, "train/epe_px": ..., "val/epe_px": ..., "val/loss": ..., "lr": ...}], by epoch."""
        return [{"epoch": epoch, **self.rows[epoch]} for epoch in sorted(self.rows)]

    def _read(self, trainer: L.Trainer, keys: tuple[str, ...]) -> dict[str, float]:
        metrics = trainer.callback_metrics
        found = {}
        for key in keys:
            value = metrics.get(f"{key}_epoch", metrics.get(key))
            if value is not None:
                found[key] = float(value)
        return found

    def _record_train(self, trainer: L.Trainer, epoch: int) -> None:
        values = self._read(trainer, self.train_keys)
        if epoch < 0 or not values:  # e.g. the first epoch of a resumed run: nothing logged yet
            return
        if trainer.optimizers:
            values["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        self.rows.setdefault(epoch, {}).update(values)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking and trainer.state.fn == TrainerFn.FITTING:
            self.rows.setdefault(trainer.current_epoch, {}).update(self._read(trainer, self.val_keys))

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._record_train(trainer, trainer.current_epoch - 1)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._record_train(trainer, trainer.current_epoch - 1)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        # A checkpoint saved at the end of a train epoch (after the module logged the epoch's train
        # values: processed > completed) takes that epoch's train row along; otherwise a resumed
        # run would miss the train values of the last epoch before the interruption.
        progress = trainer.fit_loop.epoch_progress.current
        if trainer.state.fn == TrainerFn.FITTING and progress.processed > progress.completed:
            self._record_train(trainer, trainer.current_epoch)
            checkpoint.setdefault("callbacks", {})[self.state_key] = self.state_dict()

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        # Lightning also restores callbacks when *testing* a checkpoint; the best checkpoint's
        # (shorter) history must not replace the full one then, so only a resumed fit restores it.
        if trainer.state.fn == TrainerFn.FITTING:
            state = checkpoint.get("callbacks", {}).get(self.state_key, {})
            self.rows = {int(k): dict(v) for k, v in state.get("rows", {}).items()}
