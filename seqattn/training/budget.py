"""A fixed amount of training: ``train_images`` resolved once into ``trainer.max_steps``.

A wall-time budget (``trainer.max_time``) trains as many steps as the machine manages that day;
a number of training images trains the same steps on any machine, so the run repeats with its
seed. Images are counted in optimizer steps, whatever the epoch length (``data.epoch_size``
repeats a small set): one step is ``data.batch_size`` x ``trainer.accumulate_grad_batches`` x
the processes (``trainer.devices`` x ``trainer.num_nodes``) labelled images, and the steps are
rounded up, so a run trains at most one step's images more than asked. ``trainer.max_epochs``
is lifted (-1): the steps end the run (the last, partial epoch validated,
``seqattn/callbacks/last_step.py``), and the learning-rate schedule and the early-stopping rule's
``min_progress`` run over them (``seqattn/optim.py``, ``seqattn/callbacks/early_stopping.py``).
"""

from __future__ import annotations

import copy
import math

from omegaconf import DictConfig, OmegaConf

from seqattn.errors import ConfigError


def _count(value: object, key: str) -> int:
    """A positive integer setting (``trainer.devices`` may also be a list of device indices)."""
    if isinstance(value, list | tuple) or OmegaConf.is_list(value):
        return len(value)
    if isinstance(value, bool) or not str(value).isdigit() or int(str(value)) < 1:
        raise ConfigError(f"train_images needs {key} as a number of at least 1 (the images per step), got {value!r}")
    return int(str(value))


def images_per_step(cfg: DictConfig) -> int:
    """Labelled training images in one optimizer step of ``cfg``'s trainer."""
    trainer = cfg.trainer
    return (
        _count(cfg.data.batch_size, "data.batch_size")
        * _count(trainer.get("accumulate_grad_batches", 1), "trainer.accumulate_grad_batches")
        * _count(trainer.get("devices", 1), "trainer.devices")
        * _count(trainer.get("num_nodes", 1), "trainer.num_nodes")
    )


def resolve_train_images(cfg: DictConfig) -> tuple[DictConfig, dict[str, dict]]:
    """A copy of ``cfg`` whose ``train_images`` (if set) is ``trainer.max_steps`` with
    ``trainer.max_epochs=-1``, and what was chosen and why ({} when ``train_images`` is null).
    A wall-time budget or an explicit ``trainer.max_steps`` beside it is a ConfigError."""
    images = cfg.get("train_images")
    if images is None:
        return cfg, {}
    if isinstance(images, bool) or not isinstance(images, int) or images < 1:
        raise ConfigError(f"train_images must be a whole number of images >= 1, got {images!r}")
    if cfg.trainer.get("max_time") is not None:
        raise ConfigError("train_images and trainer.max_time are two budgets: give one")
    if cfg.trainer.get("max_steps") not in (None, -1):
        raise ConfigError(f"train_images sets trainer.max_steps: leave it unset (got {cfg.trainer.max_steps})")
    per_step = images_per_step(cfg)
    steps = math.ceil(images / per_step)
    cfg = copy.deepcopy(cfg)
    OmegaConf.update(cfg, "trainer.max_steps", steps, force_add=True)
    OmegaConf.update(cfg, "trainer.max_epochs", -1, force_add=True)
    reason = f"train_images={images}: {steps} steps of {per_step} images ({steps * per_step}); no epoch limit"
    return cfg, {"trainer.max_steps": {"value": steps, "reason": reason}}
