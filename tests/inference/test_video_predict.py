"""seqattn.inference.video_predict: one row per frame of a video, also where frames fail, end
early or come at a variable rate; the batch size capped to memory."""

import json
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from helpers import FRAMES, SHARED, H, W, encode, one_line_error, read_table, walk_images, write_video

from seqattn.inference import load_checkpoint
from seqattn.inference.predict import main as predict_main
from seqattn.inference.video_predict import capped_batch_size
from seqattn.io.video_info import probe

SHARED_VIDEO = SHARED / "openfield" / "videos" / "m3v1mp4.mp4"


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


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_VIDEO.is_file(), reason="shared openfield video absent (../shared/data)")
def test_every_frame_of_the_shared_openfield_recording(checkpoint, tmp_path):
    predict_main([checkpoint, str(SHARED_VIDEO), "--out", str(tmp_path), "--batch-size", "64"])
    table = read_table(tmp_path / "m3v1mp4.h5")
    record = json.loads((tmp_path / "m3v1mp4.json").read_text())
    assert len(table) == record["frames"] == 2330 and record["frames_failed"] == []
    assert (record["video"]["width"], record["video"]["height"]) == (640, 480)
    assert np.all(np.diff(record["frame_times_s"]) > 0)


def cut(path: Path, keep: int) -> Path:
    """Keep the first ``keep`` bytes of ``path``."""
    path.write_bytes(path.read_bytes()[:keep])
    return path


def test_a_video_cut_short_gets_nan_rows_up_to_the_announced_count(checkpoint, tmp_path, caplog):
    video = encode(tmp_path / "short.mp4", 120, faststart=True)
    cut(video, video.stat().st_size // 2)
    predict_main([checkpoint, str(video), "--out", str(tmp_path / "out")])
    table = read_table(tmp_path / "out" / "short.h5")
    record = json.loads((tmp_path / "out" / "short.json").read_text())
    decoded = record["frames_decoded"]
    assert 0 < decoded < 120 and record["ended_early"] is True
    assert record["frames"] == record["frames_expected"] == len(table) == 120
    assert record["frames_missing_at_end"] == 120 - decoded - len(record["frames_failed"])
    values = table.to_numpy()
    assert np.isnan(values[120 - record["frames_missing_at_end"] :]).all()
    assert np.isfinite(values[:decoded]).all()
    assert "short.mp4" in caplog.text and "ends early" in caplog.text and "of the 120" in caplog.text


def test_a_video_cut_short_without_a_frame_count_says_so_by_its_duration(checkpoint, tmp_path, caplog):
    video = encode(tmp_path / "short.mkv", 120)  # Matroska states a duration, not a frame count
    cut(video, video.stat().st_size // 2)
    predict_main([checkpoint, str(video), "--out", str(tmp_path / "out")])
    record = json.loads((tmp_path / "out" / "short.json").read_text())
    assert record["ended_early"] is True and 0 < record["frames_decoded"] == record["frames"] < 120
    assert len(read_table(tmp_path / "out" / "short.csv")) == record["frames"]  # rows end at the last frame
    assert "short.mkv" in caplog.text and "ends early" in caplog.text


def test_a_variable_frame_rate_video_does_not_end_early(checkpoint, tmp_path, caplog):
    times_ms = [0, 33, 50, 120, 130, 200, 400, 410, 420, 500]  # 10 frames in 0.5 s, announced as 30 fps
    with av.open(str(tmp_path / "vfr.mkv"), mode="w") as container:
        stream = container.add_stream("ffv1", rate=30)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for t in times_ms:
            frame = av.VideoFrame.from_ndarray(np.full((H, W, 3), t % 255, np.uint8), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    predict_main([checkpoint, str(tmp_path / "vfr.mkv"), "--out", str(tmp_path / "out")])
    record = json.loads((tmp_path / "out" / "vfr.json").read_text())
    assert record["frames"] == 10 and record["ended_early"] is False and "ends early" not in caplog.text


def test_a_video_with_no_frame_is_one_line_and_writes_nothing(checkpoint, tmp_path, capsys):
    video = encode(tmp_path / "header.mp4", 30, faststart=True)
    cut(video, video.read_bytes().find(b"mdat") + 8)  # the index, no frame data
    with pytest.raises(SystemExit) as stopped:
        predict_main([checkpoint, str(video), "--out", str(tmp_path / "out")])
    one_line_error(capsys, stopped, "header.mp4", "no frame could be decoded")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_huge_batch_size_is_capped_and_says_so(checkpoint, tmp_path, caplog):
    video = encode(tmp_path / "walk.mp4", 12)
    predict_main([checkpoint, str(video), "--out", str(tmp_path), "--batch-size", "100000"])
    record = json.loads((tmp_path / "walk.json").read_text())
    side = load_checkpoint(checkpoint).codec.side  # the letterbox the model is fed (hires_factor x input_size)
    # a 64 px letterbox frame takes 3 x 64 x 64 x (4 + 1) B = 60 KiB: 4369 fit in 256 MiB, so the cap
    # of 1024 frames a batch is the one that binds
    assert side == 2 * 32 and record["batch_size"] == 1024 and record["frames"] == 12
    assert f"--batch-size 100000 capped to {record['batch_size']}" in caplog.text
    # at 512 px a frame takes 3 x 512 x 512 x 5 B = 3.75 MiB: 68 of them fit in 256 MiB
    assert capped_batch_size(100000, 512) == 68 and capped_batch_size(50, 512) == 50
