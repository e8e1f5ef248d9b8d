"""Checkpoints that never lose a finished epoch, written whole or not at all.

``EpochCheckpoint``: Lightning's ModelCheckpoint keeps the best checkpoint by the monitored value,
but with a monitor it writes ``last.ckpt`` only in the epochs that improved it, so a run killed
during a plateau lost every epoch since. Here ``last.ckpt`` is written at the end of every epoch.

``AtomicCheckpointIO``: each checkpoint goes to a temporary beside its final name, is flushed to
disk and renamed (seqattn.io.files): a full disk or a kill mid-write leaves the previous file whole,
never a truncated one under the final name (Lightning's own writer stages the file in $TMPDIR, and
a move across file systems is a copy).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from seqattn.io.files import write_atomically


class EpochCheckpoint(ModelCheckpoint):
    """ModelCheckpoint whose ``last.ckpt`` (``save_last``) holds the latest finished epoch, always."""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_missed(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_missed(trainer)

    def _save_last_if_missed(self, trainer: L.Trainer) -> None:
        # The parent saved nothing at this step when the monitored value did not improve.
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's torch checkpoint writer, writing beside the target and renaming (same file system)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        buffer = io.BytesIO()  # serialised first: torch's own file writer reports a full disk vaguely
        torch.save(checkpoint, buffer)
        write_atomically(Path(path), lambda tmp: tmp.write_bytes(buffer.getbuffer()))
