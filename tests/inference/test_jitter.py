"""The label-free jitter of a video's predictions."""

import numpy as np
import pytest

from seqattn.inference.jitter import temporal_jitter


def track(frames: int = 101) -> np.ndarray:
    """Three points 100 px apart (the animal's size): one walks 1 px per frame, one stands still,
    one jumps 50 px away and back in 10 of the 100 frame pairs."""
    xy = np.zeros((frames, 3, 2))
    xy[:, 0, 0] = np.arange(frames)  # 1 px per frame
    xy[:, 1] = [100.0, 0.0]
    xy[:, 2] = [50.0, 100.0]
    xy[[20, 60, 80, 90, 95], 2, 1] += 50  # 5 excursions: 10 jumps of 50 px
    return xy


def test_steps_and_jumps():
    record = temporal_jitter(track(), ["a", "b", "c"])
    per = record["median_step_px_per_keypoint"]
    assert per["a"] == pytest.approx(1.0) and per["b"] == 0.0 and per["c"] == 0.0
    assert record["jump_share"] == pytest.approx(10 / 300)
    assert record["frame_pairs"] == 100


def test_missing_predictions_are_skipped_not_counted_as_zero():
    xy = track()
    xy[10:20, 0] = np.nan  # the walking point unseen for 10 frames: 11 pairs lost
    record = temporal_jitter(xy, ["a", "b", "c"])
    assert record["median_step_px_per_keypoint"]["a"] == pytest.approx(1.0)
    assert record["jump_share"] == pytest.approx(10 / 289)
    empty = temporal_jitter(np.full((5, 3, 2), np.nan), ["a", "b", "c"])
    assert empty["median_step_px"] is None and empty["jump_share"] is None and empty["frame_pairs"] == 0


def test_shape_is_checked():
    with pytest.raises(ValueError, match="predictions"):
        temporal_jitter(np.zeros((5, 2, 2)), ["a", "b", "c"])
