"""Validation after the last step of a step budget, also in the middle of an epoch."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import Callback


class ValidateLastStep(Callback):
    """Ends training at the step that reaches ``trainer.max_steps`` through ``trainer.should_stop``,
    which Lightning answers with a validation after that step. Without it Lightning validates at
    epoch ends only, and the steps of a last, partial epoch (a fixed amount of training,
    ``train_images``, rarely fills whole epochs) would be trained but never validated, so never
    chosen as the best checkpoint nor tested."""

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True
