"""Fit and test in the run folder: the Trainer's part of a run, after everything is built
(seqattn.training.train builds it)."""

from __future__ import annotations

import logging
import signal
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from seqattn.callbacks import MetricsHistory
from seqattn.callbacks.stop_together import StopTogether, explain_distributed_failure
from seqattn.data import KeypointDataModule
from seqattn.errors import DistributedError
from seqattn.evaluation.report import format_summary, write_report
from seqattn.io.files import remove_stale_partials, write_json
from seqattn.module import KeypointModule
from seqattn.training.adapt import format_header
from seqattn.training.components import find_callback, finish_wandb
from seqattn.training.distributed import ddp_job, is_rank_zero, owns_run_folder
from seqattn.training.full_frame_test import as_metrics, full_frame_results
from seqattn.training.lock import RunLock
from seqattn.training.resume import Start, write_run_overrides
from seqattn.training.run_info import write_run_info
from seqattn.training.summary import RunSummary, announce_threshold, checkpoint_epoch, label_offset_px, stop_reason
from seqattn.training.test_results import write_test_results

log = logging.getLogger("seqattn")


@dataclass
class TrainerParts:
    trainer: L.Trainer
    callbacks: list[Callback]
    loggers: list[Any]
    stop: StopTogether
    timeout_s: float | None


def run_in_folder(
    cfg: DictConfig,
    parts: TrainerParts,
    module: KeypointModule,
    datamodule: KeypointDataModule,
    start: Start,
    adaptive: dict,
    entry_script: Path | None,
    started: float,
) -> RunSummary:
    """Fit and test in the run folder: rank 0 writes, under a lock that refuses a folder another
    live run is writing to; a collective that failed says which rank and where."""
    output_dir, trainer = start.output_dir, parts.trainer
    try:
        with RunLock(output_dir) if owns_run_folder() else nullcontext():
            if is_rank_zero():
                log.info("run header\n" + format_header(adaptive))
                for folder in (output_dir, output_dir / "checkpoints"):  # writes killed midway
                    remove_stale_partials(folder)
                write_run_info(output_dir, cfg, start.ckpt_path, adaptive=adaptive)
                if start.own_folder:
                    _record_overrides(output_dir, cfg)
            with ddp_job(entry_script, output_dir):
                try:
                    return fit_and_test(cfg, trainer, module, datamodule, parts.callbacks, output_dir, start, started)
                except Exception as exc:
                    if message := explain_distributed_failure(exc, parts.stop.position, parts.timeout_s):
                        raise DistributedError(message) from exc
                    raise
    except SystemExit as exc:  # Lightning's answer to Ctrl+C (exit 1) and to SIGTERM (no exit code)
        if trainer.interrupted and is_rank_zero():
            log.warning(f"interrupted; continue from the last finished epoch: python train.py resume={output_dir}")
        raise SystemExit(128 + signal.SIGTERM if exc.code is None else exc.code) from exc
    finally:
        finish_wandb(parts.loggers)


def _record_overrides(run: Path, cfg: DictConfig) -> None:
    """A run continued in its folder under Hydra: its ``.hydra/`` now records this start's overrides
    (train.py kept Hydra from writing them before the checks)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        write_run_overrides(run, list(HydraConfig.get().overrides.task), OmegaConf.to_yaml(cfg))


def checkpoint_of(ckpt_cb: ModelCheckpoint | None, which: str) -> str | None:
    """The file of the ``best`` or ``last`` checkpoint the callback kept (None: none), or ``which``
    itself for a file (checked before training)."""
    if which not in ("best", "last"):
        return which
    if ckpt_cb is None:
        return None
    return (ckpt_cb.best_model_path if which == "best" else ckpt_cb.last_model_path) or None


def fit_and_test(
    cfg: DictConfig,
    trainer: L.Trainer,
    module: KeypointModule,
    datamodule: KeypointDataModule,
    callbacks: list[Callback],
    output_dir: Path,
    start: Start,
    started: float,
) -> RunSummary:
    announce_threshold(module, trainer.loggers)
    trainer.fit(module, datamodule=datamodule, ckpt_path=start.ckpt_path, weights_only=True)

    ckpt_cb: ModelCheckpoint | None = find_callback(callbacks, ModelCheckpoint)
    stopped_early, reason = stop_reason(trainer, find_callback(callbacks, EarlyStopping))
    best_path = checkpoint_of(ckpt_cb, "best")
    score = ckpt_cb.best_model_score if ckpt_cb else None
    summary = RunSummary(
        monitor=cfg.monitor,
        best_score=None if score is None else float(score),
        best_epoch=checkpoint_epoch(best_path),
        last_epoch=trainer.current_epoch - 1,
        stopped_early=stopped_early,
        stop_reason=reason,
        best_checkpoint=best_path,
        last_checkpoint=checkpoint_of(ckpt_cb, "last"),
        loss_threshold=module.loss_threshold,
        loss_threshold_px=module.threshold_px,
        input_size=cfg.input_size,
        resumed_from=start.ckpt_path,
    )
    if cfg.test:
        test(cfg, trainer, module, datamodule, checkpoint_of(ckpt_cb, cfg.test_ckpt), summary, output_dir)
    summary.label_offset_px = label_offset_px(module)  # the tested checkpoint's (the last weights without a test)
    summary.wall_time_s = time.perf_counter() - started
    if trainer.is_global_zero:
        write_json(output_dir / "summary.json", asdict(summary))
        history: MetricsHistory | None = find_callback(callbacks, MetricsHistory)
        write_report(output_dir, asdict(summary), history.records if history else [])
        log.info(format_summary(asdict(summary), output_dir))
    return summary


def test(
    cfg: DictConfig,
    trainer: L.Trainer,
    module: KeypointModule,
    datamodule: KeypointDataModule,
    test_path: str | None,
    summary: RunSummary,
    output_dir: Path,
) -> None:
    """``Trainer.test`` on ``test_path`` (never on the last weights in memory), its result files, and
    its figures in ``summary``."""
    if test_path is None:
        log.warning(
            "\n" + "!" * 78 + f"\nNO {cfg.test_ckpt.upper()} CHECKPOINT: test skipped rather than run on the last"
            " weights in memory.\nCheck that validation ran and logged "
            f"'{cfg.monitor}', or pass test_ckpt=<path to a .ckpt>.\n" + "!" * 78
        )
        return
    results = trainer.test(module, datamodule=datamodule, ckpt_path=test_path, verbose=False, weights_only=True)
    summary.test_checkpoint = test_path
    summary.test_checkpoint_epoch = module.checkpoint_epoch  # Trainer.test loaded test_path into it
    summary.test_metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
    if trainer.is_global_zero:
        test_split = datamodule.datasets["test"]
        full = full_frame_results(module, datamodule, output_dir)
        summary.test_metrics.update(as_metrics(full))
        write_test_results(
            output_dir, module, test_split, summary.test_metrics, test_path, module.checkpoint_epoch, full
        )
