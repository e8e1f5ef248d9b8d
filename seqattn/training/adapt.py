"""Resolve, then build: the data's statistics fill every ``auto`` setting once, each with its reason.

``measure(source)`` (seqattn/training/data_stats.py) reads the statistics; ``resolve_auto(cfg,
stats)`` returns a resolved copy of the config (explicit values win) and what it chose and why; the
rules are in ``seqattn/training/choices.py``:

- ``input_size``: 160 px, larger (up to 256) when the labelled objects would be under 24 input
  pixels, never past the images' own long side;
- ``model.hires_factor``: 2 (the glimpses look into a letterbox of twice the input side), 1 when
  nothing glimpses or when that letterbox would upsample the images (or crops) past their long side;
- ``data.augment.rotate``: up to 180 degrees with several animals in a frame, when the animal's
  centre ranges over much of the image's height (a floor seen from above, whatever headings the
  training frames show) or when the labels show it at any heading; else 25;
- ``model.steps``, ``model.glimpse_source``, ``model.glimpse_size``: by the number of keypoints;
- ``callbacks.early_stopping.window``: how many epochs' validation values the stopping rule
  averages, from the size of the validation split;
- ``test_time_flip``: true when training flips (left/right pairs known and a flip probability);
- ``trainer.precision``: bf16 autocast where the chip computes bf16 natively, else float32 (the
  one setting read from the machine, not the data: seqattn.hardware).

Also reported (not changed): the images, K, the resolution in original pixels per input pixel,
per pixel of the letterbox the glimpses look into and per sample of the finest glimpse, the epoch
length, the batch size and the stopping rule. The choices go to the log, the run header and
``run_info.json`` (``adaptive``). A run continued from a checkpoint keeps its letterbox and model
settings (``Pinned``); ``data.unlabelled`` resolves to null when every term on frames without
labels is off (nothing would use them); ``data.num_workers`` to 0 in a joblib job.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass, field

from omegaconf import DictConfig, OmegaConf

from seqattn.errors import ConfigError
from seqattn.losses.unlabelled import terms_on
from seqattn.models.backbones import NO_WEIGHTS
from seqattn.training.budget import resolve_train_images
from seqattn.training.choices import (
    GLIMPSE_SIZE,
    choose_detector_size,
    choose_glimpse_source,
    choose_hires_factor,
    choose_input_size,
    choose_rotation,
    choose_steps,
    choose_stopping_window,
    choose_test_time_flip,
    choose_training_precision,
    glimpse_resolution,
    letterbox_resolution,
)
from seqattn.training.data_stats import DataStats

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pinned:
    """What a run continued from a checkpoint keeps: its letterbox and its model's resolved settings."""

    path: str
    input_size: int
    model: dict = field(default_factory=dict)

    @classmethod
    def of(cls, ckpt: dict, path: str) -> Pinned:
        hparams = ckpt["hyper_parameters"]
        return cls(str(path), int(hparams["input_size"]), dict(hparams.get("model") or {}))


def _pin(cfg: DictConfig, pinned: Pinned, choose) -> None:
    """Choose the checkpoint's letterbox and ``auto`` model settings; an explicit ``input_size`` that
    differs is a ConfigError. A pretrained backbone is not fetched again: the checkpoint's weights
    replace it."""
    why = f"from {pinned.path}, which this run continues"
    if str(cfg.input_size) != "auto" and int(cfg.input_size) != pinned.input_size:
        raise ConfigError(
            f"input_size={cfg.input_size} differs from {pinned.path}'s {pinned.input_size}:"
            " leave it auto to continue it"
        )
    choose("input_size", pinned.input_size, why)
    for key in ("steps", "glimpse_source", "glimpse_size"):
        if str(cfg.model.get(key, "")) == "auto" and key in pinned.model:
            choose(f"model.{key}", pinned.model[key], why)
    if "hires_factor" in pinned.model:
        choose("model.hires_factor", pinned.model["hires_factor"], why)
    if cfg.model.get("backbone"):
        choose("model.backbone_weights", NO_WEIGHTS, f"the backbone's weights are in {pinned.path}")


def resolve_auto(
    cfg: DictConfig, stats: DataStats, pinned: Pinned | None = None, in_joblib: bool = False
) -> tuple[DictConfig, dict[str, dict]]:
    """A copy of ``cfg`` with every ``auto`` setting filled (explicit values win), and what was chosen
    and why: {"data": stats, "chosen": {setting: {"value", "reason"}}}. From the data's statistics,
    the settings of the checkpoint a run continues (``pinned``), whether the job runs in a joblib
    worker and, for ``trainer.precision``, the chip. ``cfg`` is not changed, nothing is built."""
    cfg = copy.deepcopy(cfg)
    chosen: dict[str, dict] = {}

    def choose(key: str, value, reason: str) -> None:
        OmegaConf.update(cfg, key, value, force_add=True)
        chosen[key] = {"value": value, "reason": reason}

    cfg, budget = resolve_train_images(cfg)  # a fixed amount of training: trainer.max_steps
    chosen.update(budget)
    if pinned is not None:
        _pin(cfg, pinned, choose)
    model = cfg.model
    steps_auto = str(model.get("steps", "")) == "auto"
    if steps_auto:
        choose("model.steps", *choose_steps(stats.num_keypoints))
    if str(cfg.input_size) == "auto":
        choose("input_size", *choose_input_size(stats))
    elif "input_size" not in chosen:
        chosen["input_size"] = {"value": int(cfg.input_size), "reason": "set explicitly"}
    refines = str(model.get("steps", "")) != "0"
    if str(model.get("hires_factor", "")) == "auto":
        choose("model.hires_factor", *choose_hires_factor(stats.long_side_px, int(cfg.input_size), refines))
    if refines and "hires_factor" in model:
        resolution = letterbox_resolution(stats.long_side_px, int(cfg.input_size), int(model.hires_factor))
        chosen["resolution"] = {"value": "", "reason": resolution}
    unused = "" if refines else "unused, no refinement steps; "
    if str(model.get("glimpse_source", "")) == "auto":
        source, why = choose_glimpse_source(stats.num_keypoints)
        choose("model.glimpse_source", source, unused + why)
    if str(model.get("glimpse_size", "")) == "auto":
        source = model.get("glimpse_source", "pixels")
        choose("model.glimpse_size", GLIMPSE_SIZE[source], f"{unused}for {source} glimpses")
    if refines and (finest := glimpse_resolution(stats.long_side_px, OmegaConf.to_container(model))):
        chosen["glimpses"] = {"value": "", "reason": finest}
    augment = cfg.data.get("augment")
    if augment is not None and str(augment.get("rotate", "")) == "auto":
        choose("data.augment.rotate", *choose_rotation(stats))
    flipping = augment is not None and float(augment.get("hflip", 0) or 0) > 0
    if flipping:
        pairs = stats.flip_pairs
        why = (
            "off: no left/right pairs known (give data.source.flip_pairs)"
            if pairs is None
            else (
                f"{len(pairs)} left/right pairs swapped: " + ", ".join("/".join(p) for p in pairs)
                if pairs
                else "on, no keypoint has a side"
            )
        )
        chosen["flips"] = {"value": "", "reason": why}
    tta, why = choose_test_time_flip(cfg.get("test_time_flip", "auto"), flipping and stats.flip_pairs is not None)
    choose("test_time_flip", tta, why)
    epoch_size = int(cfg.data.get("epoch_size", 0))
    repeats = epoch_size / max(1, stats.num_train)
    chosen["data.epoch_size"] = {
        "value": max(epoch_size, stats.num_train),
        "reason": f"{stats.num_train} training images" + (f", repeated {repeats:.1f}x" if repeats > 1 else ""),
    }
    chosen["data.batch_size"] = {"value": cfg.data.get("batch_size"), "reason": "as configured"}
    if in_joblib and int(cfg.data.get("num_workers", 0)) > 0:
        choose("data.num_workers", 0, "joblib launcher: the job itself is the worker (loky workers start no loaders)")
    if cfg.data.get("unlabelled"):
        chosen["unlabelled"] = {"value": "", "reason": unlabelled_terms(cfg, stats)}
        if not terms_on((cfg.get("supervision") or {}).get("unlabelled") or {}):
            choose("data.unlabelled", None, "no term on frames without labels is on: they are not decoded")
    resolve_detector(cfg, stats, choose)
    trainer = cfg.get("trainer") or {}
    if str(trainer.get("precision", "")) == "auto":
        choose("trainer.precision", *choose_training_precision(trainer.get("accelerator", "auto")))
    early = (cfg.get("callbacks") or {}).get("early_stopping")
    if early is not None:
        if str(early.get("window", "")) == "auto":
            choose("callbacks.early_stopping.window", *choose_stopping_window(stats.num_val))
        chosen["stopping"] = {"value": "", "reason": stopping_rule(early)}
    return cfg, {"data": asdict(stats), "chosen": chosen}


def resolve_detector(cfg: DictConfig, stats: DataStats, choose) -> None:
    """``detector``: null for labels with one animal per frame; else the layout the labels gave
    (anchor, crop, most animals in a frame) and ``detector.input_size`` when auto."""
    if cfg.get("detector") is None:
        return
    layout = stats.layout
    if layout is None:
        choose("detector", None, "one animal in every labelled frame: no detector, frames are read whole")
        return
    for key in ("anchor", "crop_px", "max_animals"):
        choose(f"detector.{key}", layout[key], layout["reason"] if key == "crop_px" else "from the labels")
    if str(cfg.detector.get("input_size", "auto")) == "auto":
        choose("detector.input_size", *choose_detector_size(stats.frame_long_side_px, int(layout["crop_px"])))


def unlabelled_terms(cfg: DictConfig, stats: DataStats) -> str:
    """What the frames of data.unlabelled are used for, with the temporal tolerance in pixels."""
    terms = (cfg.get("supervision") or {}).get("unlabelled") or {}
    frames = f"up to {cfg.data.unlabelled_frames} frame pairs of {cfg.data.unlabelled}"
    on = []
    if float(terms.get("consistency_weight", 0)) > 0:
        gate = f"teacher confidence >= {terms.min_confidence}"
        if not float((cfg.get("supervision") or {}).get("confidence_weight", 0)) > 0:
            gate += " (no guide: supervision.confidence_weight is 0, the confidence head is untrained)"
        on.append(f"consistency (weight {terms.consistency_weight}, {gate})")
    if float(terms.get("temporal_weight", 0)) > 0:
        px = float(terms.temporal_tolerance_px)
        original = px * stats.long_side_px / int(cfg.input_size)
        on.append(
            f"temporal (weight {terms.temporal_weight}, tolerance {px:g} px at the {cfg.input_size} px input"
            f" = {original:.1f} original px)"
        )
    if not on:
        return (
            f"{cfg.data.unlabelled} not read: no term is on"
            " (set supervision.unlabelled.consistency_weight or temporal_weight)"
        )
    return f"{frames}: " + ", ".join(on)


def stopping_rule(early: DictConfig) -> str:
    window, progress = int(early.get("window", 1)), float(early.get("min_progress", 0.0))
    what = f"the mean of the last {window} values of {early.monitor}" if window > 1 else str(early.monitor)
    rule = f"stop when {what} has not improved for {early.patience} epochs"
    return rule + (f", not before {progress:.0%} of the budget" if progress > 0 else "")


def format_header(adaptive: dict) -> str:
    d = adaptive["data"]
    x, y = d.get("position_spread", (float("nan"),) * 2)
    lines = [
        f"data: {d['num_train']} training and {d['num_val']} validation images, K = {d['num_keypoints']},"
        f" long side {d['long_side_px']:.0f} px, labelled span {d['object_span_px']:.0f} px (medians),"
        f" pose alignment {d['pose_alignment']:.2f}, centre spread {x:.2f} of the width, {y:.2f} of the height"
    ]
    width = max(map(len, adaptive["chosen"]), default=0) + 1
    for key, c in adaptive["chosen"].items():
        shown = f"= {c['value']}  ({c['reason']})" if c["value"] != "" else f": {c['reason']}"
        lines.append(f"  {key:<{width}}{shown}")
    return "\n".join(lines)
