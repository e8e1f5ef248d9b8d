"""seqattn.training.adapt: settings left to the data (auto) resolved, printed and recorded; a
continued run keeps its checkpoint's."""

import json
import math
import subprocess

import numpy as np
import pytest
from helpers import ON, compose_cfg, stats

from seqattn.errors import ConfigError, DataError
from seqattn.training.adapt import Pinned, format_header, resolve_auto
from seqattn.training.choices import choose_rotation
from seqattn.training.data_stats import DataStats, pose_alignment
from seqattn.training.resume import LAST_CHECKPOINT
from seqattn.training.run_info import RUN_INFO_FILE
from seqattn.training.train import train


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
    assert "centre spread" in caplog.text and "of the height" in caplog.text


def test_explicit_values_win(make_cfg):
    cfg = make_cfg(
        "input_size=48",
        "model.glimpse_source=pixels",
        "model.steps=2",
        "data.source.num_keypoints=40",
        "data.augment.rotate=10",
        "model.hires_factor=2",  # the rule would say 1: a 96 px letterbox upsamples the 40 px images
    )
    cfg.trainer.max_epochs, cfg.test = 1, False
    summary = train(cfg)
    info = json.loads(open(f"{cfg.paths.output_dir}/{RUN_INFO_FILE}").read())
    assert summary.input_size == 48 and info["adaptive"]["chosen"]["input_size"]["reason"] == "set explicitly"
    assert info["config"]["model"]["glimpse_source"] == "pixels" and info["config"]["model"]["steps"] == 2
    assert info["config"]["model"]["hires_factor"] == 2 and "model.steps" not in info["adaptive"]["chosen"]
    assert "model.hires_factor" not in info["adaptive"]["chosen"]
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


def test_the_glimpses_letterbox_never_upsamples_the_images(make_cfg):
    # pure: the rule through resolve_auto, from the images' (or crops') long side
    cfg = make_cfg("input_size=auto", "model.steps=auto", "model.hires_factor=auto")
    frames, _ = resolve_auto(cfg, stats(640, 111))  # openfield-like frames: 2 x 160 = 320 px <= 640
    assert (frames.input_size, frames.model.hires_factor) == (160, 2)
    crops, adaptive = resolve_auto(cfg, stats(168, 120))  # two-fly-like crops: 320 px would upsample 168
    assert (crops.input_size, crops.model.hires_factor) == (160, 1)
    reason = adaptive["chosen"]["model.hires_factor"]["reason"]
    assert "long side is 168 px" in reason and "2 x 160 = 320 px" in reason
    assert "1.1 original px per input px; 1.05 per letterbox px (1 x 160 = 160 px)" in format_header(adaptive)
    edge, _ = resolve_auto(cfg, stats(300, 100))  # 320 px is 300 rounded up to 32: kept at 2
    assert edge.model.hires_factor == 2
    explicit, adaptive = resolve_auto(make_cfg("model.hires_factor=2"), stats(168, 120))
    assert explicit.model.hires_factor == 2 and "model.hires_factor" not in adaptive["chosen"]


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


def test_frames_are_not_read_while_no_term_is_on(videos, make_cfg, tmp_path):
    stats = DataStats(num_train=20, num_keypoints=4, long_side_px=64, object_span_px=30, pose_alignment=0.9)
    on, adaptive = resolve_auto(make_cfg(f"data.unlabelled={videos}", *ON), stats)
    assert on.data.unlabelled == str(videos) and "consistency (weight 1.0" in format_header(adaptive)
    resolved, adaptive = resolve_auto(make_cfg(f"data.unlabelled={videos}"), stats)  # the default: both off
    assert resolved.data.unlabelled is None and "not read: no term is on" in adaptive["chosen"]["unlabelled"]["reason"]
    assert "not read" in format_header(adaptive)
    with pytest.raises(DataError, match="nowhere.mp4 does not exist"):  # the path is still checked, by train
        train(make_cfg(f"data.unlabelled={tmp_path / 'nowhere.mp4'}"))
    assert not (tmp_path / "run").exists()


def test_a_continued_run_keeps_its_checkpoints_letterbox(trained, tmp_path):
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(trained), str(run)], check=True)
    # left to the data, input_size would be 64 now (40 x 32 images); the checkpoint was trained at 32
    summary = train(compose_cfg(run, f"resume={run}", "input_size=auto", "trainer.max_epochs=4"))
    assert summary.input_size == 32 and summary.last_epoch == 3
    with pytest.raises(ConfigError, match=r"input_size=48 differs from .*last.ckpt's 32"):
        train(compose_cfg(run, f"resume={run}", "input_size=48", "trainer.max_epochs=5"))
    # the checkpoint's letterbox factor wins over the config's
    assert train(compose_cfg(run, f"resume={run}", "model.hires_factor=3", "trainer.max_epochs=5")).last_epoch == 4
    with pytest.raises(ConfigError, match="test_ckpt: .* was trained at input_size 32, this run at 48"):
        train(compose_cfg(tmp_path / "other", "input_size=48", f"test_ckpt={trained / LAST_CHECKPOINT}"))


def test_training_precision_follows_the_chip(monkeypatch):
    import torch

    from seqattn.training import choices

    monkeypatch.setattr(choices.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(choices.torch.backends.mps, "is_available", lambda: False)
    seen = []

    def chip(device):
        seen.append(device)
        return device.type == "cpu" and chip.native, "what the chip says"

    monkeypatch.setattr(choices, "native_bf16", chip)
    chip.native = True
    assert choices.choose_training_precision("auto") == ("bf16-mixed", "what the chip says")
    chip.native = False
    assert choices.choose_training_precision("cpu") == ("32-true", "what the chip says: float32")
    assert seen == [torch.device("cpu")] * 2
