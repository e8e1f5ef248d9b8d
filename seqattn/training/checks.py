"""Config values checked before anything is built or written: one line naming the setting.

Settings that a constructor checks anyway (the loss's threshold, the model's choices) are checked
there; here are the ones that would otherwise fail late (inside a DataLoader, at the first
optimizer step, after files are written) or not at all (a NaN rotation blackens every image).
"""

from __future__ import annotations

import math
from typing import Any

from omegaconf import DictConfig, OmegaConf

from seqattn.errors import ConfigError
from seqattn.module import MONITORABLE


def _finite_numbers(value: Any, where: str) -> None:
    """Every float in the config is finite: NaN and infinity mean nothing as a setting."""
    if isinstance(value, dict):
        for k, v in value.items():
            _finite_numbers(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _finite_numbers(v, f"{where}[{i}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where} must be a finite number, got {value}")


def _number(cfg: DictConfig, key: str, low: float, *, strict: bool = False, integer: bool = False) -> None:
    value = OmegaConf.select(cfg, key, default=None)
    if value is None:
        return
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type:
        raise ConfigError(f"{key} must be {kind}, got {value!r}")
    if value < low or (strict and value == low):
        raise ConfigError(f"{key} must be {'>' if strict else '>='} {low:g}, got {value}")


def _choice(cfg: DictConfig, key: str, allowed: tuple[str, ...]) -> None:
    value = OmegaConf.select(cfg, key, default=None)
    if value is not None and value not in allowed:
        raise ConfigError(f"{key} must be {', '.join(allowed[:-1])} or {allowed[-1]}, got {value!r}")


def check_config(cfg: DictConfig) -> None:
    """A ConfigError for the first invalid value of ``cfg`` (train.py's config)."""
    _finite_numbers(OmegaConf.to_container(cfg, resolve=False), "")
    _number(cfg, "seed", -(2**63), integer=True)
    _number(cfg, "data.batch_size", 1, integer=True)
    _number(cfg, "data.eval_batch_size", 1, integer=True)
    _number(cfg, "data.num_workers", 0, integer=True)
    _number(cfg, "data.epoch_size", 0, integer=True)
    _number(cfg, "optimizer.lr", 0)  # 0: frozen weights (a plateau on purpose)
    _number(cfg, "optimizer.weight_decay", 0)
    _number(cfg, "supervision.confidence_weight", 0)
    _number(cfg, "supervision.confidence_scale", 0, strict=True)
    _number(cfg, "supervision.heatmap_weight", 0)
    _number(cfg, "supervision.heatmap_sigma", 0, strict=True)
    if str(cfg.get("input_size")) != "auto":
        _number(cfg, "input_size", 8, integer=True)
    _choice(cfg, "model.glimpse_source", ("auto", "pixels", "features"))
    if not ((flip := cfg.get("test_time_flip", "auto")) == "auto" or isinstance(flip, bool)):
        raise ConfigError(f"test_time_flip must be auto, true or false, got {flip!r}")
    rotate = OmegaConf.select(cfg, "data.augment.rotate", default=None)
    if rotate not in (None, "auto"):
        _number(cfg, "data.augment.rotate", 0)
    monitor = cfg.get("monitor")
    if not isinstance(monitor, str) or not MONITORABLE.fullmatch(monitor):
        raise ConfigError(
            f"monitor must be a metric the run logs (val/epe_px, val/p90_px, val/loss ...), got {monitor!r}"
        )
