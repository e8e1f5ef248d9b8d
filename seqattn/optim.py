"""The learning-rate schedule: linear warm-up, then cosine decay, by steps or by the wall-time budget."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Timer
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine(
    optimizer: torch.optim.Optimizer,
    total_steps: float,
    total_seconds: float | None = None,
    warmup_fraction: float = 0.03,
    final_lr_fraction: float = 0.01,
    elapsed: Callable[[], float] | None = None,
) -> LambdaLR:
    """Linear warm-up, then cosine decay to ``final_lr_fraction`` of the base rate, per step.

    Progress is steps / ``total_steps`` or, under a wall-time budget (``total_seconds``, from
    Trainer ``max_time``; ``elapsed()`` is the time spent so far), the elapsed fraction of it,
    whichever is further along.
    """
    finite = math.isfinite(total_steps) and total_steps > 0
    warmup = max(1, int(warmup_fraction * total_steps)) if finite else 100
    if elapsed is None:
        start = time.monotonic()
        elapsed = lambda: time.monotonic() - start  # noqa: E731

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup) if finite else 0.0
        if total_seconds:
            progress = max(progress, elapsed() / total_seconds)
        progress = min(1.0, progress)
        return final_lr_fraction + (1 - final_lr_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


def optimizer_and_schedule(
    parameters: Iterable[torch.nn.Parameter], optimizer: dict[str, Any], scheduler: dict[str, Any] | None, trainer: Any
) -> Any:
    """What ``configure_optimizers`` returns: the optimizer of ``optimizer`` (a partial config) and,
    unless ``scheduler`` is None, its per-step schedule over the trainer's steps or its ``max_time``."""
    opt = instantiate(optimizer)(parameters)
    if not scheduler:
        return opt
    make: Callable[..., LambdaLR] = instantiate(scheduler)
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    seconds = timer.time_remaining("train") if timer is not None else None
    schedule = make(
        opt,
        total_steps=float(trainer.estimated_stepping_batches),
        total_seconds=seconds,
        elapsed=(lambda: timer.time_elapsed("train")) if seconds else None,  # the clock max_time uses
    )
    return {"optimizer": opt, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
