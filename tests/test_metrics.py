"""KeypointErrors: values against hand-computed cases, the original-pixel conversion, 2-process sync."""

import math
import warnings

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from sync_worker import N_IMAGES, feed, sync_worker

from seqattn.data.codec import KeypointCodec
from seqattn.evaluation.metrics import KeypointErrors
from seqattn.module import KeypointModule

# the smallest model the module builds: step 0 alone on 4-channel stages
TINY_MODEL = {
    "_target_": "seqattn.models.SequentialAttentionModel",
    "channels": [4, 4, 4],
    "width": 8,
    "heads": 2,
    "steps": 0,
    "context_layers": 0,
    "hires_factor": 1,
    "glimpse_source": "pixels",
}

NAMES = ["a", "b", "c"]
NAN = float("nan")


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


class ConstantCoords(torch.nn.Module):
    """Stands in for the network: the same normalized coordinates for every image."""

    def __init__(self, coords: torch.Tensor):
        super().__init__()
        self.coords = coords  # (B, K, 2)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"coords": self.coords}


def test_module_measures_errors_in_original_pixels():
    size = 100
    codec = KeypointCodec(size)
    module = KeypointModule(
        model=TINY_MODEL,
        loss={"_target_": "seqattn.losses.hinge_loss", "input_size": size},
        optimizer={"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1},
        input_size=size,
        keypoint_names=["p", "q"],
    )
    # A 200x100 image is shrunk by 2 (10 input px = 20 original px); a 50x50 one is enlarged by 2 (10 -> 5).
    frames = [codec.frame(200, 100), codec.frame(50, 50)]
    truth_px = [np.array([[50.0, 40.0], [NAN, NAN]]), np.array([[10.0, 20.0], [30.0, 30.0]])]
    truth = torch.tensor(np.stack([codec.encode(p, f) for p, f in zip(truth_px, frames, strict=True)]))
    shift = torch.tensor([0.1, 0.0])  # 10 input pixels along x
    module.model = ConstantCoords((truth.nan_to_num(0.5) + shift).float())
    batch = {
        "image": torch.zeros(2, 3, size, size),
        "keypoints": truth.float(),
        "visible": torch.isfinite(truth).all(-1),
        "frame": torch.tensor(np.stack([f.as_array() for f in frames])).float(),
        "index": torch.tensor([0, 1]),
    }
    with warnings.catch_warnings():  # self.log without a Trainer warns; only the metric state matters here
        warnings.simplefilter("ignore")
        module._step(batch, "val")
        module._log_metrics("val")
    points = module.last_errors["val"]
    assert points.distances()[0, 0] == pytest.approx(20.0, abs=1e-3)
    assert points.distances()[1].tolist() == pytest.approx([5.0, 5.0], abs=1e-3)
    assert points.summary(())["epe_px"] == pytest.approx((20 + 5 + 5) / 3, abs=1e-3)
    assert points.pred_px[0, 0].tolist() == pytest.approx([70.0, 40.0], abs=1e-3)
    # the metric was reset after the snapshot: the next epoch starts empty
    assert module.metrics["val_errors"].snapshot().index.numel() == 0


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


@pytest.mark.parametrize("slope", [0.0, 1.0, 2.5])
def test_every_step_is_supervised_with_weights_growing_by_the_slope(slope):
    module = KeypointModule(
        model=TINY_MODEL,
        loss={"_target_": "seqattn.losses.L1Loss"},
        optimizer={"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1},
        input_size=64,
        keypoint_names=["p"],
        confidence_weight=0.0,
        step_weight_slope=slope,
    )
    target = torch.full((1, 1, 2), 0.5)
    errors = [0.3, 0.1, 0.02]  # x error of each step's estimate, coarse to fine
    steps = [target + torch.tensor([e, 0.0]) for e in errors]
    visible = torch.ones(1, 1, dtype=torch.bool)
    terms = module.criterion({"steps": steps, "coords": steps[-1]}, target, visible)
    per_step = [module.loss(s, target, visible) for s in steps]
    weights = [1 + slope * t for t in range(3)]
    expected = sum(w * p.loss for w, p in zip(weights, per_step, strict=True)) / sum(weights)
    assert terms["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert terms["loss_x"].item() == pytest.approx(per_step[-1].loss_x.item(), rel=1e-6)  # of the final estimate
    assert per_step[0].loss > per_step[1].loss > per_step[2].loss  # so the weights change the total
