"""Defaults derived from the data: the input-size rule, the glimpse choice, and the run record."""

import json
import math

import numpy as np
import pytest

from seqattn.errors import ConfigError
from seqattn.training.adapt import Pinned, format_header, resolve_auto
from seqattn.training.choices import choose_glimpse_source, choose_input_size, choose_rotation, choose_steps
from seqattn.training.data_stats import DataStats, pose_alignment
from seqattn.training.run_info import RUN_INFO_FILE
from seqattn.training.train import train


def stats(long_side: float, span: float, k: int = 4) -> DataStats:
    return DataStats(num_train=100, num_keypoints=k, long_side_px=long_side, object_span_px=span, pose_alignment=0.9)


@pytest.mark.parametrize(
    ("long_side", "span", "size", "why"),
    [
        (640, 111, 160, "default"),  # openfield: the mouse spans 28 px at 160
        (406, 365, 160, "default"),  # mirror-mouse
        (1280, 60, 256, "enlarged"),  # small animals in large frames: 7.5 px at 160 -> capped at 256
        (640, 60, 256, "enlarged"),  # 15 px at 160 -> 24 px wanted -> 256
        (800, 100, 192, "enlarged"),  # 20 px at 160 -> 192
        (96, 60, 96, "long side"),  # small crops: no upsampling to 160
        (40, 30, 64, "long side"),  # ... but not below 64
        (300, math.nan, 160, "default"),  # nothing labelled twice: no span to go by
    ],
)
def test_input_size_rule(long_side, span, size, why):
    got, reason = choose_input_size(stats(long_side, span))
    assert got == size and why in reason


def test_glimpse_source_and_steps_by_number_of_keypoints():
    assert choose_glimpse_source(8, 8)[0] == "pixels" and choose_glimpse_source(9, 8)[0] == "features"
    assert choose_steps(32)[0] == 3 and choose_steps(33)[0] == 0


def posed(headings_deg: np.ndarray, rng: np.random.Generator, mirrored: float = 0.0) -> list[np.ndarray]:
    """A 5-point animal (snout ahead, tail behind, two ears, a paw) at each heading, placed
    anywhere; a share ``mirrored`` of them mirrored left-right (walking the other way)."""
    shape = np.array([[20.0, 0], [-25, 0], [12, -6], [8, -9], [0, 8]])
    out = []
    for h in np.radians(headings_deg):
        rot = np.array([[np.cos(h), -np.sin(h)], [np.sin(h), np.cos(h)]])
        pts = shape @ rot.T
        if rng.random() < mirrored:
            pts = pts * [-1, 1]
        pts = pts + rng.uniform(50, 500, 2) + rng.normal(0, 1, shape.shape)
        pts[rng.random(5) < 0.1] = np.nan  # some labels missing
        out.append(pts)
    return out


def test_pose_alignment_tells_a_fixed_view_from_any_heading_and_picks_the_rotation():
    rng = np.random.default_rng(0)
    fixed = pose_alignment(posed(rng.uniform(-15, 15, 64), rng))  # side view, upright faces
    both_ways = pose_alignment(posed(rng.uniform(-15, 15, 64), rng, mirrored=0.5))  # a runway, walked both ways
    anywhere = pose_alignment(posed(rng.uniform(-180, 180, 64), rng))  # seen from above
    assert fixed > 0.9 and both_ways > 0.9 and anywhere < 0.7
    base = stats(640, 111)
    for alignment, degrees in ((anywhere, 180), (fixed, 25), (both_ways, 25), (math.nan, 25)):
        assert choose_rotation(DataStats(**{**base.__dict__, "pose_alignment": alignment}))[0] == degrees
    assert math.isnan(pose_alignment(posed(np.zeros(3), rng)))  # fewer than 8 samples per keypoint


def test_auto_settings_are_resolved_printed_and_recorded(make_cfg, caplog):
    # 40 x 32 synthetic images with TINY's input_size left to the rule: the long side, 40 -> 64
    auto = ["input_size=auto", "model.glimpse_size=auto", "data.source.num_keypoints=40"]
    cfg = make_cfg(*auto, "trainer.max_epochs=1", "test=false")
    caplog.set_level("INFO")
    summary = train(cfg)
    assert summary.input_size == 64
    info = json.loads(open(f"{cfg.paths.output_dir}/{RUN_INFO_FILE}").read())
    chosen = info["adaptive"]["chosen"]
    assert chosen["input_size"]["value"] == 64 and "long side" in chosen["input_size"]["reason"]
    assert chosen["model.glimpse_source"]["value"] == "features"  # K = 40 > 8
    assert chosen["model.steps"]["value"] == 0 and info["config"]["model"]["steps"] == 0  # K = 40 > 32
    assert info["config"]["model"]["hires_factor"] == 1
    assert chosen["model.glimpse_size"]["value"] == 8 and info["config"]["model"]["glimpse_size"] == 8
    assert info["config"]["input_size"] == 64 and info["config"]["model"]["glimpse_source"] == "features"
    assert info["adaptive"]["data"]["num_keypoints"] == 40
    # the synthetic creature turns every way: full rotations
    assert chosen["data.augment.rotate"]["value"] == 180 and "headings vary" in chosen["data.augment.rotate"]["reason"]
    assert info["config"]["data"]["augment"]["rotate"] == 180
    assert "input_size" in caplog.text and "K = 40 > 8" in caplog.text  # the run header


def test_explicit_values_win(make_cfg):
    cfg = make_cfg(
        "input_size=48",
        "model.glimpse_source=pixels",
        "model.steps=2",
        "data.source.num_keypoints=40",
        "data.augment.rotate=10",
    )
    cfg.trainer.max_epochs, cfg.test = 1, False
    summary = train(cfg)
    info = json.loads(open(f"{cfg.paths.output_dir}/{RUN_INFO_FILE}").read())
    assert summary.input_size == 48 and info["adaptive"]["chosen"]["input_size"]["reason"] == "set explicitly"
    assert info["config"]["model"]["glimpse_source"] == "pixels" and info["config"]["model"]["steps"] == 2
    assert info["config"]["model"]["hires_factor"] == 2 and "model.steps" not in info["adaptive"]["chosen"]
    assert "data.augment.rotate" not in info["adaptive"]["chosen"] and info["config"]["data"]["augment"]["rotate"] == 10


def test_resolution_and_stopping_rule_are_chosen_and_printed(make_cfg):
    # pure: no data is read, nothing is built
    cfg = make_cfg("input_size=auto", "model.steps=auto", "model.glimpse_size=auto")
    stat = DataStats(**{**stats(640, 111).__dict__, "num_val": 6})
    resolved, adaptive = resolve_auto(cfg, stat)
    assert str(cfg.model.steps) == "auto" and str(cfg.callbacks.early_stopping.window) == "auto"
    assert resolved.model.steps == 3 and resolved.input_size == 160
    assert resolved.callbacks.early_stopping.window == 5
    header = format_header(adaptive)
    assert "4.0 original px per input px; 2.00 per letterbox px (2 x 160 = 320 px)" in header
    assert "1.50 original px per sample of the last glimpse" in header  # 0.15 / 4 of 640 px over 16
    assert "stop when the mean of the last 5 values of val/epe_px has not improved for 5 epochs" in header
    assert "not before 80% of the budget" in header
    # no refinement steps chosen: nothing glimpses, no large letterbox, no resolution to report
    many = DataStats(**{**stat.__dict__, "num_keypoints": 40})
    flat, chosen = resolve_auto(make_cfg("model.steps=auto"), many)
    assert flat.model.steps == 0 and flat.model.hires_factor == 1 and "resolution" not in chosen["chosen"]


STATS = DataStats(num_train=20, num_keypoints=4, long_side_px=64, object_span_px=30, pose_alignment=0.9)


def test_a_continued_run_keeps_its_checkpoints_letterbox_and_model_and_says_so(make_cfg):
    pinned = Pinned("run/checkpoints/last.ckpt", 48, {"steps": 2, "glimpse_source": "features", "hires_factor": 1})
    overrides = ("input_size=auto", "model.steps=auto", "model.glimpse_source=auto")
    cfg, adaptive = resolve_auto(make_cfg(*overrides), STATS, pinned)
    assert (cfg.input_size, cfg.model.steps, cfg.model.glimpse_source, cfg.model.hires_factor) == (48, 2, "features", 1)
    assert adaptive["chosen"]["input_size"]["reason"] == "from run/checkpoints/last.ckpt, which this run continues"
    fresh, adaptive = resolve_auto(make_cfg(*overrides), STATS)
    assert fresh.input_size != 48 and "continues" not in adaptive["chosen"]["input_size"]["reason"]
    with pytest.raises(ConfigError, match="input_size=64 differs from run/checkpoints/last.ckpt's 48"):
        resolve_auto(make_cfg("input_size=64"), STATS, pinned)


def test_a_joblib_job_resolves_to_no_loader_workers(make_cfg):
    cfg, adaptive = resolve_auto(make_cfg("data.num_workers=2"), STATS, in_joblib=True)
    assert cfg.data.num_workers == 0 and "joblib" in adaptive["chosen"]["data.num_workers"]["reason"]
    given = make_cfg("data.num_workers=2")
    assert resolve_auto(given, STATS)[0].data.num_workers == 2 and given.data.num_workers == 2  # not patched
