"""fit -> test on the best checkpoint -> summary. Called by the root ``train.py`` (Hydra) and by tests."""

from __future__ import annotations

import errno
import logging
import math
import os
import shutil
import signal
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from seqattn.callbacks import AtomicCheckpointIO, MetricsHistory
from seqattn.callbacks.stop_together import StopTogether, explain_distributed_failure
from seqattn.checkpoint import read_checkpoint
from seqattn.data import KeypointDataModule, build_datamodule
from seqattn.errors import ConfigError, DistributedError, UserError, exception_chain
from seqattn.evaluation.report import num, write_report
from seqattn.evaluation.results import format_metrics, write_test_results
from seqattn.files import remove_stale_partials, write_json
from seqattn.module import KeypointModule
from seqattn.training.adapt import format_header, resolve_auto
from seqattn.training.checks import check_config
from seqattn.training.distributed import (
    ddp_job,
    ddp_strategy,
    is_rank_zero,
    no_loader_workers_in_joblib,
    owns_run_folder,
)
from seqattn.training.lock import RunLock, in_use_message, live_holder
from seqattn.training.plugins import missing_plugin
from seqattn.training.resume import (
    RngState,
    continue_from,
    requeued_checkpoint,
    resume_argv,
    write_run_overrides,
)
from seqattn.training.run_info import write_run_info

log = logging.getLogger("seqattn")


@dataclass
class RunSummary:
    monitor: str
    best_score: float | None
    best_epoch: int | None
    last_epoch: int
    stopped_early: bool
    stop_reason: str
    best_checkpoint: str | None
    last_checkpoint: str | None
    loss_threshold: float | None
    loss_threshold_px: float | None
    input_size: int
    test_checkpoint: str | None = None
    test_checkpoint_epoch: int | None = None
    test_metrics: dict[str, float] = field(default_factory=dict)
    resumed_from: str | None = None  # the checkpoint this start continued, if any
    wall_time_s: float | None = None  # of this start, from config check to summary

    def objective(self) -> float:
        """The monitored best value for sweepers; NaN or missing becomes +inf."""
        v = self.best_score
        return math.inf if v is None or math.isnan(v) else float(v)


def _plain(cfg: DictConfig | None) -> dict[str, Any] | None:
    return None if cfg is None else OmegaConf.to_container(cfg, resolve=True)


def build_loggers(cfg: DictConfig | None, output_dir: Path) -> list[Any]:
    loggers = []
    for name, lcfg in (cfg or {}).items():
        kwargs: dict[str, Any] = {"save_dir": str(output_dir)}
        if name == "wandb":
            kwargs["offline"] = lcfg.get("offline", True) and os.environ.get("WANDB_MODE", "").lower() != "online"
            if not kwargs["offline"]:
                _check_wandb_login()
        loggers.append(instantiate(lcfg, **kwargs))
    return loggers


def _check_wandb_login() -> None:
    import wandb

    if not (os.environ.get("WANDB_API_KEY") or wandb.api.api_key):
        raise ConfigError(
            "wandb online needs a login: run `wandb login` or set WANDB_API_KEY; "
            "or stay offline (the default, unset WANDB_MODE) or use logger=csv"
        )


def build_callbacks(cfg: DictConfig | None, output_dir: Path) -> list[Callback]:
    callbacks = []
    for name, ccfg in (cfg or {}).items():
        if ccfg is None:  # callbacks.lr_monitor=null switches one off
            continue
        kwargs: dict[str, Any] = {}
        if name == "model_checkpoint":
            kwargs["dirpath"] = str(output_dir / "checkpoints")
            if "save_on_train_epoch_end" not in ccfg:
                # After the module has logged the epoch's train metrics, so last.ckpt holds the whole
                # epoch (history included) and a resumed run continues with the next one.
                kwargs["save_on_train_epoch_end"] = True
        callbacks.append(instantiate(ccfg, **kwargs))
    return callbacks


def _find(callbacks: list[Callback], kind: type) -> Any:
    return next((c for c in callbacks if isinstance(c, kind)), None)


def _checkpoint_epoch(path: str | None) -> int | None:
    if not path or not Path(path).is_file():
        return None
    return int(read_checkpoint(path)["epoch"])


def _stop_reason(trainer: L.Trainer, early: EarlyStopping | None) -> tuple[bool, str]:
    if early is not None and early.stopped_epoch > 0:
        return True, getattr(early, "stopping_reason_message", None) or "early stopping"
    if trainer.interrupted:
        return False, "interrupted"
    if trainer.max_epochs is not None and trainer.current_epoch >= trainer.max_epochs:
        return False, f"reached trainer.max_epochs={trainer.max_epochs}"
    return False, "time or step limit reached"


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
    datamodule = build_datamodule(cfg.data)
    adaptive = resolve_auto(cfg, datamodule)  # input_size=auto etc., from the data; explicit values win
    module = KeypointModule(
        model=_plain(cfg.model),
        loss=_plain(cfg.loss),
        optimizer=_plain(cfg.optimizer),
        scheduler=_plain(cfg.scheduler),
        input_size=cfg.input_size,
        keypoint_names=datamodule.keypoint_names,
        channels_last=bool(cfg.get("channels_last", False)),
        **(_plain(cfg.supervision) if cfg.get("supervision") else {}),
    )
    if ckpt_path:
        load_compatible(module, ckpt_path, ckpt_key)  # Trainer.fit loads it again, with its optimizer and loops
    if cfg.get("init_from"):
        init_weights(module, cfg.init_from)
    if cfg.test_ckpt not in ("best", "last"):
        if not Path(cfg.test_ckpt).is_file():
            raise ConfigError(f"test_ckpt must be best, last or a .ckpt file, got {cfg.test_ckpt!r}")
        check_keypoints(module, read_checkpoint(cfg.test_ckpt, "test_ckpt"), cfg.test_ckpt, "test_ckpt")
    # Not optional: without RngState a resumed run draws other batches than an uninterrupted one;
    # without StopTogether a SIGTERM under DDP can hang the run.
    stop = StopTogether(grace_s=float(cfg.get("stop_grace_s", 30)))
    callbacks = [*build_callbacks(cfg.get("callbacks"), output_dir), RngState(), stop]
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
        with RunLock(output_dir, take_over_other_host=restarted) if owns_run_folder() else nullcontext():
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


def check_keypoints(module: KeypointModule, ckpt: dict[str, Any], path: str | Path, key: str) -> None:
    """A ConfigError unless the checkpoint was trained on this data's keypoints, in this order."""
    names = ckpt["hyper_parameters"]["keypoint_names"]
    if names != module.keypoint_names:
        raise ConfigError(
            f"{key}: {path} was trained on {len(names)} keypoints {names}, this data has"
            f" {len(module.keypoint_names)}: {module.keypoint_names}"
        )


def load_compatible(module: KeypointModule, path: str | Path, key: str) -> dict[str, Any]:
    """Load a checkpoint's weights into ``module`` (read weights-only), or a ConfigError naming the
    file when its keypoints or its model differ from this run's; returns the checkpoint."""
    ckpt = read_checkpoint(path, key)
    check_keypoints(module, ckpt, path, key)
    try:
        module.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:  # missing, unexpected or differently shaped weights
        raise ConfigError(
            f"{key}: {path} holds another model ({str(exc).splitlines()[0]}); give the model settings"
            " it was trained with (checkpoints saved before step 0's image context: model.context_layers=0)"
        ) from None
    return ckpt


def init_weights(module: KeypointModule, checkpoint: str) -> None:
    """Start from another run's weights (fine-tuning): weights only, a new run, its own optimizer and
    schedule. The keypoints must be the same ones, in the same order."""
    ckpt = load_compatible(module, checkpoint, "init_from")
    log.info(f"init_from: weights of {checkpoint} (epoch {ckpt.get('epoch')}); a new run, optimizer and schedule")


def finish_wandb(loggers: list[Any]) -> None:
    """End the wandb run, if any: the next job of a sweep in this process must start its own run."""
    if any(type(lg).__name__ == "WandbLogger" for lg in loggers):
        import wandb

        wandb.finish()


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
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)

    ckpt_cb: ModelCheckpoint | None = _find(callbacks, ModelCheckpoint)
    early: EarlyStopping | None = _find(callbacks, EarlyStopping)
    stopped_early, reason = _stop_reason(trainer, early)
    best_path = (ckpt_cb.best_model_path or None) if ckpt_cb else None
    score = ckpt_cb.best_model_score if ckpt_cb else None
    summary = RunSummary(
        monitor=cfg.monitor,
        best_score=None if score is None else float(score),
        best_epoch=_checkpoint_epoch(best_path),
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
        history: MetricsHistory | None = _find(callbacks, MetricsHistory)
        write_report(output_dir, asdict(summary), history.records if history else [])
        log.info(format_summary(summary, output_dir))
    return summary


def format_summary(s: RunSummary, output_dir: Path) -> str:
    lines = [
        "",
        "=" * 30 + " run summary " + "=" * 30,
        f"run folder     : {output_dir}",
        f"loss threshold : {num(s.loss_threshold)} normalized"
        f" = {num(s.loss_threshold_px)} px at {s.input_size} px input",
        f"best {s.monitor:<10}: {num(s.best_score)} at epoch {s.best_epoch}",
        f"stopped        : after epoch {s.last_epoch} ({s.stop_reason})",
        f"best checkpoint: {s.best_checkpoint}",
        f"last checkpoint: {s.last_checkpoint}",
        f"wall time      : {num(s.wall_time_s)} s" + (f" (continued {s.resumed_from})" if s.resumed_from else ""),
    ]
    if s.test_checkpoint:
        lines.append(f"test metrics   : from {s.test_checkpoint} (epoch {s.test_checkpoint_epoch})")
        lines += format_metrics(s.test_metrics)
    else:
        lines.append("test metrics   : none (no test run)")
    return "\n".join(lines + ["=" * 73])


def _discard_unused_run_dir(output_dir: Path) -> None:
    """Remove a run folder that holds only Hydra's config copy and log: the run never started."""
    if output_dir.is_dir() and all(p.name in (".hydra", "train.log") for p in output_dir.iterdir()):
        shutil.rmtree(output_dir, ignore_errors=True)
        for parent in (output_dir.parent, output_dir.parent.parent):  # outputs/<date>, if left empty
            if parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()


def cli_argv(argv: list[str], conf_dir: Path) -> list[str]:
    """train.py's arguments, checked (one-line errors, exit 2: unknown config names, missing sweep plugins) and
    with ``resume`` expanded (see seqattn.training.resume)."""
    check_group_choices(argv, conf_dir)
    try:
        if problem := missing_plugin(argv, conf_dir):
            raise ConfigError(problem)
        argv = resume_argv(argv)
        check_run_dir(argv)
        return argv
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


def check_run_dir(argv: list[str]) -> None:
    """Before Hydra writes into it: a ``hydra.run.dir`` that another live run holds, or that cannot be
    made (a file on its path), is a ConfigError."""
    given = [a.split("=", 1)[1] for a in argv if a.startswith("hydra.run.dir=")]
    if not given or any(a in ("-m", "--multirun") for a in argv) or not owns_run_folder():
        return  # a sweep's jobs have folders of their own; DDP's other ranks share rank 0's
    folder = Path(given[-1].strip("'\""))
    if (holder := live_holder(folder)) is not None:
        raise ConfigError(in_use_message(folder, holder))
    existing = next(p for p in (folder, *folder.parents) if p.exists() or p == p.parent)
    if existing.exists() and not existing.is_dir():
        raise ConfigError(f"hydra.run.dir: cannot make the run folder {folder}: {existing} is a file")


def check_group_choices(argv: list[str], conf_dir: Path) -> None:
    """One-line error for ``group=name`` overrides naming no file in ``conf/<group>/`` (before Hydra)."""
    for arg in argv:
        key, sep, value = arg.partition("=")
        group = conf_dir / key
        if not sep or key.startswith(("+", "~", "hydra")) or "." in key or not group.is_dir():
            continue
        choices = sorted(p.stem for p in group.glob("*.yaml") if not p.stem.startswith("_"))
        for name in value.split(","):
            if name not in choices and name != "null":
                print(f"error: unknown {key} '{name}' ({arg}); choose one of: {', '.join(choices)}", file=sys.stderr)
                sys.exit(2)


def main(cfg: DictConfig, entry_script: Path | None = None) -> float:
    """Hydra entry: one-line errors for config and data problems; the objective for sweepers."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    started = time.perf_counter()
    try:
        return train(cfg, entry_script).objective()
    except Exception as exc:  # noqa: BLE001 - user errors may arrive wrapped by hydra.instantiate
        user_error, write_error = find_user_error(exc), write_failure(exc)
        if user_error is None and write_error is None and not multirun:
            raise
        message = str(user_error or write_error or f"{type(exc).__name__}: {exc}")
        if not multirun:
            if user_error:
                _discard_unused_run_dir(Path(cfg.paths.output_dir))
            print(f"error: {message}", file=sys.stderr)
            sys.exit(2)
        # In a sweep one failed job must not stop the others: record it (its folder and overrides
        # stay, for the sweep summary) and report +inf.
        log.exception(f"job failed: {message}")
        if is_rank_zero():
            failed = {"error": message, "wall_time_s": time.perf_counter() - started}
            write_json(Path(cfg.paths.output_dir) / "summary.json", failed)
        return math.inf


# A file could not be written: the disk is full, the folder read-only or a file, a size limit reached.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.ENOTDIR}


def write_failure(exc: BaseException) -> str | None:
    """One line for an OSError behind ``exc`` that means "cannot write this file", if any."""
    for e in exception_chain(exc):
        if isinstance(e, OSError) and e.errno in _WRITE_ERRNOS:
            where = e.filename or "a file of the run"
            return f"cannot write {where}: {e.strerror or e} (free space or fix the folder's permissions)"
    return None


def find_user_error(exc: BaseException) -> UserError | None:
    """The UserError behind ``exc`` (hydra.instantiate wraps errors raised in constructors), if any."""
    return next((e for e in exception_chain(exc) if isinstance(e, UserError)), None)
