"""BatchNorm statistics measured before each validation, not the running average of training."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.seed import isolate_rng
from torch.utils.data import DataLoader, Dataset, Subset

SEED = 0  # the same sample and the same augmentation at every validation and on every rank


class BatchNormStatistics(Callback):
    """Before each validation, the pose model's BatchNorm layers get the mean and variance of a
    fixed sample of ``images`` training images, augmented as training sees them, computed by the
    current weights (the other layers as in evaluation: no dropout). What validation measures,
    the checkpoints store and the test reads is then that model, not one whose statistics are a
    running average over the last few dozen training batches, partly of earlier weights. Training
    itself is unchanged: the statistics are used only in evaluation, and the sample is drawn with
    its own seed, leaving the run's random streams as they were. Every rank draws the same sample,
    so no rank waits for another."""

    def __init__(self, images: int = 256) -> None:
        if images < 2:
            raise ValueError(f"callbacks.batch_norm.images must be at least 2, got {images}")
        self.images = images

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        datasets = getattr(trainer.datamodule, "datasets", {})
        if trainer.sanity_checking or "train" not in datasets:
            return
        layers = [m for m in pl_module.model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        if not layers:
            return
        loader = DataLoader(sample(datasets["train"], self.images, SEED), batch_size=trainer.datamodule.eval_batch_size)
        momenta = [layer.momentum for layer in layers]
        with isolate_rng(), torch.no_grad(), trainer.precision_plugin.train_step_context():
            np.random.seed(SEED)  # the augmentation's stream (seqattn.data.augment)
            torch.manual_seed(SEED)
            for layer in layers:
                layer.reset_running_stats()
                layer.momentum = None  # a plain mean over the sample's batches
                layer.train()
            try:
                for batch in loader:
                    batch = trainer.datamodule.on_after_batch_transfer(
                        trainer.strategy.batch_to_device(batch, pl_module.device), 0
                    )
                    pl_module(batch["image"])
            finally:
                for layer, momentum in zip(layers, momenta, strict=True):
                    layer.momentum = momentum
                    layer.eval()


def sample(dataset: Dataset, images: int, seed: int) -> Dataset:
    """``images`` items of ``dataset`` drawn without replacement by ``seed`` (all when fewer)."""
    order = np.random.default_rng(seed).permutation(len(dataset))[:images]
    return Subset(dataset, sorted(order.tolist()))
