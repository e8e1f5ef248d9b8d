"""A checkpoint with the data module of its input size and a CPU trainer: what the checkpoint benches share."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from hydra import compose, initialize_config_dir

from seqattn.data import KeypointDataModule, build_datamodule
from seqattn.inference import load_checkpoint
from seqattn.module import KeypointModule

CONF = Path(__file__).resolve().parents[1] / "conf"


def checkpoint_and_data(path: str, overrides: list[str]) -> tuple[KeypointModule, KeypointDataModule, L.Trainer]:
    """``overrides``: train.py data overrides naming the checkpoint's data (its letterbox is the checkpoint's)."""
    module = load_checkpoint(path, key="checkpoint")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False)
    return module, build_datamodule(cfg.data, module.geometry, augment=False), trainer
