"""Defaults derived from the data at start, by one rule, each printed with its reason.

Settings left at ``auto`` are chosen here from the training split (any explicit value wins):

- ``input_size``: 160 px, unless the labelled objects would then be tiny (the median span of a
  sample's labelled keypoints below 24 input pixels): larger, up to 256; and never more than the
  images' own long side (rounded up to 32, at least 64), since upsampling adds no detail.
- ``data.augment.rotate``: rotations up to 180 degrees when the labels show the animal at any
  heading (seen from above: the pose alignment, how consistently each keypoint lies in the same
  direction from the centroid up to a mirror, below 0.8), else 25 degrees (upright faces, side
  views, where a large rotation shows a pose that never occurs).
- ``model.steps`` (sequential model): 3 glimpse-and-correct steps up to 32 keypoints; beyond,
  step 0 alone (with ``hires_factor`` 1): there the refinement costs more training time than it
  gains (measured in docs/benchmarks.md, "Ablations behind the defaults").
- ``model.glimpse_source`` (sequential model, when it refines): pixel glimpses up to ``pixel_glimpses_up_to``
  keypoints, glimpses sampled from one shared map beyond (cost nearly independent of K);
  ``model.glimpse_size`` with it: 16 (8 x 8 cells) for pixel glimpses, 8 (4 x 4 cells) for
  shared-map ones, whose attention over B x K x cells dominates the cost at large K.

Also reported (not changed): the number of images, K, the image size, the epoch length and the
batch size. The choices go to the log, the run header and ``run_info.json`` (``adaptive``).
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import asdict, dataclass

import numpy as np
from omegaconf import DictConfig, OmegaConf

from seqattn.data import Geometry, KeypointSource
from seqattn.data.augment import SMALL_ROTATION
from seqattn.errors import ConfigError

log = logging.getLogger(__name__)

BASE_INPUT = 160  # px: the measured default (docs/benchmarks.md)
MIN_OBJECT_PX = 24  # median labelled span wanted at the network input
LARGEST_INPUT, SMALLEST_INPUT = 256, 64
SAMPLED_IMAGES = 64  # training images measured for the image size and object span


@dataclass
class DataStats:
    num_train: int
    num_keypoints: int
    long_side_px: float  # median over the sampled training images of max(width, height)
    object_span_px: float  # median over them of the labelled keypoints' bounding-box long side (NaN: none)
    pose_alignment: float  # how alike the animal's heading is across images, in [0, 1] (NaN: too few labels)


def pose_alignment(keypoints: list[np.ndarray]) -> float:
    """How consistently each keypoint lies in the same direction from its sample's centroid, up to
    a left-right mirror (an animal walking either way in a side view is one view, which flips
    cover): per keypoint the mean resultant length of those directions, after mirroring each
    sample that way matches the mean better; median over keypoints labelled in at least 8 samples.
    1: a fixed view (upright faces, side views); low: any heading (animals seen from above).
    keypoints: per sample (K, 2) pixels, NaN where missing. NaN when too few labels."""
    units = []
    for pts in keypoints:
        centred = pts - np.nanmean(pts, 0) if np.isfinite(pts).all(1).sum() >= 3 else np.full_like(pts, np.nan)
        norm = np.linalg.norm(centred, axis=1, keepdims=True)
        units.append(np.where(norm > 0, centred / np.where(norm > 0, norm, 1), np.nan))
    if not units:
        return math.nan
    u = np.stack(units)  # (N, K, 2) unit directions, NaN where unknown
    counted = np.isfinite(u).all(2).sum(0) >= 8  # (K,)
    if not counted.any():
        return math.nan
    mirrored = u * np.array([-1.0, 1.0])
    picked = u
    for _ in range(5):  # choose each sample's reflection against the mean, then update the mean
        mean = np.nanmean(picked, 0)  # (K, 2)
        flip = np.nansum(mirrored * mean, (1, 2)) > np.nansum(u * mean, (1, 2))  # (N,)
        picked = np.where(flip[:, None, None], mirrored, u)
    lengths = np.linalg.norm(np.nanmean(picked, 0), axis=1)[counted]
    return float(np.median(lengths))


def measure(source: KeypointSource) -> DataStats:
    """Image size and object span of up to SAMPLED_IMAGES training images, evenly spread."""
    train = source.splits()["train"]
    picks = np.unique(np.linspace(0, len(train) - 1, num=min(SAMPLED_IMAGES, len(train))).round().astype(int))
    sides, spans, keypoints = [], [], []
    for i in picks:
        sample = train[int(i)]
        sides.append(max(sample.image.shape[:2]))
        keypoints.append(sample.keypoints)
        pts = sample.keypoints[np.isfinite(sample.keypoints).all(1)]
        if len(pts) >= 2:
            spans.append(float((pts.max(0) - pts.min(0)).max()))
    return DataStats(
        num_train=len(train),
        num_keypoints=len(source.keypoint_names),
        long_side_px=float(np.median(sides)),
        object_span_px=float(np.median(spans)) if spans else math.nan,
        pose_alignment=pose_alignment(keypoints),
    )


def _round32(x: float) -> int:
    return int(math.ceil(x / 32) * 32)


def choose_input_size(stats: DataStats) -> tuple[int, str]:
    long_side, span = stats.long_side_px, stats.object_span_px
    size, why = BASE_INPUT, f"the default {BASE_INPUT} px"
    at_base = span * BASE_INPUT / long_side if math.isfinite(span) else math.inf
    if at_base < MIN_OBJECT_PX:
        size = min(LARGEST_INPUT, _round32(MIN_OBJECT_PX * long_side / span))
        why = (
            f"objects span {span:.0f} of {long_side:.0f} px (median), only {at_base:.0f} px at {BASE_INPUT}: "
            f"enlarged for >= {MIN_OBJECT_PX} px (at most {LARGEST_INPUT})"
        )
    native = max(SMALLEST_INPUT, _round32(long_side))
    if size > native:
        size, why = native, f"the images' long side is {long_side:.0f} px: no upsampling past it"
    return size, why


SPREAD_HEADINGS = 0.8  # pose alignment below this: any heading (uniform headings give 2 / pi = 0.64)
FULL_ROTATION = 180.0  # degrees; otherwise the augmentation's own small default (SMALL_ROTATION)


def choose_rotation(stats: DataStats) -> tuple[float, str]:
    a = stats.pose_alignment
    if math.isfinite(a) and a < SPREAD_HEADINGS:
        return FULL_ROTATION, f"headings vary (pose alignment {a:.2f} < {SPREAD_HEADINGS}): any rotation is a real pose"
    why = (
        f"pose alignment {a:.2f} >= {SPREAD_HEADINGS}: a fixed view, small tilts only"
        if math.isfinite(a)
        else ("too few labels to measure headings: small tilts only")
    )
    return SMALL_ROTATION, why


GLIMPSE_SIZE = {"pixels": 16, "features": 8}


REFINEMENT_STEPS = 3
REFINE_UP_TO = 32  # keypoints (docs/benchmarks.md: refinement against step 0 alone by K)


def choose_steps(num_keypoints: int, up_to: int = REFINE_UP_TO) -> tuple[int, str]:
    if num_keypoints <= up_to:
        return REFINEMENT_STEPS, f"K = {num_keypoints} <= {up_to}: {REFINEMENT_STEPS} glimpse-and-correct steps"
    return 0, (
        f"K = {num_keypoints} > {up_to}: step 0 alone; with this many keypoints the refinement costs more"
        " training time than it gains (docs/benchmarks.md)"
    )


def choose_glimpse_source(num_keypoints: int, up_to: int) -> tuple[str, str]:
    if num_keypoints <= up_to:
        return "pixels", f"K = {num_keypoints} <= {up_to}: a pixel glimpse per keypoint"
    return "features", f"K = {num_keypoints} > {up_to}: glimpses sampled from one shared map (cost ~ independent of K)"


def pin_to_checkpoint(cfg: DictConfig, ckpt: dict, path: str) -> DictConfig:
    """A copy of ``cfg`` whose letterbox and ``auto`` model settings are those ``ckpt`` was trained
    with: a run continued from a checkpoint keeps them, even if the data has changed since.
    An explicit ``input_size`` that differs is a ConfigError."""
    cfg = copy.deepcopy(cfg)
    hparams = ckpt["hyper_parameters"]
    size, model = int(hparams["input_size"]), hparams.get("model") or {}
    if str(cfg.input_size) != "auto" and int(cfg.input_size) != size:
        raise ConfigError(f"input_size={cfg.input_size} differs from {path}'s {size}: leave it auto to continue it")
    OmegaConf.update(cfg, "input_size", size, force_add=True)
    for key in ("steps", "glimpse_source", "glimpse_size"):
        if str(cfg.model.get(key, "")) == "auto" and key in model:
            OmegaConf.update(cfg, f"model.{key}", model[key], force_add=True)
    if "hires_factor" in model:
        OmegaConf.update(cfg, "model.hires_factor", model["hires_factor"], force_add=True)
    return cfg


def resolve_auto(cfg: DictConfig, stats: DataStats) -> tuple[DictConfig, dict[str, dict]]:
    """A copy of ``cfg`` with every ``auto`` setting filled from the data's statistics (explicit values
    win), and what was chosen and why: {"data": stats, "chosen": {setting: {"value", "reason"}}}.
    Pure: ``cfg`` is not changed, nothing is built."""
    cfg = copy.deepcopy(cfg)
    chosen: dict[str, dict] = {}

    def choose(key: str, value, reason: str) -> None:
        OmegaConf.update(cfg, key, value, force_add=True)
        chosen[key] = {"value": value, "reason": reason}

    model = cfg.model
    if str(model.get("steps", "")) == "auto":
        steps, why = choose_steps(stats.num_keypoints)
        choose("model.steps", steps, why)
        if (
            steps == 0 and Geometry.for_model(BASE_INPUT, model).hires_factor > 1
        ):  # nothing glimpses: no large letterbox
            choose("model.hires_factor", 1, "no refinement steps")
    if str(cfg.input_size) == "auto":
        choose("input_size", *choose_input_size(stats))
    else:
        chosen["input_size"] = {"value": int(cfg.input_size), "reason": "set explicitly"}
    unused = "unused, no refinement steps; " if str(model.get("steps", "")) == "0" else ""
    if str(model.get("glimpse_source", "")) == "auto":
        source, why = choose_glimpse_source(stats.num_keypoints, int(model.get("pixel_glimpses_up_to", 8)))
        choose("model.glimpse_source", source, unused + why)
    if str(model.get("glimpse_size", "")) == "auto":
        source = model.get("glimpse_source", "pixels")
        choose("model.glimpse_size", GLIMPSE_SIZE[source], f"{unused}for {source} glimpses")
    augment = cfg.data.get("augment")
    if augment is not None and str(augment.get("rotate", "")) == "auto":
        choose("data.augment.rotate", *choose_rotation(stats))
    epoch_size = int(cfg.data.get("epoch_size", 0))
    repeats = epoch_size / max(1, stats.num_train)
    chosen["data.epoch_size"] = {
        "value": max(epoch_size, stats.num_train),
        "reason": f"{stats.num_train} training images" + (f", repeated {repeats:.1f}x" if repeats > 1 else ""),
    }
    chosen["data.batch_size"] = {"value": cfg.data.get("batch_size"), "reason": "as configured"}
    return cfg, {"data": asdict(stats), "chosen": chosen}


def format_header(adaptive: dict) -> str:
    d = adaptive["data"]
    lines = [
        f"data: {d['num_train']} training images, K = {d['num_keypoints']}, long side {d['long_side_px']:.0f} px,"
        f" labelled span {d['object_span_px']:.0f} px (medians), pose alignment {d['pose_alignment']:.2f}"
    ]
    lines += [f"  {key:<22}= {c['value']}  ({c['reason']})" for key, c in adaptive["chosen"].items()]
    return "\n".join(lines)
