"""Video prediction: frame-indexed DeepLabCut tables, labelled video, filtering, bad video files."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import compose_cfg

from seqattn.data.synthetic import render_video
from seqattn.inference.cli import main as predict_main
from seqattn.inference.filters import filter_track
from seqattn.inference.tables import H5_KEY
from seqattn.inference.video import probe
from seqattn.train import train

SHARED_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "openfield" / "videos" / "m3v1mp4.mp4"
FRAMES, W, H = 24, 64, 48


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("video_model") / "run"
    return train(compose_cfg(out, "trainer.max_epochs=1", "test=false")).best_checkpoint


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> tuple[Path, np.ndarray]:
    path = tmp_path_factory.mktemp("video") / "walk.mp4"
    return path, render_video(str(path), frames=FRAMES, width=W, height=H)


def read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".h5":
        return pd.read_hdf(path, H5_KEY)
    return pd.read_csv(path, header=[0, 1, 2], index_col=0)  # as DeepLabCut reads its CSVs


def test_demo_video_is_the_walk_it_says(video):
    path, truth = video
    info = probe(path)
    assert (info.width, info.height, info.fps, info.frames_expected) == (W, H, 30.0, FRAMES)
    assert truth.shape == (FRAMES, 10, 2)
    steps = np.linalg.norm(np.diff(truth[:, 3], axis=0), axis=1)  # the neck moves smoothly
    assert 0 < steps.max() < 0.1 * W


def test_video_gives_one_row_per_frame_in_h5_csv_json_labelled_and_filtered(checkpoint, video, tmp_path):
    path, _ = video
    out = tmp_path / "out"
    paths = predict_main([checkpoint, str(path), "--out", str(out), "--labeled-video", "--filter", "median"])
    names = ["snout", "left_ear", "right_ear", "neck"]
    tables = {suffix: read_table(out / f"walk{suffix}") for suffix in (".h5", ".csv")}
    for table in tables.values():
        assert list(table.index) == list(range(FRAMES))  # row i = frame i
        assert list(table.columns.names) == ["scorer", "bodyparts", "coords"]
        assert list(table.columns.get_level_values("bodyparts").unique()[:4]) == names
        assert list(table.columns.get_level_values("coords")[:3]) == ["x", "y", "likelihood"]
        assert np.isfinite(table.to_numpy()).all()
    assert np.allclose(tables[".h5"].to_numpy(), tables[".csv"].to_numpy())
    record = json.loads((out / "walk.json").read_text())
    assert record["frames"] == FRAMES and record["frames_failed"] == [] and not record["ended_early"]
    assert record["video"]["fps"] == 30.0 and record["video"]["width"] == W
    assert np.allclose(record["frame_times_s"], np.arange(FRAMES) / 30.0)  # in order, none skipped
    labelled = probe(paths["labeled_video"])
    assert (labelled.frames_expected, labelled.fps, labelled.width, labelled.height) == (FRAMES, 30.0, W, H)
    filtered = read_table(out / "walk_filtered.h5")
    assert filtered.shape == tables[".h5"].shape and (out / "walk_filtered.csv").is_file()
    assert not [p for p in os.listdir(out) if "partial" in p]  # no temporary files left


def test_movement_reads_the_video_tables(checkpoint, video, tmp_path):
    load_poses = pytest.importorskip("movement.io.load_poses", reason="movement not installed (pip install movement)")
    path, _ = video
    predict_main([checkpoint, str(path), "--out", str(tmp_path)])
    for suffix in (".h5", ".csv"):
        ds = load_poses.from_dlc_file(tmp_path / f"walk{suffix}", fps=30)
        assert ds.position.shape[0] == FRAMES and ds.position.sizes["keypoints"] == 10


@pytest.mark.parametrize("content", [b"this is not a video\n" * 50, None], ids=["not-a-video", "truncated"])
def test_a_file_that_is_no_video_is_one_line_and_writes_nothing(checkpoint, video, tmp_path, capsys, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content if content is not None else video[0].read_bytes()[: video[0].stat().st_size // 2])
    with pytest.raises(SystemExit) as stopped:
        predict_main([checkpoint, str(bad), "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "bad.mp4" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_video_is_one_line(checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit):
        predict_main([checkpoint, str(tmp_path / "nothing.mp4")])
    assert "nothing.mp4" in capsys.readouterr().err


def test_filters_lower_the_error_of_a_noisy_track_and_interpolate_untrusted_points():
    rng = np.random.default_rng(0)
    t = np.arange(300) / 30.0
    truth = np.stack([100 + 40 * np.sin(t), 80 + 30 * np.cos(0.7 * t)], -1)[:, None, :]  # (N, 1, 2)
    noisy = truth + rng.normal(0, 2.0, truth.shape)
    likelihood = np.ones((300, 1))
    outliers = rng.choice(np.arange(5, 295), 15, replace=False)
    noisy[outliers] += 60  # gross misses the model itself flags as unsure
    likelihood[outliers] = 0.1

    def error(xy):
        return np.linalg.norm(xy - truth, axis=-1).mean()

    for kind in ("median", "savgol"):
        smooth = filter_track(noisy, likelihood, kind, 7, pcutoff=0.6)
        trusted = likelihood[:, 0] >= 0.6
        raw_trusted_error = np.linalg.norm(noisy[trusted] - truth[trusted], axis=-1).mean()
        assert error(smooth) < 0.7 * raw_trusted_error  # smoother than the raw track even where it was trusted
        assert np.linalg.norm(smooth[outliers] - truth[outliers], axis=-1).max() < 6  # interpolated over


@pytest.mark.skipif(not SHARED_VIDEO.is_file(), reason="shared openfield video absent (../shared/data)")
def test_every_frame_of_the_shared_openfield_recording(checkpoint, tmp_path):
    predict_main([checkpoint, str(SHARED_VIDEO), "--out", str(tmp_path), "--batch-size", "64"])
    table = read_table(tmp_path / "m3v1mp4.h5")
    record = json.loads((tmp_path / "m3v1mp4.json").read_text())
    assert len(table) == record["frames"] == 2330 and record["frames_failed"] == []
    assert (record["video"]["width"], record["video"]["height"]) == (640, 480)
    assert np.all(np.diff(record["frame_times_s"]) > 0)
