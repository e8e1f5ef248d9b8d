"""seqattn.evaluation.instances: full-frame evaluation with several animals (matching, OKS, recall,
precision, OKS mAP, identity switches)."""

import math

import numpy as np
import pytest

from seqattn.errors import DataError
from seqattn.evaluation.instances import FullFrameMetrics, frame_metrics, match, oks

BODY = np.array([[0.0, 0.0], [100.0, 0.0], [50.0, 50.0], [20.0, 25.0]])  # box 100 x 50: area 5000 px^2
A, B = BODY, BODY + [300.0, 200.0]
OKS_2PX = math.exp(-4 / (2 * 5000 * 0.05**2))  # a 2 px error on every keypoint: exp(-0.16) = 0.852


def video(frames: int = 4, offset=(0.0, 0.0)):
    """Per frame: predictions (listed b first), their scores, the truth (a, b)."""
    pred = [np.stack([B, A]) + offset for _ in range(frames)]
    scores = [np.array([0.8, 0.9]) for _ in range(frames)]
    truth = [np.stack([A, B]) for _ in range(frames)]
    return pred, scores, truth


def test_oks_follows_coco_with_the_box_area_and_missing_predictions_scoring_zero():
    assert oks((A + [1.2, 1.6])[None], A[None])[0, 0] == pytest.approx(OKS_2PX)
    truth = A.copy()
    truth[3] = np.nan  # not labelled: the box of the other three is still 100 x 50
    pred = A.copy()
    pred[3] += 500  # ignored: not labelled
    pred[2] = np.nan  # labelled but not predicted: scores 0
    assert oks(pred[None], truth[None])[0, 0] == pytest.approx(2 / 3)


def test_match_is_optimal_and_refuses_pairs_too_far_apart():
    truth = np.stack([A, A + [10.0, 0.0]])
    pred = np.stack([A + [6.0, 0.0], A + [16.0, 0.0]])  # greedy nearest: (0, 1) then (1, 0), 4 + 16 px
    assert sorted(match(pred, truth)) == [(0, 0), (1, 1)]  # 6 + 6 px
    assert match((A + 1000.0)[None], A[None]) == []
    assert match(np.zeros((0, 4, 2)), truth) == []


def test_perfect_predictions():
    pred, scores, truth = video()
    m = frame_metrics(pred, scores, truth)
    assert m["instance_recall"] == m["instance_precision"] == m["oks_map"] == 1.0
    assert m["matched_epe_px_mean"] == m["matched_epe_px_median"] == m["matched_epe_px_p90"] == 0.0
    assert (m["num_frames"], m["num_true"], m["num_pred"], m["num_matched"]) == (4, 8, 8, 8)
    assert math.isnan(m["identity_switches"])  # no tracks given


def test_a_missed_animal_halves_recall():
    pred, scores, truth = video()
    m = frame_metrics([p[1:] for p in pred], [s[1:] for s in scores], truth)  # a only
    assert (m["instance_recall"], m["instance_precision"]) == (0.5, 1.0)
    assert m["oks_map"] == pytest.approx(51 / 101)  # precision 1 up to recall 0.5, of 101 recall points


def test_a_false_positive_with_a_low_score_lowers_precision_not_map():
    pred, scores, truth = video()
    far = (A + 1000.0)[None]
    low = frame_metrics([np.concatenate([p, far]) for p in pred], [np.append(s, 0.01) for s in scores], truth)
    assert low["instance_recall"] == 1.0 and low["instance_precision"] == pytest.approx(8 / 12)
    assert low["oks_map"] == 1.0  # ranked after every true positive
    high = frame_metrics([np.concatenate([p, far]) for p in pred], [np.append(s, 0.99) for s in scores], truth)
    assert high["oks_map"] < 0.7  # ranked first: every recall is reached at precision 8/12 at best


def test_map_reads_the_precision_envelope_at_101_recalls():
    c = A + [600.0, 0.0]
    truth = np.stack([A, B, c])
    pred = np.stack([A, A + 2000.0, A + 3000.0, B, c])  # ranked: hit, miss, miss, hit, hit
    m = frame_metrics([pred], [np.array([0.9, 0.8, 0.7, 0.6, 0.5])], [truth])
    # precision 1 up to recall 1/3 (34 recall points), then at best 3/5 (reached at recall 1): 67 points
    assert m["oks_map"] == pytest.approx((34 + 67 * 0.6) / 101)


def test_a_constant_offset_is_the_error_and_sets_the_map():
    m = frame_metrics(*video(offset=(1.2, 1.6)))  # 2 px on every keypoint
    for key in ("matched_epe_px_mean", "matched_epe_px_median", "matched_epe_px_p90"):
        assert m[key] == pytest.approx(2.0, abs=1e-12)
    assert m["instance_recall"] == 1.0  # OKS 0.852 >= 0.5
    assert m["oks_map"] == pytest.approx(0.8)  # thresholds 0.50 ... 0.85 of 0.50 ... 0.95


def test_unlabelled_keypoints_and_animals_are_left_out():
    pred, scores, truth = video(frames=1)
    truth[0][0, 1] = np.nan
    pred[0][1, 1] += 50  # a's keypoint 1, not labelled
    unlabelled = np.full((1, 4, 2), np.nan)  # a third animal with nothing labelled
    m = frame_metrics(pred, scores, [np.concatenate([truth[0], unlabelled])])
    assert (m["num_true"], m["matched_epe_px_mean"], m["instance_recall"]) == (2, 0.0, 1.0)


def test_a_swap_of_track_ids_halfway_is_two_identity_switches():
    pred, scores, truth = video(frames=6)
    names = [["a", "b"]] * 6
    kept = [np.array([1, 0])] * 6  # b's prediction is track 1, a's track 0
    swapped = kept[:3] + [np.array([0, 1])] * 3
    assert frame_metrics(pred, scores, truth, kept, names)["identity_switches"] == 0
    assert frame_metrics(pred, scores, truth, swapped, names)["identity_switches"] == 2  # a: 0 -> 1, b: 1 -> 0

    metrics = FullFrameMetrics()
    for f in range(6):  # a missed on frame 2 comes back on its own track; a second video reuses the ids
        missed = f == 2
        metrics.add(
            pred[f][:1] if missed else pred[f],
            scores[f][:1] if missed else scores[f],
            truth[f],
            kept[f][:1] if missed else kept[f],
            names[f],
            sequence="one",
        )
        metrics.add(pred[f], scores[f], truth[f], np.array([0, 1]), names[f], sequence="two")
    assert metrics.compute()["identity_switches"] == 0


def test_empty_frames():
    pred, scores, truth = video()
    empty = (np.zeros((0, 4, 2)), np.zeros(0), np.zeros((0, 4, 2)))
    m = frame_metrics(pred + [empty[0], np.zeros(0)], scores + [empty[1]] * 2, truth + [empty[2], np.zeros(0)])
    same = frame_metrics(pred, scores, truth)
    assert {k: v for k, v in m.items() if k != "identity_switches"} == {
        **{k: v for k, v in same.items() if k != "identity_switches"},
        "num_frames": 6,
    }
    nothing = frame_metrics([empty[0]] * 3, [empty[1]] * 3, [empty[2]] * 3)
    assert (nothing["num_frames"], nothing["num_true"], nothing["num_pred"]) == (3, 0, 0)
    assert all(math.isnan(nothing[k]) for k in ("instance_recall", "instance_precision", "oks_map"))
    assert math.isnan(nothing["matched_epe_px_mean"])
    spurious = frame_metrics(pred + [A[None]], scores + [np.ones(1)], truth + [empty[2]])
    assert spurious["instance_precision"] == pytest.approx(8 / 9)  # a prediction on a frame without animals


def test_bad_shapes_are_refused_with_the_frame():
    pred, scores, truth = video(frames=2)
    with pytest.raises(DataError, match="frame 1: scores"):
        frame_metrics(pred, [scores[0], np.ones(3)], truth)
    with pytest.raises(DataError, match="frame 0: pred"):
        frame_metrics([np.zeros((2, 5, 2))], scores[:1], truth[:1])
