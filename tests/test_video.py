"""Video prediction: frame-indexed DeepLabCut tables, labelled video, filtering, bad video files."""

import json
import os
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import compose_cfg

from seqattn.data.synthetic.creature import render_creature
from seqattn.data.synthetic.video import render_video, walking_poses
from seqattn.inference.cli import main as predict_main
from seqattn.inference.filters import filter_track
from seqattn.inference.tables import H5_KEY
from seqattn.io.video_info import probe
from seqattn.training.train import train

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


def write_video(path: Path, images: list[np.ndarray], codec: str, pix_fmt: str, times_ms: list[int] | None = None):
    """Encode RGB ``images``; ``times_ms`` gives each frame's time (variable frame rate)."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=30)
        stream.height, stream.width = images[0].shape[:2]
        stream.pix_fmt = pix_fmt
        if times_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for i, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if times_ms is not None:
                frame.pts, frame.time_base = times_ms[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def walk_images(width: int, height: int, n: int = 10) -> list[np.ndarray]:
    return [
        render_creature(np.random.default_rng([0, 3]), width, height, pose)[0]
        for pose in walking_poses(n, width, height)
    ]


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
    # the label-free jitter, from the written table
    xy = tables[".h5"].to_numpy().reshape(FRAMES, -1, 3)[..., :2]
    steps = np.linalg.norm(np.diff(xy, axis=0), axis=2)
    assert record["jitter"]["median_step_px"] == pytest.approx(np.median(steps), abs=1e-3)
    assert record["jitter"]["frame_pairs"] == FRAMES - 1
    labelled = probe(paths["labeled_video"])
    assert (labelled.frames_expected, labelled.fps, labelled.width, labelled.height) == (FRAMES, 30.0, W, H)
    filtered = read_table(out / "walk_filtered.h5")
    assert filtered.shape == tables[".h5"].shape and (out / "walk_filtered.csv").is_file()
    assert not [p for p in os.listdir(out) if "partial" in p]  # no temporary files left


def test_movement_reads_the_video_tables(checkpoint, video, tmp_path):
    load_poses = pytest.importorskip("movement.io.load_poses", reason="movement not installed (pip install movement)")
    path, _ = video
    predict_main([checkpoint, str(path), "--out", str(tmp_path)])
    table = read_table(tmp_path / "walk.h5")
    xy = table.to_numpy().reshape(FRAMES, -1, 3)[..., :2]  # (frames, K, 2)
    for suffix in (".h5", ".csv"):
        ds = load_poses.from_dlc_file(tmp_path / f"walk{suffix}", fps=30)
        assert ds.position.sizes["time"] == FRAMES and ds.position.sizes["keypoints"] == xy.shape[1]
        got = ds.position.isel(individuals=0).transpose("time", "keypoints", "space").to_numpy()
        assert np.allclose(got, xy)


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


def test_a_frame_that_fails_to_decode_is_a_nan_row_at_its_place(checkpoint, tmp_path, caplog):
    import av

    path = write_video(tmp_path / "mj.mkv", walk_images(64, 48), "mjpeg", "yuvj420p")  # one packet per frame
    with av.open(str(path)) as container:
        packets = [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size]
    data = bytearray(path.read_bytes())
    pos, size = packets[5]
    data[pos + 2 : pos + size] = bytes(size - 2)  # frame 5's JPEG data wiped after its start marker
    path.write_bytes(bytes(data))
    predict_main([checkpoint, str(path), "--out", str(tmp_path / "out")])
    table = read_table(tmp_path / "out" / "mj.h5")
    assert list(table.index) == list(range(10))
    assert np.isnan(table.loc[5].to_numpy()).all() and np.isfinite(table.drop(index=5).to_numpy()).all()
    assert json.loads((tmp_path / "out" / "mj.json").read_text())["frames_failed"] == [5]
    assert "frame 5 could not be decoded" in caplog.text


def test_grey_odd_sized_and_variable_rate_videos(checkpoint, tmp_path):
    grey = write_video(tmp_path / "grey.mkv", walk_images(65, 49), "ffv1", "gray")
    times = [0, 33, 50, 120, 130, 200, 400, 410, 420, 500]  # ms: a variable frame rate
    vfr = write_video(tmp_path / "vfr.mkv", walk_images(64, 48), "ffv1", "yuv420p", times)
    predict_main([checkpoint, str(tmp_path), "--out", str(tmp_path / "out"), "--labeled-video"])  # the folder
    for name, size in (("grey", (65, 49)), ("vfr", (64, 48))):
        record = json.loads((tmp_path / "out" / f"{name}.json").read_text())
        assert record["frames"] == 10 and (record["video"]["width"], record["video"]["height"]) == size
        assert len(read_table(tmp_path / "out" / f"{name}.csv")) == 10
        assert probe(tmp_path / "out" / f"{name}_labeled.mp4").frames_expected == 10
    assert np.allclose(json.loads((tmp_path / "out" / "vfr.json").read_text())["frame_times_s"], np.array(times) / 1000)
    assert grey.is_file() and vfr.is_file()


def test_rotation_metadata_turns_frames_as_players_show_them(checkpoint, tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = write_video(tmp_path / "turned.mp4", walk_images(64, 48, n=3), "libx264", "yuv420p")
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd") + 4 + 4 + 16 + 4 + 8 + 8  # the track header's display matrix (version 0)
    data[at : at + 36] = struct.pack(">9i", 0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)  # turned 90 degrees
    path.write_bytes(bytes(data))
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (48, 64, -90)
    shown = cv2.VideoCapture(str(path)).read()[1][:, :, ::-1]  # OpenCV applies the rotation too
    from seqattn.io.video import decode_frames
    from seqattn.io.video_info import DecodeReport

    first = next(decode_frames(path, DecodeReport())).image
    assert first.shape == shown.shape and np.abs(first.astype(int) - shown.astype(int)).mean() < 1
    predict_main([checkpoint, str(path), "--out", str(tmp_path / "out")])
    xy = read_table(tmp_path / "out" / "turned.h5").to_numpy().reshape(3, -1, 3)[..., :2]
    assert (xy[..., 0] < 48).all() and (xy[..., 1] < 64).all()  # in the displayed, upright frame


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_VIDEO.is_file(), reason="shared openfield video absent (../shared/data)")
def test_every_frame_of_the_shared_openfield_recording(checkpoint, tmp_path):
    predict_main([checkpoint, str(SHARED_VIDEO), "--out", str(tmp_path), "--batch-size", "64"])
    table = read_table(tmp_path / "m3v1mp4.h5")
    record = json.loads((tmp_path / "m3v1mp4.json").read_text())
    assert len(table) == record["frames"] == 2330 and record["frames_failed"] == []
    assert (record["video"]["width"], record["video"]["height"]) == (640, 480)
    assert np.all(np.diff(record["frame_times_s"]) > 0)
