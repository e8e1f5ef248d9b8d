"""SIGTERM stops every process of a run at the same batch; a stuck or lost process is named, never waited on."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException

from seqattn.errors import exception_chain

log = logging.getLogger(__name__)


class StopTogether(Callback):
    """Replaces Lightning's SIGTERM handling with one that is safe under DDP, and tracks where a run is.

    Lightning's handler broadcasts from inside the signal handler, so at whatever instruction the
    signal lands, pairing with some unrelated collective of the other ranks (a hang); a SIGTERM to
    one rank other than 0 stops that rank alone and leaves the others waiting for it. Here the
    handler only sets a flag. At the start of every batch (train, validation, test) the ranks take
    the maximum of their flags in one all-reduce, a point every rank reaches the same number of
    times, and all raise Lightning's ``SIGTERMException`` there together: the run ends within a
    batch, whichever rank was signalled. A process still alive ``grace_s`` seconds after its
    signal (stuck in a collective whose peer died) exits at once with status 143; one whose stop
    reached Lightning's exit path is left to end normally.

    ``position`` says where the run is ("train epoch 2, batch 5"), for the error that names the
    rank and the stage when a collective times out or a peer is lost.
    """

    def __init__(self, grace_s: float = 30.0) -> None:
        self.grace_s = grace_s
        self.requested = False
        self.position = "setup"
        self._who = ""  # "rank r of n: " under DDP
        self._timer: threading.Timer | None = None

    # --- the signal ---------------------------------------------------------------------------
    def _on_sigterm(self, signum: int, frame: Any) -> None:
        if self.requested:
            return
        self.requested = True
        log.warning(f"{self._who}SIGTERM received ({self.position}): stopping every process at the next batch")
        self._timer = threading.Timer(self.grace_s, self._hard_exit)
        self._timer.daemon = True
        self._timer.start()

    def _hard_exit(self) -> None:
        print(
            f"{self._who}still running {self.grace_s:g} s after SIGTERM ({self.position}): exiting now",
            file=sys.stderr,
            flush=True,
        )
        os._exit(128 + signal.SIGTERM)

    def _install(self, trainer: L.Trainer) -> None:
        # Lightning registers its handlers when a fit/test starts (after on_fit_start) and restores
        # the earlier ones when it ends: take SIGTERM over at the first hooks after that.
        self._who = f"rank {trainer.global_rank} of {trainer.world_size}: " if trainer.world_size > 1 else ""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def on_sanity_check_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._install(trainer)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._install(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._install(trainer)

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._install(trainer)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        # The stop reached Lightning's exit path: this process is no longer stuck, no need to kill it.
        if self._timer is not None:
            self._timer.cancel()

    def _stop_if_any_rank_asked(self, trainer: L.Trainer) -> None:
        requested = self.requested
        if trainer.world_size > 1 and dist.is_available() and dist.is_initialized():
            flag = torch.tensor([float(requested)], device=trainer.strategy.root_device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            requested = bool(flag.item() > 0)
        if requested:
            self.requested = True
            raise SIGTERMException()

    # --- where the run is ---------------------------------------------------------------------
    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self.position = f"train epoch {trainer.current_epoch}, batch {batch_idx}"
        self._stop_if_any_rank_asked(trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.position = f"train epoch {trainer.current_epoch}, after batch {batch_idx}"

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.position = f"end of train epoch {trainer.current_epoch}"

    def _eval_batch(self, trainer: L.Trainer, batch_idx: int) -> None:
        stage = "sanity check" if trainer.sanity_checking else "test" if trainer.testing else "validation"
        self.position = f"{stage} of epoch {trainer.current_epoch}, batch {batch_idx}"
        self._stop_if_any_rank_asked(trainer)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._eval_batch(trainer, batch_idx)

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._eval_batch(trainer, batch_idx)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.position = f"end of validation, epoch {trainer.current_epoch}"

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.position = "end of test"


# Words of torch.distributed's errors (gloo, NCCL) when a collective waits too long or its peer is gone.
_TIMEOUT_WORDS = ("timed out", "timeout")
_LOST_WORDS = ("connection closed", "connection reset", "broken pipe", "peer", "nccl communicator was aborted")


def explain_distributed_failure(exc: BaseException, position: str, timeout_s: float | None) -> str | None:
    """A one-line account of a failed collective (which rank, where, why), or None if ``exc`` is not one."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    errors = list(exception_chain(exc))
    text = " ".join(str(e) for e in errors).lower()
    who = f"rank {dist.get_rank()} of {dist.get_world_size()}"
    cause = next((str(e).strip().splitlines()[0] for e in errors if str(e).strip()), type(exc).__name__)
    if any(w in text for w in _TIMEOUT_WORDS):
        limit = f"{timeout_s:g} s" if timeout_s else "the process-group timeout"
        return (
            f"{who}: the other processes did not answer within {limit} (ddp_timeout_s) during {position}; "
            f"one of them is stuck or gone, its log (train.log, train_rank<N>.log) says where ({cause})"
        )
    if any(w in text for w in _LOST_WORDS):
        return f"{who}: lost contact with another process during {position}: it failed or was killed ({cause})"
    return None
