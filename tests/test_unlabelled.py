"""Frames without labels: drawn from videos, the warp's coordinate convention, the two terms, and
training with them (one process, resumed, DDP, a bad video)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY, compose_cfg
from train_helpers import read_csv, run_train

from seqattn.data.codec import KeypointCodec, image_to_tensor, image_to_uint8
from seqattn.data.synthetic.video import render_video
from seqattn.data.unlabelled import UnlabelledFrames, find_videos, pack, spread_picks, unpack
from seqattn.errors import DataError
from seqattn.io.video import decode_frames
from seqattn.io.video_info import DecodeReport
from seqattn.losses.unlabelled import UnlabelledTerms, random_warps, warp_images, warp_points
from seqattn.models.sequential import soft_argmax
from seqattn.training.adapt import format_header, resolve_auto
from seqattn.training.data_stats import DataStats
from seqattn.training.train import train

FRAMES = 30
ON = [
    "supervision.unlabelled.consistency_weight=1.0",
    "supervision.unlabelled.temporal_weight=1.0",
    "data.unlabelled_frames=12",
    "data.unlabelled_batch_size=4",
    "supervision.unlabelled.min_confidence=0",  # an untrained model is unsure everywhere
]


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    render_video(str(folder / "a.mp4"), frames=FRAMES, width=64, height=48)
    render_video(str(folder / "b.mp4"), frames=FRAMES // 2, width=64, height=48, seed=1)
    (folder / "notes.txt").write_text("not a video")
    return folder


def test_picks_spread_over_every_recording_in_proportion():
    picks = spread_picks([101, 301, 1], 8)
    assert [len(p) for p in picks] == [2, 6, 0]  # a 1-frame video has no frame pair
    assert picks[1] == [0, 50, 100, 150, 200, 250] and all(t + 1 < 301 for t in picks[1])


def test_frames_are_letterboxed_with_their_next_frame(videos):
    codec = KeypointCodec(32)
    frames = UnlabelledFrames(find_videos(videos), codec, frames=10, cache_mb=64)
    assert len(frames) == 10 and {v for v, _ in frames.sources} == {str(videos / "a.mp4"), str(videos / "b.mp4")}
    item = frames[0]
    assert item["image"].shape == item["next"].shape == (3, 32, 32)
    assert not torch.equal(item["image"], item["next"])  # the creature walks
    # at the video's own width (no resizing) a frame is exactly the letterbox the labelled images get
    exact = UnlabelledFrames(find_videos(videos / "a.mp4"), KeypointCodec(64), frames=3, cache_mb=64)
    video, t = exact.sources[1]
    decoded = next(f for f in decode_frames(Path(video), DecodeReport()) if f.index == t)
    assert torch.equal(exact[1]["image"], image_to_uint8(KeypointCodec(64).letterbox(decoded.image)[0]))


def test_the_memory_bound_keeps_pairs_spread_over_the_recordings(videos):
    codec = KeypointCodec(32)
    every = UnlabelledFrames(find_videos(videos), codec, frames=10, cache_mb=64)
    bound = every.memory_mb / 3
    small = UnlabelledFrames(find_videos(videos), codec, frames=10, cache_mb=bound)
    assert 1 <= len(small) < len(every) / 2 and small.memory_mb <= bound
    assert small.stride >= 4 and small.sources == every.sources[:: small.stride]  # every stride-th draw
    with pytest.raises(DataError, match="unlabelled_cache_mb=1e-06 holds no frame pair"):
        UnlabelledFrames(find_videos(videos), codec, frames=10, cache_mb=1e-6)


@pytest.mark.parametrize("channels", [3, 1])
def test_packed_frames_come_back_exactly(channels):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    if channels == 1:  # a grey frame: its channels are equal, and it is packed as one
        image[...] = image[..., :1]
    packed = pack(image)
    back = unpack(packed)
    assert torch.equal(image_to_tensor(back), image_to_tensor(image))
    assert back.ndim == (3 if channels == 3 else 2)


def test_missing_or_empty_video_paths_are_named(videos, tmp_path):
    with pytest.raises(DataError, match="gone.mp4 does not exist"):
        find_videos([str(videos / "a.mp4"), str(tmp_path / "gone.mp4")])
    with pytest.raises(DataError, match="no video"):
        find_videos(str(tmp_path))
    with pytest.raises(DataError, match="notes.txt"):
        UnlabelledFrames([videos / "notes.txt"], KeypointCodec(32), 4, 64)


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


def test_a_bad_video_is_one_line_before_anything_is_written(videos, tmp_path):
    result = run_train(tmp_path, *TINY, *ON, f"data.unlabelled={videos / 'notes.txt'}")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "notes.txt" in lines[0], result.stderr
    assert not (tmp_path / "outputs").exists()


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
