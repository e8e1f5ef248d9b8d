"""The training rate in labelled images per second."""

from __future__ import annotations

import time

from lightning.pytorch.callbacks import Callback


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
