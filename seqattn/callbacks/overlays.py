"""Pictures of the errors: fixed validation images every N epochs, the worst test images after test."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from lightning.pytorch.callbacks import Callback

from seqattn.errors import ConfigError
from seqattn.evaluation.point_errors import PointErrors
from seqattn.evaluation.viz import LEGEND, draw_errors, make_grid, save_png

log = logging.getLogger(__name__)


def error_grid(raw: Any, points: PointErrors, rows: list[int], tile_size: int, columns: int) -> np.ndarray:
    """Grid of ``rows`` of ``points``, each drawn on its original image from ``raw`` (index -> RawSample)."""
    errors = points.per_image()
    tiles, titles = [], []
    for row in rows:
        sample = raw[int(points.index[row])]
        tiles.append(draw_errors(sample.image, points.pred_px[row].numpy(), sample.keypoints, size=tile_size))
        mean = float(errors[row])
        titles.append(f"{sample.name}  mean {mean:.1f}px" if np.isfinite(mean) else f"{sample.name}  unlabelled")
    return make_grid(tiles, columns, titles, header=LEGEND)


def log_picture(trainer: L.Trainer, key: str, image: np.ndarray, path: Path) -> None:
    """Send an (H, W, 3) uint8 RGB picture to every logger that takes images (the file is on disk anyway)."""
    for logger in trainer.loggers:
        name = type(logger).__name__
        if hasattr(logger, "log_image"):  # WandbLogger, and any logger with the same method
            logger.log_image(key=key, images=[image], step=trainer.global_step)
        elif name == "TensorBoardLogger":
            logger.experiment.add_image(key, image, trainer.global_step, dataformats="HWC")
        elif name == "MLFlowLogger":
            logger.experiment.log_artifact(logger.run_id, str(path), artifact_path="viz")


class ErrorOverlays(Callback):
    """Saves grids of truth (green), prediction (magenta) and error (yellow) on original images.

    Every ``every_n_epochs`` validation epochs (0, N, 2N, ...): the first ``num_images``
    validation images (always the same ones) -> ``<run folder>/viz/val_epochNNN.png``. After
    test: the ``num_images`` test images with the largest mean error -> ``viz/test_worst.png``.
    Each grid also goes to the loggers that take images (wandb, TensorBoard, MLflow). Only rank
    zero draws; the predictions are the ones the module just evaluated (``last_errors``), so
    drawing costs no extra forward pass.
    """

    def __init__(self, every_n_epochs: int = 5, num_images: int = 8, columns: int = 4, tile_size: int = 320):
        for key, value in (("every_n_epochs", every_n_epochs), ("num_images", num_images), ("columns", columns)):
            if value < 1:
                raise ConfigError(f"callbacks.error_overlays.{key} must be >= 1, got {value}")
        if tile_size < 64:
            raise ConfigError(f"callbacks.error_overlays.tile_size must be >= 64 pixels, got {tile_size}")
        self.every_n_epochs, self.num_images = every_n_epochs, num_images
        self.columns, self.tile_size = columns, tile_size

    def _draw(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str, name: str, worst: bool) -> None:
        points: PointErrors | None = getattr(pl_module, "last_errors", {}).get(split)
        datasets = getattr(trainer.datamodule, "datasets", {}) if trainer.datamodule is not None else {}
        if not trainer.is_global_zero or points is None or len(points) == 0 or split not in datasets:
            return
        if worst:
            rows = points.worst(self.num_images)
        else:  # the first validation images that were evaluated: the same ones every time
            rows = list(range(min(self.num_images, len(points))))
        grid = error_grid(datasets[split].raw, points, rows, self.tile_size, self.columns)
        path = save_png(Path(trainer.default_root_dir) / "viz" / f"{name}.png", grid)
        log_picture(trainer, f"{split}/errors", grid, path)
        log.info(f"saved {path}")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.current_epoch % self.every_n_epochs:
            return
        self._draw(trainer, pl_module, "val", f"val_epoch{trainer.current_epoch:03d}", worst=False)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._draw(trainer, pl_module, "test", "test_worst", worst=True)
