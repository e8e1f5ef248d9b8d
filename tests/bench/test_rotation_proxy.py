"""bench/rotation_proxy.py: quarter turns move the labels with the pixels; turn 0 is the test error."""

import importlib.util

import numpy as np
import pytest
import torch
from helpers import ROOT, compose_cfg
from hydra.utils import instantiate

from seqattn.inference import load_checkpoint
from seqattn.inference.batch import ready_for_inference


def bench():
    spec = importlib.util.spec_from_file_location("rotation_proxy", ROOT / "bench" / "rotation_proxy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("turns", [0, 1, 2, 3, 5])
def test_quarter_turns_carry_rendered_landmarks_with_the_pixels(turns):
    h, w = 7, 11  # not square: a turn swaps the sides
    points = np.array([[0.0, 0.0], [10.0, 0.0], [3.0, 6.0], [7.0, 2.0], [np.nan, np.nan]])
    image = np.zeros((h, w, 3), np.uint8)
    for i, (x, y) in enumerate(points[:-1]):
        image[int(y), int(x)] = 50 * (i + 1)  # each landmark its own value
    turned, moved = bench().quarter_turn(image, points, turns)
    assert turned.shape == ((w, h, 3) if turns % 2 else (h, w, 3))
    for i, (x, y) in enumerate(moved[:-1]):
        assert turned[int(round(y)), int(round(x)), 0] == 50 * (i + 1)
    assert np.isnan(moved[-1]).all()


def test_four_quarter_turns_are_no_turn():
    rng = np.random.default_rng(0)
    image, points = rng.integers(0, 255, (5, 9, 3), dtype=np.uint8), rng.uniform(0, 4, (3, 2))
    turned, moved = bench().quarter_turn(image, points, 4)
    np.testing.assert_array_equal(turned, image)
    np.testing.assert_allclose(moved, points)


def test_unturned_errors_are_the_runs_test_error(tiny_run, tmp_path):
    summary, _ = tiny_run
    module = ready_for_inference(load_checkpoint(summary.best_checkpoint), "cpu", precision="fp32")
    samples = bench().test_samples(instantiate(compose_cfg(tmp_path).data.source))
    errors = bench().turned_errors(module, samples, 0)
    assert errors.mean() == pytest.approx(summary.test_metrics["test/epe_px"], rel=1e-3)


def test_the_one_heading_split_keeps_train_and_val_frames_of_one_heading(tmp_path):
    proxy = bench()
    source = instantiate(compose_cfg(tmp_path).data.source)
    tail, head = source.keypoint_names[0], source.keypoint_names[-1]
    split = proxy.one_heading_split(source, tail, head)
    full = {name: [s[i] for i in range(len(s))] for name, s in source.splits().items()}
    assert [s.name for s in full["test"]] == split["test"]  # every heading tested
    kept = [s for s in full["train"] + full["val"] if s.name in set(split["train"] + split["val"])]
    assert 0 < len(kept) < len(full["train"]) + len(full["val"])  # the synthetic creature turns: some are left out
    angles = proxy.headings(kept, 0, len(source.keypoint_names) - 1)
    assert np.ptp((angles - angles[0] + 180) % 360) <= 2 * proxy.SECTOR + 1e-6
    with pytest.raises(SystemExit, match="no keypoint 'tail'"):
        proxy.one_heading_split(source, "tail", head)


def test_the_labels_offset_is_read_in_each_images_pixels(checkpoint):
    module = load_checkpoint(checkpoint)
    module.label_offset.offset.copy_(torch.tensor([0.01, -0.02]))  # normalized letterbox units
    for h, w in ((30, 40), (40, 30), (64, 64)):
        got = bench().label_offset_px(module, np.zeros((h, w, 3), np.uint8))
        np.testing.assert_allclose(got, [0.01 * max(h, w), -0.02 * max(h, w)], rtol=0.05)  # the letterbox's scale
