"""Reading checkpoints without running anything they carry.

A checkpoint is a pickle, and a pickle can hold code. Every checkpoint the project reads goes
through :func:`read_checkpoint`: ``torch.load(weights_only=True)`` (tensors, numbers, strings,
lists and dicts only), so a file carrying anything else is refused in one line naming it. A
module is rebuilt from a checkpoint (:func:`module_from_checkpoint`) only after every Hydra
``_target_`` in its saved settings has been checked against the project's own models, losses,
optimizers and schedule (:func:`check_targets`): a plain-data checkpoint cannot name a function to
call either. Checkpoints of earlier formats are brought up to date on load (:func:`migrate`).
"""

from __future__ import annotations

import inspect
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

import seqattn.losses
import seqattn.models
from seqattn.errors import ConfigError
from seqattn.models.backbones import NO_WEIGHTS
from seqattn.module import CHECKPOINT_FORMAT, KeypointModule
from seqattn.optim import warmup_cosine


def _exported(package: Any, names: tuple[str, ...] | None = None) -> set[str]:
    """``package.Name`` and ``defining.module.Name`` for ``names`` (default: all ``package`` exports)."""
    found = set()
    for name in names or package.__all__:
        obj = getattr(package, name)
        found |= {f"{package.__name__}.{name}", f"{obj.__module__}.{obj.__qualname__}"}
    return found


def _optimizers() -> set[str]:
    found = set()
    for name, obj in vars(torch.optim).items():
        if inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer:
            found |= {f"torch.optim.{name}", f"{obj.__module__}.{obj.__qualname__}"}
    return found


# What a checkpoint's saved settings may name, per setting: nothing else is ever instantiated from one.
ALLOWED_TARGETS: dict[str, set[str]] = {
    "model": _exported(seqattn.models),
    "loss": _exported(seqattn.losses, ("hinge_loss", "HingeDistanceLoss", "L1Loss", "MSELoss", "WingLoss")),
    "optimizer": _optimizers(),
    "scheduler": {f"{warmup_cosine.__module__}.{warmup_cosine.__name__}"},
}


# The checkpoint format this version writes (``seqattn_format`` in the file; absent: 1). A change
# of a constructor default that saved settings rely on, or of a saved name, adds a step to MIGRATIONS.
FORMAT = CHECKPOINT_FORMAT


def _defaults_of_format_1(ckpt: dict[str, Any]) -> None:
    """Format 1 left out settings whose constructor defaults were then (the sequential model without
    image context, with pixel glimpses; no heat-map term) and named the schedule in seqattn.module."""
    hparams = ckpt["hyper_parameters"]
    hparams.setdefault("heatmap_weight", 0.0)
    model = hparams.get("model")
    if isinstance(model, dict) and str(model.get("_target_", "")).endswith("SequentialAttentionModel"):
        model.setdefault("context_layers", 0)
        model.setdefault("glimpse_source", "pixels")
    scheduler = hparams.get("scheduler")
    if isinstance(scheduler, dict) and scheduler.get("_target_") == "seqattn.module.warmup_cosine":
        scheduler["_target_"] = f"{warmup_cosine.__module__}.{warmup_cosine.__name__}"


# The last commit whose package had the options the benchmarks rejected (docs/history.md).
REMOVED_AFTER = "aa4ed51"


# Those options, by the experiment a run's overrides named them with (+experiment=<name>).
REMOVED_EXPERIMENTS = {
    "query_decoder": "the query decoder (model QueryDecoderModel)",
    "threshold_schedule": "the threshold schedule (callbacks.threshold_schedule)",
    "peak_readout": "the peak read-out (model.peak_radius)",
}


def removed_option(what: str, action: str) -> ConfigError:
    """The one-line error for a file or run that names a removed option: ``what`` names both."""
    return ConfigError(
        f"{what}, which the benchmarks rejected and seqattn no longer has (docs/history.md):"
        f" {action} with seqattn at commit {REMOVED_AFTER}"
    )


def _resolved_model_of_format_2(ckpt: dict[str, Any]) -> None:
    """Format 2 left ``glimpse_source=auto`` (with ``pixel_glimpses_up_to``) and the letterbox factor
    to the model class, named the schedule in seqattn.schedule and could name the query decoder or
    the peak read-out; a model config now holds resolved values only."""
    hparams = ckpt["hyper_parameters"]
    model = hparams.get("model")
    if isinstance(model, dict):
        if str(model.get("_target_", "")).endswith("QueryDecoderModel"):
            raise removed_option(f"it was trained with {REMOVED_EXPERIMENTS['query_decoder']}", "read it")
        if int(model.pop("peak_radius", 0) or 0) > 0:
            raise removed_option(f"it was trained with {REMOVED_EXPERIMENTS['peak_readout']}", "read it")
        up_to = int(model.pop("pixel_glimpses_up_to", 8))
        if model.get("glimpse_source", "auto") == "auto":
            model["glimpse_source"] = "pixels" if len(hparams["keypoint_names"]) <= up_to else "features"
        model.setdefault("hires_factor", 2)  # the sequential model's letterbox factor in formats 1 and 2
    scheduler = hparams.get("scheduler")
    if isinstance(scheduler, dict) and scheduler.get("_target_") == "seqattn.schedule.warmup_cosine":
        scheduler["_target_"] = f"{warmup_cosine.__module__}.{warmup_cosine.__name__}"


def _label_offset_of_format_3(ckpt: dict[str, Any]) -> None:
    """Format 3 had no label offset (seqattn.models.label_offset): zero, as it starts."""
    ckpt["state_dict"].setdefault("label_offset.offset", torch.zeros(2))


MIGRATIONS = {1: _defaults_of_format_1, 2: _resolved_model_of_format_2, 3: _label_offset_of_format_3}


def migrate(ckpt: dict[str, Any]) -> dict[str, Any]:
    """``ckpt`` brought to :data:`FORMAT`, step by step (in place); a newer format is refused."""
    version = int(ckpt.get("seqattn_format", 1))
    if version > FORMAT:
        raise ConfigError(f"checkpoint format {version} is newer than this seqattn's ({FORMAT}): upgrade seqattn")
    for step in range(version, FORMAT):
        MIGRATIONS[step](ckpt)
    ckpt["seqattn_format"] = FORMAT
    return ckpt


def read_checkpoint(path: str | Path, key: str = "ckpt_path") -> dict[str, Any]:
    """The contents of a Lightning checkpoint, read weights-only; ``key`` names the setting in errors.

    Missing, empty, truncated or foreign files and files holding Python objects are a ConfigError
    naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{key}: no checkpoint file at {path}")
    if path.stat().st_size == 0:
        raise ConfigError(f"{key}: {path} is empty (0 bytes), not a checkpoint")
    with path.open("rb") as f:
        head = f.read(4)
    if not head.startswith((b"PK\x03\x04", b"\x80")):  # torch's zip format, or a legacy pickle
        raise ConfigError(f"{key}: {path} is not a readable checkpoint (another kind of file)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" in str(exc):
            raise ConfigError(
                f"{key}: {path} is not a plain checkpoint: it holds Python objects that could run code when"
                " loaded (refused; only tensors, numbers, strings, lists and dicts are read)"
            ) from None
        raise ConfigError(f"{key}: {path} is not a readable checkpoint ({_first_line(exc)})") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ConfigError(
            f"{key}: {path} is not a readable checkpoint (truncated, or another kind of file: {_first_line(exc)})"
        ) from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise ConfigError(f"{key}: {path} is not a Lightning checkpoint (no state_dict)")
    hparams = ckpt.get("hyper_parameters")
    if not isinstance(hparams, dict) or not isinstance(hparams.get("keypoint_names"), list):
        raise ConfigError(f"{key}: {path} is not a seqattn checkpoint (no keypoint names in its hyper_parameters)")
    try:
        return migrate(ckpt)
    except ConfigError as exc:
        raise ConfigError(f"{key}: {path}: {exc}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def check_targets(hparams: dict[str, Any], path: Path | str, key: str = "ckpt_path") -> None:
    """A ConfigError unless every ``_target_`` in ``hparams`` names one of the project's own classes
    or functions for its setting (:data:`ALLOWED_TARGETS`), at the top of that setting."""

    def walk(value: Any, where: str, setting: str | None, depth: int) -> None:
        if isinstance(value, dict):
            target = value.get("_target_")
            if target is not None and (depth != 1 or target not in ALLOWED_TARGETS.get(setting or "", set())):
                raise ConfigError(
                    f"{key}: {path} names {target!r} at {where}._target_, which is not one of seqattn's"
                    f" {setting or 'settings'}: refused (a checkpoint may only rebuild the project's own classes)"
                )
            for k, v in value.items():
                walk(v, f"{where}.{k}" if where else str(k), setting if depth else str(k), depth + 1)
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]", setting, depth + 1)

    walk(hparams, "", None, 0)


def module_from_checkpoint(path: str | Path, key: str = "ckpt_path") -> KeypointModule:
    """Rebuild the LightningModule from a checkpoint file alone (settings, weights, calibration)."""
    ckpt = read_checkpoint(path, key)
    hparams = ckpt["hyper_parameters"]
    check_targets(hparams, path, key)
    accepted = inspect.signature(KeypointModule.__init__).parameters
    model = hparams.get("model")
    if isinstance(model, dict) and model.get("backbone"):  # the checkpoint's weights replace pretrained ones
        hparams["model"] = {**model, "backbone_weights": NO_WEIGHTS}
    try:
        module = KeypointModule(**{k: v for k, v in hparams.items() if k in accepted})
        module.on_load_checkpoint(ckpt)
        module.load_state_dict(ckpt["state_dict"])
    except Exception as exc:  # noqa: BLE001 - a mismatch shows as TypeError, KeyError, RuntimeError ...
        raise ConfigError(f"{key}: {path} does not rebuild a seqattn model ({_first_line(exc)})") from None
    return module


def check_keypoints(module: KeypointModule, ckpt: dict[str, Any], path: str | Path, key: str) -> None:
    """A ConfigError unless the checkpoint was trained on this data's keypoints, in this order."""
    names = ckpt["hyper_parameters"]["keypoint_names"]
    if names != module.keypoint_names:
        raise ConfigError(
            f"{key}: {path} was trained on {len(names)} keypoints {names}, this data has"
            f" {len(module.keypoint_names)}: {module.keypoint_names}"
        )


def load_compatible(module: KeypointModule, ckpt: dict[str, Any], path: str | Path, key: str) -> None:
    """Load the weights of checkpoint ``ckpt`` (as read_checkpoint returns it, from ``path``) into
    ``module``, or a ConfigError naming the file when its keypoints or its model differ from this run's."""
    check_keypoints(module, ckpt, path, key)
    try:
        module.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:  # missing, unexpected or differently shaped weights
        raise ConfigError(
            f"{key}: {path} holds another model ({str(exc).splitlines()[0]}); give the model settings"
            " it was trained with (checkpoints saved before step 0's image context: model.context_layers=0)"
        ) from None
