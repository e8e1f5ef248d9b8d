"""Test a saved checkpoint: metrics table on screen, the same result files as a training run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from seqattn.allocator import keep_large_buffers
from seqattn.data import build_datamodule
from seqattn.errors import ConfigError, DataError
from seqattn.evaluation.point_errors import PointErrors
from seqattn.evaluation.report import format_metrics
from seqattn.inference import load_checkpoint
from seqattn.training.choices import choose_training_precision
from seqattn.training.components import build_callbacks, build_loggers, finish_wandb
from seqattn.training.full_frame_test import as_metrics, full_frame_results
from seqattn.training.task import run_task
from seqattn.training.test_results import write_test_results

log = logging.getLogger("seqattn")


@dataclass
class EvalResult:
    checkpoint: str
    checkpoint_epoch: int | None
    metrics: dict[str, float]
    errors: PointErrors  # per-point test errors, one row per test image
    files: list[Path]


def evaluate(cfg: DictConfig) -> EvalResult:
    """Load ``cfg.ckpt_path``, run ``Trainer.test`` on ``cfg.data``'s test split (for labels with several
    animals, also the whole pipeline on its whole frames), write the result files."""
    if OmegaConf.is_missing(cfg, "ckpt_path") or not cfg.ckpt_path:
        raise ConfigError("ckpt_path is required: python eval.py ckpt_path=<file.ckpt>")
    output_dir = Path(cfg.paths.output_dir)
    module = load_checkpoint(cfg.ckpt_path)
    geometry = module.geometry  # the letterbox the model was trained on, from the checkpoint
    if cfg.get("input_size") not in (None, geometry.input_size):
        raise ConfigError(
            f"input_size={cfg.input_size} differs from the checkpoint's {geometry.input_size}: leave it unset"
        )
    datamodule = build_datamodule(cfg.data, geometry, augment=False)
    if list(datamodule.keypoint_names) != list(module.keypoint_names):
        raise DataError(
            f"keypoint names of the data ({', '.join(datamodule.keypoint_names)}) differ from those of "
            f"checkpoint {cfg.ckpt_path} ({', '.join(module.keypoint_names)})"
        )
    callbacks = build_callbacks(cfg.get("callbacks"), output_dir)
    loggers = build_loggers(cfg.get("logger"), output_dir)
    precision = cfg.trainer.get("precision", "32-true")
    if str(precision) == "auto":  # as training tests its best checkpoint on this machine
        precision = choose_training_precision(cfg.trainer.get("accelerator", "auto"))[0]
    trainer: L.Trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, default_root_dir=str(output_dir), precision=precision
    )
    try:
        results = trainer.test(module, datamodule=datamodule, verbose=False)
    finally:
        finish_wandb(loggers)
    metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
    files = []
    if trainer.is_global_zero:
        full = full_frame_results(module, datamodule, output_dir)
        metrics.update(as_metrics(full))
        files = write_test_results(
            output_dir, module, datamodule.datasets["test"], metrics, str(cfg.ckpt_path), module.checkpoint_epoch, full
        )
    return EvalResult(str(cfg.ckpt_path), module.checkpoint_epoch, metrics, module.last_errors["test"], files)


def format_result(result: EvalResult, output_dir: Path) -> str:
    lines = [
        "",
        "=" * 30 + " evaluation " + "=" * 30,
        f"checkpoint : {result.checkpoint} (epoch {result.checkpoint_epoch})",
        f"test images: {len(result.errors)}, labelled points: {int(result.errors.visible.sum())}",
        *format_metrics(result.metrics),
        f"results in : {output_dir}",
        *(f"  {p.name}" for p in result.files),
        "=" * 72,
    ]
    return "\n".join(lines)


def main(cfg: DictConfig) -> None:
    """Hydra entry: the table on stdout, one-line errors for config and data problems."""

    def work() -> float:
        keep_large_buffers()
        print(format_result(evaluate(cfg), Path(cfg.paths.output_dir)))
        return 0.0

    run_task(work, Path(cfg.paths.output_dir))
