"""seqattn.training.choices: the defaults derived from the data: input size, glimpses, steps, the
rotation range, the stopping window and the test-time flip."""

import json
import math

import numpy as np
import pytest
from helpers import stats

from seqattn.errors import ConfigError
from seqattn.inference.batch import load_checkpoint, predict_images, ready_for_inference
from seqattn.training.choices import (
    choose_glimpse_source,
    choose_input_size,
    choose_rotation,
    choose_steps,
    choose_stopping_window,
)
from seqattn.training.train import train


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


@pytest.mark.parametrize(("num_val", "window"), [(6, 5), (9, 4), (12, 3), (30, 1), (400, 1), (0, 5)])
def test_window_covers_enough_validation_images(num_val, window):
    assert choose_stopping_window(num_val)[0] == window


def test_training_with_flips_averages_predictions(tiny_run):
    """The synthetic creature has left/right pairs: auto turns it on, the checkpoint keeps the pairs,
    the run header says so, and predict's one pass differs from the averaged prediction."""
    summary, run = tiny_run
    run_info = json.loads((run / "run_info.json").read_text())
    chosen = run_info["adaptive"]["chosen"]["test_time_flip"]
    assert chosen["value"] is True and "mirrored" in chosen["reason"]
    module = ready_for_inference(load_checkpoint(summary.best_checkpoint), "cpu")
    assert module.flip_pairs == [[1, 2]] and module.keypoint_names[1:3] == ["left_ear", "right_ear"]
    images = [np.random.default_rng(0).integers(0, 255, (32, 40, 3), dtype=np.uint8)]
    averaged = predict_images(module, images)["coords"]
    one_pass = predict_images(ready_for_inference(load_checkpoint(summary.best_checkpoint), "cpu", flip=False), images)
    assert np.isfinite(averaged).all() and not np.allclose(averaged, one_pass["coords"])


def test_no_flips_in_training_means_one_pass(make_cfg):
    summary = train(make_cfg("test=false", "trainer.max_epochs=1", "data.augment.hflip=0"))
    assert load_checkpoint(summary.best_checkpoint).flip_pairs is None


def test_asking_for_it_without_flips_is_refused_before_anything_is_written(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match="test_time_flip=true needs a model trained with flips"):
        train(make_cfg("test_time_flip=true", "data.augment.hflip=0"))
    with pytest.raises(ConfigError, match="test_time_flip must be auto, true or false"):
        train(make_cfg("test_time_flip=sometimes"))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("fields", "degrees", "why"),
    [
        ({"layout": {"anchor": None, "crop_px": 96, "max_animals": 2}}, 180, "several animals in a frame"),
        # one heading (alignment 0.99) but ranging over the height: an arena from above
        ({"pose_alignment": 0.99, "position_spread": (0.12, 0.72), "travel_spans": 3.1}, 180, "arena seen from above"),
        ({"pose_alignment": 0.99, "position_spread": (0.6, 0.4), "travel_spans": 2.0}, 180, "arena seen from above"),
        # a runway seen from the side: far along the width, not the height
        ({"pose_alignment": 0.99, "position_spread": (0.8, 0.1), "travel_spans": 0.4}, 25, "a fixed view"),
        # a large animal or a face: far over the frame, but under twice its own size
        ({"pose_alignment": 0.99, "position_spread": (0.4, 0.45), "travel_spans": 1.2}, 25, "a fixed view"),
        ({"pose_alignment": 0.96, "position_spread": (0.04, 0.07), "travel_spans": 0.08}, 25, "a fixed view"),
        ({"pose_alignment": 0.6, "position_spread": (0.04, 0.07), "travel_spans": 0.08}, 180, "headings vary"),
        ({"pose_alignment": 0.95}, 25, "a fixed view"),  # position unknown: the pose alignment alone
        ({"pose_alignment": math.nan}, 25, "too few labels"),
    ],
)
def test_rotation_reads_the_view_before_the_headings(fields, degrees, why):
    got, reason = choose_rotation(stats(640, 111, **fields))
    assert got == degrees and why in reason
