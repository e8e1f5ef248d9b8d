"""Multi-process (DDP) training under Hydra: every process writes into the job's one run folder.

Lightning's ``ddp`` strategy starts ranks 1..N-1 by re-running ``__main__`` with ``sys.argv`` plus
``hydra.run.dir=<HydraConfig run.dir>``. That is right for a single run, but in a sweep ``sys.argv``
holds ``-m`` and the whole sweep (each child starts the sweep again, in a new sweep folder),
``run.dir`` is not the job's folder, and under the joblib or submitit launchers ``__main__`` is
their worker, not train.py. Here the children run train.py with the job's own overrides, in
Hydra's run mode, with ``hydra.run.dir`` pinned to the job's actual output folder.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.strategies.launchers import subprocess_script
from lightning.pytorch.utilities import rank_zero_only

log = logging.getLogger(__name__)


def is_rank_zero() -> bool:
    """True in the process that writes files: rank 0, or the only process (known before the Trainer exists)."""
    return getattr(rank_zero_only, "rank", 0) == 0


def owns_run_folder() -> bool:
    """True in the one process that holds the run folder (its lock): rank 0 of node 0. The other
    ranks, DDP children started with the same ``hydra.run.dir`` included, write nothing there."""
    return is_rank_zero() and os.environ.get("NODE_RANK", "0") in ("", "0")


def in_joblib_job() -> bool:
    """True inside a job of Hydra's joblib launcher (``hydra/launcher=parallel`` or ``joblib``)."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.initialized() and "joblib" in str(HydraConfig.get().launcher.get("_target_", ""))


# Lightning's names for the DDP strategy that re-runs the script, with the arguments they stand for.
_DDP_NAMES = {"ddp": {}, "ddp_find_unused_parameters_true": {"find_unused_parameters": True}}


def ddp_strategy(strategy: Any, timeout_s: float | None) -> Any:
    """``strategy`` as given, except that ``ddp`` becomes a DDPStrategy whose collectives fail after
    ``timeout_s`` seconds instead of Lightning's 30 minutes (a stuck run ends, naming where it was)."""
    if not isinstance(strategy, str) or strategy not in _DDP_NAMES or not timeout_s:
        return strategy
    from lightning.pytorch.strategies import DDPStrategy

    return DDPStrategy(timeout=timedelta(seconds=float(timeout_s)), **_DDP_NAMES[strategy])


def child_command(local_rank: int, script: Path, output_dir: Path) -> tuple[list[str], str]:
    """The command (and working directory) that starts rank ``local_rank`` of the current Hydra job."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import get_original_cwd

    hydra_cfg = HydraConfig.get()
    command = [
        sys.executable,
        str(script),
        f"--config-name={hydra_cfg.job.config_name}",
        *hydra_cfg.overrides.task,
        f'hydra.run.dir="{output_dir}"',
        "hydra.output_subdir=null",  # rank 0 already wrote .hydra/; the children must not overwrite it
        f"hydra.job.name={hydra_cfg.job.name}_rank{local_rank}",  # own log file: <job name>_rank<N>.log
    ]
    return command, get_original_cwd()


# Set in this process by Lightning's DDP launcher. Left over, the next job of a sweep would take
# LOCAL_RANK as "processes are started externally" and wait forever for ranks that never come.
_LAUNCHER_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE", "OMP_NUM_THREADS")


@contextmanager
def ddp_job(script: Path | None, output_dir: Path) -> Iterator[None]:
    """One training job. Lightning's DDP launcher starts its child processes with :func:`child_command`;
    when the job ends, its process group, launcher environment and thread count are undone, so the
    next job of a sweep in this process starts its own.

    ``script`` is the Hydra entry script (root ``train.py``); without it (tests calling ``train(cfg)``
    directly) Lightning's own command is left as it is.
    """
    # The module logs epoch metrics already gathered from every process (equal on all ranks), so
    # Lightning's advice to add sync_dist=True would only average equal values: silence it.
    warnings.filterwarnings("ignore", message=r"It is recommended to use `self.log\(.*sync_dist=True")
    # Testing under DDP is exact here: the metric drops the samples DistributedSampler repeats.
    warnings.filterwarnings("ignore", message=r"Using `DistributedSampler` with the dataloaders. During `trainer.test")
    env, threads = {key: os.environ.get(key) for key in _LAUNCHER_ENV}, torch.get_num_threads()
    original = subprocess_script._hydra_subprocess_cmd
    if script is not None:
        subprocess_script._hydra_subprocess_cmd = lambda local_rank: child_command(local_rank, script, output_dir)
    try:
        yield
    finally:
        subprocess_script._hydra_subprocess_cmd = original
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        torch.set_num_threads(threads)
