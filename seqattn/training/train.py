"""fit -> test on the best checkpoint -> summary. Called by the root ``train.py`` (Hydra) and by tests."""

from __future__ import annotations

import logging
import signal
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from seqattn.callbacks import AtomicCheckpointIO, MetricsHistory
from seqattn.callbacks.last_step import ValidateLastStep
from seqattn.callbacks.stop_together import StopTogether, explain_distributed_failure
from seqattn.checkpoint import check_keypoints, load_compatible, read_checkpoint
from seqattn.data import Geometry, KeypointDataModule, build_datamodule, build_source
from seqattn.errors import ConfigError, DistributedError
from seqattn.evaluation.report import format_summary, write_report
from seqattn.io.files import remove_stale_partials, write_json
from seqattn.module import KeypointModule
from seqattn.training.adapt import format_header, measure, pin_to_checkpoint, resolve_auto
from seqattn.training.budget import resolve_train_images
from seqattn.training.checks import check_config
from seqattn.training.components import build_callbacks, build_loggers, find_callback, finish_wandb
from seqattn.training.distributed import (
    ddp_job,
    ddp_strategy,
    is_rank_zero,
    no_loader_workers_in_joblib,
    owns_run_folder,
)
from seqattn.training.lock import RunLock
from seqattn.training.resume import (
    RngState,
    continue_from,
    requeued_checkpoint,
    write_run_overrides,
)
from seqattn.training.run_info import write_run_info
from seqattn.training.summary import RunSummary, announce_threshold, checkpoint_epoch, stop_reason
from seqattn.training.task import run_task
from seqattn.training.test_results import write_test_results

log = logging.getLogger("seqattn")


def _plain(cfg: DictConfig | None) -> dict[str, Any] | None:
    return None if cfg is None else OmegaConf.to_container(cfg, resolve=True)


def _resolve_test_ckpt(which: str, ckpt_cb: ModelCheckpoint | None) -> str | None:
    if which == "best":
        return (ckpt_cb.best_model_path or None) if ckpt_cb else None
    if which == "last":
        return (ckpt_cb.last_model_path or None) if ckpt_cb else None
    return which  # a file, checked before training (train)


def train(cfg: DictConfig, entry_script: Path | None = None) -> RunSummary:
    """Train, test on the chosen (default: best) checkpoint, write summary.json; return the summary.

    ``resume=<run>`` or ``ckpt_path=<run>/checkpoints/x.ckpt`` continue that run in its folder.
    ``entry_script``: the Hydra script (train.py) that DDP re-runs for its other processes.
    """
    started = time.perf_counter()
    check_config(cfg)
    cfg, budget = resolve_train_images(cfg)  # a fixed amount of training: trainer.max_steps
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    # Everything that can reject the config, the data or a checkpoint runs before anything is written.
    ckpt_path, run_folder = continue_from(cfg.get("resume"), cfg.get("ckpt_path"))
    ckpt_key = "resume" if cfg.get("resume") else "ckpt_path"
    output_dir = run_folder or Path(cfg.paths.output_dir)
    restarted = False
    if ckpt_path is None and (ckpt_path := requeued_checkpoint(output_dir)):
        restarted, ckpt_key = True, "requeued run"
        log.warning(f"restarted by the cluster after a requeue: continuing this job from {ckpt_path}")
    no_loader_workers_in_joblib(cfg)
    # Resolve, then build: the data's statistics fill every `auto` once; everything below is built
    # from the resolved config and never changed after.
    source = build_source(cfg.data)
    if ckpt_path:  # a continued run keeps the letterbox and model its checkpoint was trained with
        cfg = pin_to_checkpoint(cfg, read_checkpoint(ckpt_path, ckpt_key), ckpt_path)
    cfg, adaptive = resolve_auto(cfg, measure(source))
    adaptive["chosen"].update(budget)
    datamodule = build_datamodule(cfg.data, Geometry.for_model(cfg.input_size, cfg.model), source)
    module = KeypointModule(
        model=_plain(cfg.model),
        loss=_plain(cfg.loss),
        optimizer=_plain(cfg.optimizer),
        scheduler=_plain(cfg.scheduler),
        input_size=cfg.input_size,
        keypoint_names=datamodule.keypoint_names,
        channels_last=bool(cfg.get("channels_last", False)),
        flip_pairs=[list(p) for p in source.flip_pairs or []] if cfg.get("test_time_flip") is True else None,
        **(_plain(cfg.supervision) if cfg.get("supervision") else {}),
    )
    if ckpt_path:
        load_compatible(module, ckpt_path, ckpt_key)  # Trainer.fit loads it again, with its optimizer and loops
    if cfg.get("init_from"):
        init_weights(module, cfg.init_from)
    if cfg.test_ckpt not in ("best", "last"):
        if not Path(cfg.test_ckpt).is_file():
            raise ConfigError(f"test_ckpt must be best, last or a .ckpt file, got {cfg.test_ckpt!r}")
        test_ckpt = read_checkpoint(cfg.test_ckpt, "test_ckpt")
        check_keypoints(module, test_ckpt, cfg.test_ckpt, "test_ckpt")
        if (size := int(test_ckpt["hyper_parameters"]["input_size"])) != module.input_size:
            raise ConfigError(
                f"test_ckpt: {cfg.test_ckpt} was trained at input_size {size}, this run at {module.input_size}"
            )
    # Not optional: without RngState a resumed run draws other batches than an uninterrupted one;
    # without StopTogether a SIGTERM under DDP can hang the run; without ValidateLastStep the last,
    # partial epoch of a step budget (train_images) is trained but never validated.
    stop = StopTogether(grace_s=float(cfg.get("stop_grace_s", 30)))
    callbacks = [*build_callbacks(cfg.get("callbacks"), output_dir), RngState(), ValidateLastStep(), stop]
    loggers = build_loggers(cfg.get("logger"), output_dir)
    timeout_s = cfg.get("ddp_timeout_s")
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers or False,
        default_root_dir=str(output_dir),
        strategy=ddp_strategy(cfg.trainer.get("strategy", "auto"), timeout_s),
        plugins=[AtomicCheckpointIO()],  # checkpoints written whole or not at all
    )
    if ckpt_path and run_folder is None and not restarted:
        log.warning(f"{ckpt_path} is not in a run folder's checkpoints/: continuing it in a new folder {output_dir}")

    try:
        # Rank 0 writes; the lock refuses a folder that another live run is writing to.
        with RunLock(output_dir) if owns_run_folder() else nullcontext():
            if is_rank_zero():
                log.info("run header\n" + format_header(adaptive))
                for folder in (output_dir, output_dir / "checkpoints"):  # writes killed midway
                    remove_stale_partials(folder)
                write_run_info(output_dir, cfg, ckpt_path, adaptive=adaptive)
                if run_folder is not None:
                    _record_overrides(run_folder, cfg)
            with ddp_job(entry_script, output_dir):
                try:
                    summary = _fit_and_test(cfg, trainer, module, datamodule, callbacks, output_dir, ckpt_path, started)
                except Exception as exc:  # a collective that timed out or lost its peer: say which rank, where
                    if message := explain_distributed_failure(exc, stop.position, timeout_s):
                        raise DistributedError(message) from exc
                    raise
    except SystemExit as exc:  # Lightning's answer to Ctrl+C (exit 1) and to SIGTERM (no exit code)
        if trainer.interrupted and is_rank_zero():
            log.warning(f"interrupted; continue from the last finished epoch: python train.py resume={output_dir}")
        raise SystemExit(128 + signal.SIGTERM if exc.code is None else exc.code) from exc
    finally:
        finish_wandb(loggers)
    return summary


def _record_overrides(run: Path, cfg: DictConfig) -> None:
    """A run continued in its folder under Hydra: its ``.hydra/`` now records this start's overrides
    (train.py kept Hydra from writing them before the checks)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        write_run_overrides(run, list(HydraConfig.get().overrides.task), OmegaConf.to_yaml(cfg))


def init_weights(module: KeypointModule, checkpoint: str) -> None:
    """Start from another run's weights (fine-tuning): weights only, a new run, its own optimizer and
    schedule. The keypoints must be the same ones, in the same order."""
    ckpt = load_compatible(module, checkpoint, "init_from")
    log.info(f"init_from: weights of {checkpoint} (epoch {ckpt.get('epoch')}); a new run, optimizer and schedule")


def _fit_and_test(
    cfg: DictConfig,
    trainer: L.Trainer,
    module: KeypointModule,
    datamodule: KeypointDataModule,
    callbacks: list[Callback],
    output_dir: Path,
    ckpt_path: str | None,
    started: float,
) -> RunSummary:
    announce_threshold(module, trainer.loggers)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)

    ckpt_cb: ModelCheckpoint | None = find_callback(callbacks, ModelCheckpoint)
    early: EarlyStopping | None = find_callback(callbacks, EarlyStopping)
    stopped_early, reason = stop_reason(trainer, early)
    best_path = (ckpt_cb.best_model_path or None) if ckpt_cb else None
    score = ckpt_cb.best_model_score if ckpt_cb else None
    summary = RunSummary(
        monitor=cfg.monitor,
        best_score=None if score is None else float(score),
        best_epoch=checkpoint_epoch(best_path),
        last_epoch=trainer.current_epoch - 1,
        stopped_early=stopped_early,
        stop_reason=reason,
        best_checkpoint=best_path,
        last_checkpoint=(ckpt_cb.last_model_path or None) if ckpt_cb else None,
        loss_threshold=getattr(module.loss, "threshold", None),
        loss_threshold_px=module.threshold_px,
        input_size=cfg.input_size,
        resumed_from=ckpt_path,
    )

    if cfg.test:
        test_path = _resolve_test_ckpt(cfg.test_ckpt, ckpt_cb)
        if test_path is None:
            log.warning(
                "\n" + "!" * 78 + f"\nNO {cfg.test_ckpt.upper()} CHECKPOINT: test skipped rather than run on the last"
                " weights in memory.\nCheck that validation ran and logged "
                f"'{cfg.monitor}', or pass test_ckpt=<path to a .ckpt>.\n" + "!" * 78
            )
        else:
            results = trainer.test(module, datamodule=datamodule, ckpt_path=test_path, verbose=False, weights_only=True)
            summary.test_checkpoint = test_path
            summary.test_checkpoint_epoch = module.checkpoint_epoch  # Trainer.test loaded test_path into it
            summary.test_metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
            if trainer.is_global_zero:
                write_test_results(
                    output_dir,
                    module,
                    datamodule.datasets["test"],
                    summary.test_metrics,
                    test_path,
                    summary.test_checkpoint_epoch,
                )

    summary.wall_time_s = time.perf_counter() - started
    if trainer.is_global_zero:
        write_json(output_dir / "summary.json", asdict(summary))
        history: MetricsHistory | None = find_callback(callbacks, MetricsHistory)
        write_report(output_dir, asdict(summary), history.records if history else [])
        log.info(format_summary(asdict(summary), output_dir))
    return summary


def main(cfg: DictConfig, entry_script: Path | None = None) -> float:
    """Hydra entry: one-line errors for config and data problems; the objective for sweepers."""
    return run_task(lambda: train(cfg, entry_script).objective(), Path(cfg.paths.output_dir))
