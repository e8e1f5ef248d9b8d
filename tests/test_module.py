"""seqattn.module: KeypointModule measures errors in original pixels and supervises every step."""

import warnings

import numpy as np
import pytest
import torch

from seqattn.data.codec import KeypointCodec
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
NAN = float("nan")


class ConstantCoords(torch.nn.Module):
    """Stands in for the network: the same normalized coordinates for every image."""

    def __init__(self, coords: torch.Tensor):
        super().__init__()
        self.coords = coords  # (B, K, 2)

    def forward(self, images: torch.Tensor, mirrored: bool = False) -> dict[str, torch.Tensor]:
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


# L1 losses of the three steps 0.3, 0.1 and 0.02; their weights 1 + slope x t: the weighted mean by hand
@pytest.mark.parametrize(
    ("slope", "expected"),
    [(0.0, (0.3 + 0.1 + 0.02) / 3), (1.0, (0.3 + 2 * 0.1 + 3 * 0.02) / 6), (2.5, (0.3 + 3.5 * 0.1 + 6 * 0.02) / 10.5)],
    ids=["0.0", "1.0", "2.5"],
)
def test_every_step_is_supervised_with_weights_growing_by_the_slope(slope, expected):
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
    assert terms["loss"].item() == pytest.approx(expected, rel=1e-6)
    assert terms["loss_x"].item() == pytest.approx(0.02, rel=1e-6)  # of the final estimate
    assert per_step[0].loss > per_step[1].loss > per_step[2].loss  # so the weights change the total


def test_labels_offset_in_the_image_frame_cost_nothing_once_the_offset_is_estimated():
    """Labels shifted by b in the image's frame, seen through a rotation and a mirrored rotation,
    give the same loss as unshifted labels once the module's label offset is b; predictions add b."""
    torch.manual_seed(0)  # the weights too: the tests before this one leave the generator anywhere
    module = KeypointModule(
        model=TINY_MODEL,
        loss={"_target_": "seqattn.losses.L1Loss"},
        optimizer={"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1},
        input_size=64,
        keypoint_names=["left", "right", "tail"],
    )
    angle = torch.tensor(0.7)
    turn = torch.stack([torch.stack([angle.cos(), -angle.sin()]), torch.stack([angle.sin(), angle.cos()])])
    frame_map = torch.stack([turn, torch.diag(torch.tensor([-1.0, 1.0])) @ turn])  # (2, 2, 2)
    b = torch.tensor([0.01, -0.02])  # normalized, in the frame as filmed
    landmarks = torch.rand(2, 3, 2) * 0.6 + 0.2
    shifted = landmarks + (frame_map @ b)[:, None, :]
    batch = {
        "image": torch.rand(2, 3, 64, 64),
        "visible": torch.ones(2, 3, dtype=torch.bool),
        "frame": torch.tensor([KeypointCodec(64).frame(64, 64).as_array()] * 2).float(),
        "index": torch.tensor([0, 1]),
        "frame_map": frame_map,
    }
    losses = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, labels, offset in (("plain", landmarks, 0), ("unknown", shifted, 0), ("known", shifted, b)):
            module.label_offset.offset.copy_(torch.zeros(2) + offset)
            losses[name] = module._step({**batch, "keypoints": labels}, "train").item()
    assert losses["known"] == pytest.approx(losses["plain"], rel=1e-5)
    assert losses["unknown"] != pytest.approx(losses["plain"], rel=1e-3)
    module.eval()
    with torch.no_grad():
        raw, predicted = module(batch["image"])["coords"], module.predict(batch["image"])["coords"]
    assert torch.allclose(predicted, raw + module.label_offset.offset)
