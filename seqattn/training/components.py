"""The Trainer's loggers and callbacks, built from their config groups (train.py and eval.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

from seqattn.errors import ConfigError


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


def finish_wandb(loggers: list[Any]) -> None:
    """End the wandb run, if any: the next job of a sweep in this process must start its own run."""
    if any(type(lg).__name__ == "WandbLogger" for lg in loggers):
        import wandb

        wandb.finish()


def find_callback(callbacks: list[Callback], kind: type) -> Any:
    """The first callback of ``kind``, or None."""
    return next((c for c in callbacks if isinstance(c, kind)), None)
