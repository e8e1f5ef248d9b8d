"""seqattn.evaluation.metrics: KeypointErrors against hand-computed cases, and its 2-process sync."""

import math

import pytest
import torch
import torch.multiprocessing as mp
from sync_worker import N_IMAGES, feed, sync_worker

from seqattn.evaluation.metrics import KeypointErrors

NAMES = ["a", "b", "c"]


def _update(metric: KeypointErrors, truth, offsets, visible, norm_dist, index, diagonal=None) -> None:
    truth = torch.tensor(truth, dtype=torch.float32)
    metric.update(
        truth + torch.tensor(offsets, dtype=torch.float32),
        truth,
        torch.tensor(visible),
        torch.tensor(norm_dist, dtype=torch.float32),
        torch.tensor(index),
        None if diagonal is None else torch.tensor(diagonal, dtype=torch.float32),
    )


# Three images x three keypoints. Visible errors: (3, 4) -> 5, (0, 1) -> 1, (6, 8) -> 10, (0, 0) -> 0.
# Keypoint "c" is never labelled; hidden points carry huge offsets that must not count.
TRUTH = [[[10, 10], [20, 20], [0, 0]], [[5, 5], [7, 7], [0, 0]], [[1, 1], [2, 2], [0, 0]]]
OFFSETS = [[[3, 4], [0, 1], [99, 99]], [[500, 500], [6, 8], [99, 99]], [[0, 0], [-50, 50], [99, 99]]]
VISIBLE = [[True, True, False], [False, True, False], [True, False, False]]
NORM = [[0.05, 0.01, 9.0], [9.0, 0.1, 9.0], [0.0, 9.0, 9.0]]


def hand_case(metric: KeypointErrors, order=(0, 1, 2)) -> None:
    for i in order:
        _update(metric, [TRUTH[i]], [OFFSETS[i]], [VISIBLE[i]], [NORM[i]], [i])


def test_values_match_hand_computed_case_with_missing_keypoints():
    metric = KeypointErrors(NAMES, pck_px=(2, 5, 10), threshold=0.06)
    hand_case(metric)
    out = {k: float(v) for k, v in metric.compute().items()}
    # sorted visible errors [0, 1, 5, 10]
    assert out["epe_px"] == pytest.approx(4.0)
    assert out["median_px"] == pytest.approx(3.0)  # (1 + 5) / 2
    assert out["p90_px"] == pytest.approx(8.5)  # linear: 5 + 0.7 * (10 - 5)
    assert out["pck@2px"] == pytest.approx(0.5)
    assert out["pck@5px"] == pytest.approx(0.75)
    assert out["pck@10px"] == pytest.approx(1.0)
    assert out["dx_px"] == pytest.approx((3 + 0 + 6 + 0) / 4)
    assert out["dy_px"] == pytest.approx((4 + 1 + 8 + 0) / 4)
    assert out["within_threshold"] == pytest.approx(0.75)  # 0.05, 0.01, 0.0 < 0.06; 0.1 is not

    points = metric.snapshot()
    assert points.index.tolist() == [0, 1, 2]
    per_kp = points.per_keypoint((2, 5, 10))
    assert per_kp["a"]["count"] == 2 and per_kp["a"]["epe_px"] == pytest.approx(2.5)
    assert per_kp["b"]["count"] == 2 and per_kp["b"]["epe_px"] == pytest.approx(5.5)
    assert per_kp["c"]["count"] == 0 and math.isnan(per_kp["c"]["epe_px"])
    assert points.per_image().tolist() == pytest.approx([3.0, 10.0, 0.0])
    dist_px = points.distances()
    assert torch.isnan(dist_px[1, 0]) and torch.isnan(dist_px[:, 2]).all()
    assert points.worst(2) == [1, 0]


def test_repeated_images_count_once_and_order_does_not_matter():
    reference = KeypointErrors(NAMES)
    hand_case(reference)
    padded = KeypointErrors(NAMES)
    hand_case(padded, order=(2, 0, 1, 2, 0))  # DistributedSampler-style repeats, shuffled
    assert {k: float(v) for k, v in padded.compute().items()} == pytest.approx(
        {k: float(v) for k, v in reference.compute().items()}, nan_ok=True
    )
    assert padded.snapshot().index.tolist() == [0, 1, 2]


def test_no_labelled_points_gives_nan_not_an_error():
    metric = KeypointErrors(NAMES)
    _update(metric, [TRUTH[0]], [OFFSETS[0]], [[False, False, False]], [NORM[0]], [0])
    out = metric.compute()
    assert math.isnan(float(out["epe_px"])) and "p90_px" in out
    assert math.isnan(float(metric.snapshot().per_image()[0]))


def test_gross_miss_is_the_share_of_points_off_by_a_tenth_of_their_image_diagonal():
    metric = KeypointErrors(NAMES)
    # visible errors 5 and 1 in image 0 (diagonal 40: limit 4), 5 in image 1 (diagonal 100: limit 10),
    # 0 in image 2 (diagonal 1: limit 0.1): only the first 5 px error is a gross miss.
    for i, diagonal in zip((0, 1, 2), (40.0, 100.0, 1.0), strict=True):
        _update(metric, [TRUTH[i]], [OFFSETS[i]], [VISIBLE[i]], [NORM[i]], [i], [diagonal])
    assert float(metric.compute()["gross_miss"]) == pytest.approx(1 / 4)
    per_keypoint = metric.snapshot().per_keypoint(())
    assert per_keypoint["a"]["gross_miss"] == pytest.approx(1 / 2) and per_keypoint["b"]["gross_miss"] == 0
    assert math.isnan(per_keypoint["c"]["gross_miss"])  # never labelled
    unknown = KeypointErrors(NAMES)
    hand_case(unknown)  # no diagonals given: the rate is unknown, not 0
    assert math.isnan(float(unknown.compute()["gross_miss"]))


# ---- two processes -------------------------------------------------------------------------------
@pytest.mark.slow
def test_two_process_sync_equals_single_process(tmp_path):
    mp.spawn(sync_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    single = KeypointErrors(["a", "b", "c"], threshold=0.05)
    feed(single, list(range(N_IMAGES)))
    expected = {k: float(v) for k, v in single.compute().items()}
    reference = single.snapshot()
    for rank in (0, 1):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        assert got["values"] == pytest.approx(expected, rel=1e-6)
        assert got["index"].tolist() == list(range(N_IMAGES))
        assert torch.allclose(got["dxy"], reference.dxy)
