"""seqattn.losses.unlabelled: the warp's coordinate convention, the two label-free terms, and
training with them (one process, resumed, DDP)."""

import json

import numpy as np
import pytest
import torch
from helpers import ON, TINY, compose_cfg, read_csv, run_train

from seqattn.losses.unlabelled import UnlabelledTerms, random_warps, warp_images, warp_points
from seqattn.models.sequential import soft_argmax
from seqattn.training.train import train


def blob(points: torch.Tensor, side: int = 64, sigma: float = 1.5) -> torch.Tensor:
    """(B, 2) normalized points -> (B, 3, side, side) images of a bright Gaussian spot there."""
    centres = (torch.arange(side) + 0.5) / side
    gx = torch.exp(-((centres[None, :] - points[:, :1]) ** 2) * side**2 / (2 * sigma**2))  # (B, side)
    gy = torch.exp(-((centres[None, :] - points[:, 1:]) ** 2) * side**2 / (2 * sigma**2))
    return (gy[:, :, None] * gx[:, None, :])[:, None].repeat(1, 3, 1, 1)


class SpotFinder(torch.nn.Module):
    """A 'model' that finds the bright spot: equivariant to any warp, by construction."""

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        coords = soft_argmax(torch.log(images[:, :1].clamp_min(0) + 1e-20))  # (B, 1, 2): the intensity's centroid
        return {"coords": coords, "confidence": torch.ones(coords.shape[:2])}


def test_warped_points_land_on_the_warped_image():
    torch.manual_seed(0)
    points = torch.rand(16, 2) * 0.5 + 0.25
    theta = random_warps(16, rotate_deg=30, scale=0.15, translate=0.05, device=torch.device("cpu"))
    seen = SpotFinder()(warp_images(blob(points), theta))["coords"][:, 0]
    assert (seen - warp_points(points[:, None], theta)[:, 0]).abs().max() * 64 < 0.15  # input pixels


def test_an_equivariant_model_agrees_with_itself_and_a_blind_one_does_not():
    torch.manual_seed(0)
    points = torch.rand(8, 2) * 0.5 + 0.25
    terms = UnlabelledTerms(consistency_weight=1.0, rotate=30, input_size=64)
    agree = terms(SpotFinder(), blob(points), blob(points))["consistency"]

    class Blind(torch.nn.Module):  # the same answer whatever it sees
        def forward(self, images):
            return {"coords": torch.full((len(images), 1, 2), 0.4), "confidence": torch.ones(len(images), 1)}

    assert agree * 64 < 0.2 and terms(Blind(), blob(points), blob(points))["consistency"] * 64 > 2


def test_unsure_points_teach_nothing():
    points = torch.rand(8, 2) * 0.5 + 0.25

    class Unsure(SpotFinder):
        def forward(self, images):
            return {
                **super().forward(images),
                "coords": torch.full((len(images), 1, 2), 0.4),
                "confidence": torch.full((len(images), 1), 0.3),
            }

    terms = UnlabelledTerms(consistency_weight=1.0, min_confidence=0.5, rotate=30, input_size=64)
    assert terms(Unsure(), blob(points), blob(points))["consistency"] == 0


def test_temporal_term_penalises_only_moves_beyond_the_tolerance():
    start = torch.full((4, 2), 0.5)
    still = {"rotate": 0, "scale": 0, "translate": 0, "consistency_weight": 0}
    terms = UnlabelledTerms(temporal_weight=1.0, temporal_tolerance_px=2.0, input_size=64, **still)
    small = terms(SpotFinder(), blob(start), blob(start + torch.tensor([1.0 / 64, 0])))["temporal"]
    large = terms(SpotFinder(), blob(start), blob(start + torch.tensor([6.0 / 64, 0])))["temporal"]
    assert small == 0 and large * 64 == pytest.approx(4.0, abs=0.3)  # 6 px moved, 2 px allowed
    assert set(terms(SpotFinder(), blob(start), blob(start))) == {"temporal"}  # only the terms that are on


def test_training_with_unlabelled_frames_logs_both_terms_and_resumes(videos, tmp_path):
    rate = "+callbacks.throughput._target_=seqattn.callbacks.ThroughputMonitor"  # as the benchmarks add it
    cfg = compose_cfg(tmp_path / "run", *ON, f"data.unlabelled={videos}", "test=false", "trainer.max_epochs=1", rate)
    train(cfg)
    history = read_csv(next((tmp_path / "run").rglob("metrics.csv")))
    assert any(float(r.get("train/images_per_s") or 0) > 0 for r in history)  # counted over mixed batches
    logged = [r for r in history if r.get("train/consistency")]
    assert logged and float(logged[-1]["train/temporal"]) >= 0 and float(logged[-1]["train/consistency"]) > 0
    info = json.loads((tmp_path / "run" / "run_info.json").read_text())
    assert "consistency (weight 1.0" in info["adaptive"]["chosen"]["unlabelled"]["reason"]
    resumed = train(
        compose_cfg(
            tmp_path / "x",
            *ON,
            f"data.unlabelled={videos}",
            f"resume={tmp_path / 'run'}",
            "trainer.max_epochs=2",
            "test=false",
        )
    )
    assert resumed.last_epoch == 1


@pytest.mark.slow
def test_ddp_with_unlabelled_frames(videos, tmp_path):
    ddp = ["trainer=ddp", "trainer.max_epochs=2", "data.source.num_val=7", "data.source.num_test=7"]
    result = run_train(tmp_path, *TINY, *ddp, *ON, f"data.unlabelled={videos}", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = sorted(p for p in (tmp_path / "outputs").glob("*/*") if p.is_dir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["last_epoch"] == 1 and np.isfinite(summary["test_metrics"]["test/epe_px"])


def test_unlabelled_passes_leave_the_batchnorm_statistics_alone():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))

    class WithNorm(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, images):
            self.net(images)
            return SpotFinder()(images)

    before = model[1].running_mean.clone()
    terms = UnlabelledTerms(consistency_weight=1.0, temporal_weight=1.0, input_size=64)
    points = torch.rand(4, 2) * 0.5 + 0.25
    terms(WithNorm().train(), blob(points), blob(points))
    assert torch.equal(model[1].running_mean, before) and model[1].momentum == 0.1
    WithNorm().train()(blob(points))  # a labelled pass still updates them
    assert not torch.equal(model[1].running_mean, before)
    off = UnlabelledTerms(consistency_weight=0, temporal_weight=0)
    assert off(WithNorm(), blob(points), blob(points)) == {}  # all off: nothing runs
