"""fit -> test on the best checkpoint -> summary. Called by the root ``train.py`` (Hydra) and by tests.

``train`` runs named steps, in one pass down the layers: check the config, find where the run
starts (reading a continued checkpoint once), read the labels, resolve every ``auto`` from them,
build the data module, the LightningModule and the Trainer from the resolved config, then fit and
test in the run folder. Everything that can reject the config, the data or a checkpoint runs
before anything is written.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from seqattn.allocator import keep_large_buffers
from seqattn.callbacks import AtomicCheckpointIO
from seqattn.callbacks.last_step import ValidateLastStep
from seqattn.callbacks.stop_together import StopTogether
from seqattn.checkpoint import check_keypoints, load_compatible, read_checkpoint
from seqattn.data import Geometry, KeypointSource, build_datamodule, build_source
from seqattn.data.video_frames import find_videos
from seqattn.errors import ConfigError
from seqattn.module import KeypointModule
from seqattn.training.adapt import Pinned, resolve_auto
from seqattn.training.checks import check_config
from seqattn.training.components import build_callbacks, build_loggers
from seqattn.training.data_stats import measure
from seqattn.training.distributed import ddp_strategy, in_joblib_job
from seqattn.training.fit import TrainerParts, run_in_folder
from seqattn.training.resume import RngState, Start, locate_start
from seqattn.training.summary import RunSummary
from seqattn.training.task import run_task

log = logging.getLogger("seqattn")


def train(cfg: DictConfig, entry_script: Path | None = None) -> RunSummary:
    """Train, test on the chosen (default: best) checkpoint, write summary.json; return the summary.

    ``resume=<run>`` or ``ckpt_path=<run>/checkpoints/x.ckpt`` continue that run in its folder.
    ``entry_script``: the Hydra script (train.py) that DDP re-runs for its other processes.
    """
    started = time.perf_counter()
    log.info(f"allocator: {keep_large_buffers()}")
    check_config(cfg)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    start = locate_start(cfg)
    source = build_source(cfg.data)
    if cfg.data.get("unlabelled"):
        find_videos(cfg.data.unlabelled)  # a wrong path stops the run here, naming it, even when unused
    pinned = Pinned.of(start.ckpt, start.ckpt_path) if start.ckpt is not None else None
    cfg, adaptive = resolve_auto(cfg, measure(source), pinned, in_joblib_job())
    detector_size = cfg.detector.input_size if cfg.get("detector") else None
    datamodule = build_datamodule(cfg.data, Geometry.for_model(cfg.input_size, cfg.model), source, True, detector_size)
    module = build_module(cfg, source, datamodule.keypoint_names)
    load_start_weights(cfg, module, start)
    check_test_checkpoint(cfg.test_ckpt, module)
    parts = build_trainer(cfg, start.output_dir)
    if start.ckpt_path and not start.own_folder and not start.requeued:
        log.warning(f"{start.ckpt_path} is not in a run folder's checkpoints/: continuing it in a new folder")
    return run_in_folder(cfg, parts, module, datamodule, start, adaptive, entry_script, started)


def _plain(cfg: DictConfig | None) -> dict[str, Any] | None:
    return None if cfg is None else OmegaConf.to_container(cfg, resolve=True)


def build_module(cfg: DictConfig, source: KeypointSource, keypoint_names: list[str]) -> KeypointModule:
    """The LightningModule of the resolved config."""
    return KeypointModule(
        model=_plain(cfg.model),
        loss=_plain(cfg.loss),
        optimizer=_plain(cfg.optimizer),
        scheduler=_plain(cfg.scheduler),
        input_size=cfg.input_size,
        keypoint_names=keypoint_names,
        channels_last=bool(cfg.get("channels_last", False)),
        flip_pairs=[list(p) for p in source.flip_pairs or []] if cfg.get("test_time_flip") is True else None,
        detector=_plain(cfg.get("detector")),
        **(_plain(cfg.supervision) if cfg.get("supervision") else {}),
    )


def load_start_weights(cfg: DictConfig, module: KeypointModule, start: Start) -> None:
    """The weights a run starts from: the continued checkpoint's (checked against this run's model
    before Trainer.fit loads it with its optimizer and loops), or ``init_from``'s."""
    if start.ckpt is not None:
        load_compatible(module, start.ckpt, start.ckpt_path, start.key)
    if cfg.get("init_from"):
        init_weights(module, cfg.init_from)


def init_weights(module: KeypointModule, checkpoint: str) -> None:
    """Start from another run's weights (fine-tuning): weights only, a new run, its own optimizer and
    schedule. The keypoints must be the same ones, in the same order."""
    ckpt = read_checkpoint(checkpoint, "init_from")
    load_compatible(module, ckpt, checkpoint, "init_from")
    log.info(f"init_from: weights of {checkpoint} (epoch {ckpt.get('epoch')}); a new run, optimizer and schedule")


def check_test_checkpoint(test_ckpt: str, module: KeypointModule) -> None:
    """``test_ckpt``: best, last, or a checkpoint file of this run's keypoints and input size."""
    if test_ckpt in ("best", "last"):
        return
    if not Path(test_ckpt).is_file():
        raise ConfigError(f"test_ckpt must be best, last or a .ckpt file, got {test_ckpt!r}")
    ckpt = read_checkpoint(test_ckpt, "test_ckpt")
    check_keypoints(module, ckpt, test_ckpt, "test_ckpt")
    if (size := int(ckpt["hyper_parameters"]["input_size"])) != module.input_size:
        raise ConfigError(f"test_ckpt: {test_ckpt} was trained at input_size {size}, this run at {module.input_size}")


def build_trainer(cfg: DictConfig, output_dir: Path) -> TrainerParts:
    """The Trainer with the configured callbacks and loggers, plus three a run cannot do without:
    RngState (a resumed run draws the batches of an uninterrupted one), ValidateLastStep (the last,
    partial epoch of a step budget is validated) and StopTogether (a SIGTERM under DDP cannot hang
    the run)."""
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
    return TrainerParts(trainer, callbacks, loggers, stop, timeout_s)


def main(cfg: DictConfig, entry_script: Path | None = None) -> float:
    """Hydra entry: one-line errors for config and data problems; the objective for sweepers."""
    return run_task(lambda: train(cfg, entry_script).objective(), Path(cfg.paths.output_dir))
