"""Continue an interrupted run in its own folder: ``resume=<run folder>`` or ``ckpt_path=<run>/checkpoints/x.ckpt``.

Lightning restores weights, optimizer, scheduler, loop counters and the callbacks' state from the
checkpoint. Two things it does not keep are added here: the random number generators (so the
resumed epochs draw the same shuffles and augmentations as an uninterrupted run), and the run's
own config (its ``.hydra/overrides.yaml`` is replayed, so ``resume=<run>`` alone continues the same
experiment). ``checkpoints/last.ckpt`` is written at the end of every epoch: an interrupted run
loses at most the epoch it was in.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import yaml
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.trainer.states import TrainerFn
from omegaconf import DictConfig

from seqattn.checkpoint import REMOVED_EXPERIMENTS, read_checkpoint, removed_option
from seqattn.errors import ConfigError
from seqattn.io.files import write_text
from seqattn.training import overrides
from seqattn.training.run_info import RUN_INFO_FILE

log = logging.getLogger(__name__)

LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"
RUN_OVERRIDES = Path(".hydra") / "overrides.yaml"
# Keys of a run's saved overrides that a resume replaces rather than replays.
_NOT_REPLAYED = ("resume", "ckpt_path", "hydra.run.dir")


def requeued_checkpoint(output_dir: Path) -> str | None:
    """The checkpoint to continue from when this job is a restart of one that the cluster requeued
    (preempted or out of time) in the same folder; None otherwise.

    A restart is a submitit job (``hydra/launcher=slurm``, submitit requeues on its signal) or a
    SLURM job with ``SLURM_RESTART_COUNT`` > 0 (Lightning's own auto-requeue, which leaves an
    ``hpc_ckpt_N.ckpt`` in the folder). The newest of ``checkpoints/last.ckpt`` and those is taken.
    """
    # submitit sets SUBMITIT_EXECUTOR in the jobs it starts: a folder that already holds a
    # checkpoint there is this job's earlier attempt (every Hydra job has a folder of its own).
    restarted = int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) > 0 or bool(os.environ.get("SUBMITIT_EXECUTOR"))
    if not restarted or (output_dir / "summary.json").is_file():
        return None
    found = [p for p in [output_dir / LAST_CHECKPOINT, *output_dir.glob("hpc_ckpt_*.ckpt")] if p.is_file()]
    return str(max(found, key=lambda p: p.stat().st_mtime)) if found else None


def _rng_states() -> dict[str, Any]:
    # Plain lists and tensors only: checkpoints are loaded with torch.load(weights_only=True).
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    numpy_state = [name, keys.tolist(), pos, has_gauss, gauss]
    states = {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    name, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


class RngState(Callback):
    """Saves the random generators' states in every checkpoint and restores them when a fit resumes.

    A checkpoint taken at an epoch's end holds the states the next epoch starts from. They are set
    as soon as the checkpoint is loaded, before Lightning creates the training DataLoader's iterator
    (which draws a seed), so the resumed epochs see the shuffles and augmentations of an
    uninterrupted run. Exact in a single process with ``data.num_workers=0``: DataLoader workers
    and DDP ranks other than 0 keep generators of their own that a checkpoint does not hold.
    """

    def state_dict(self) -> dict[str, Any]:
        return {"rng": _rng_states()}

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        # Lightning also restores callbacks when testing a checkpoint: leave the generators alone then.
        states = checkpoint.get("callbacks", {}).get(self.state_key, {}).get("rng")
        if states is not None and trainer.state.fn == TrainerFn.FITTING:
            _set_rng_states(states)


def is_run_folder(path: Path) -> bool:
    return (path / RUN_OVERRIDES).is_file() or (path / RUN_INFO_FILE).is_file()


def run_folder_of(ckpt: Path) -> Path | None:
    """The run folder whose ``checkpoints/`` holds ``ckpt``, if it is a run folder."""
    run = ckpt.resolve().parent.parent
    return run if ckpt.resolve().parent.name == "checkpoints" and is_run_folder(run) else None


def continue_from(resume: str | None, ckpt_path: str | None) -> tuple[str | None, Path | None]:
    """(checkpoint to continue, the run folder it belongs to) for ``resume`` / ``ckpt_path``.

    ``resume=<run>`` means ``<run>/checkpoints/last.ckpt``. A ``ckpt_path`` outside a run folder's
    ``checkpoints/`` gives no folder. Neither set: (None, None)."""
    if resume and ckpt_path:
        raise ConfigError("give resume=<run folder> or ckpt_path=<file.ckpt>, not both")
    if resume:
        run = Path(resume).resolve()
        if not (run / LAST_CHECKPOINT).is_file():
            raise ConfigError(f"resume: no {LAST_CHECKPOINT} in {resume} (give a run folder of train.py)")
        return str(run / LAST_CHECKPOINT), run
    if ckpt_path:
        return str(ckpt_path), run_folder_of(Path(ckpt_path))
    return None, None


@dataclass(frozen=True)
class Start:
    """Where a run starts: the folder it writes to and the checkpoint it continues, read once."""

    output_dir: Path
    ckpt_path: str | None = None
    ckpt: dict[str, Any] | None = None  # its contents, read weights-only and migrated
    key: str = "ckpt_path"  # the setting that named the checkpoint, for errors
    own_folder: bool = False  # the checkpoint lies in its run folder's checkpoints/, where the run goes on
    requeued: bool = False  # a cluster's restart of this job


def locate_start(cfg: DictConfig) -> Start:
    """The checkpoint ``resume``, ``ckpt_path`` or a cluster's requeue continues, read here once: a
    missing, truncated, foreign or unsafe file stops the run before anything is written."""
    path, run = continue_from(cfg.get("resume"), cfg.get("ckpt_path"))
    key = "resume" if cfg.get("resume") else "ckpt_path"
    output_dir = run or Path(cfg.paths.output_dir)
    requeued = False
    if path is None and (path := requeued_checkpoint(output_dir)):
        key, requeued = "requeued run", True
        log.warning(f"restarted by the cluster after a requeue: continuing this job from {path}")
    ckpt = read_checkpoint(path, key) if path else None
    return Start(output_dir, path, ckpt, key, run is not None, requeued)


def resume_argv(argv: list[str]) -> list[str]:
    """train.py's arguments for ``resume=<run>`` or ``ckpt_path=<run>/checkpoints/x.ckpt``: the run's
    saved overrides, then the given ones (these win), and ``hydra.run.dir`` pinned to the run folder,
    so the run goes on with its own config in its own folder. Other arguments come back unchanged."""
    resume, ckpt_path = overrides.value(argv, "resume"), overrides.value(argv, "ckpt_path")
    if (resume or ckpt_path) and any(a in ("-m", "--multirun") for a in argv):
        raise ConfigError("resume / ckpt_path continue one run: run them without -m, one command per run folder")
    path, run = continue_from(resume, ckpt_path)
    if path is not None:  # before Hydra makes a folder: a file that cannot be continued stops here
        read_checkpoint(path, "resume" if resume else "ckpt_path")
    if run is None:  # nothing to continue, or a checkpoint from elsewhere: a new run folder
        return argv
    replayed = [o for o in saved_overrides(run) if overrides.key(o) not in _NOT_REPLAYED]
    given = [a for a in argv if overrides.is_override(a)]
    flags = [a for a in argv if not overrides.is_override(a)]  # -m, --config-name x, ...
    # Hydra would rewrite the folder's .hydra/ at once, bad overrides included; train() writes it
    # itself once the config and the checkpoint have passed every check (write_run_overrides).
    pinned = [f'hydra.run.dir="{run}"', "hydra.output_subdir=null"]
    return [*flags, *overrides.merge(replayed, given, pinned)]


def saved_overrides(run: Path) -> list[str]:
    """The overrides a run folder was started with (``.hydra/overrides.yaml``; none if absent)."""
    path = run / RUN_OVERRIDES
    if not path.is_file():
        return []
    try:
        saved = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"resume: {path} is not readable YAML ({str(exc).splitlines()[0]})") from None
    if saved is None:
        return []
    if not isinstance(saved, list) or not all(isinstance(o, str) for o in saved):
        raise ConfigError(f"resume: {path} must be a list of overrides (key=value strings)")
    for override in saved:
        key, _, value = override.partition("=")
        if key.lstrip("+") == "experiment" and value in REMOVED_EXPERIMENTS:
            raise removed_option(f"resume: {run} was started with {REMOVED_EXPERIMENTS[value]}", "continue it")
    return saved


def write_run_overrides(run: Path, overrides: list[str], config_yaml: str) -> None:
    """Record a resumed run's overrides and config in its ``.hydra/`` (what Hydra writes for a new
    run), each file whole; called only after every check has passed."""
    write_text(run / RUN_OVERRIDES, yaml.safe_dump(list(overrides), default_flow_style=False))
    write_text(run / RUN_OVERRIDES.with_name("config.yaml"), config_yaml)
