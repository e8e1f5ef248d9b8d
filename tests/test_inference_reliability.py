"""predict.py and the outlier tool on bad input: videos cut short, odd file names, bad options,
full disks, Ctrl+C and SIGTERM, huge batch sizes, corrupt records."""

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from test_video import checkpoint, read_table  # noqa: F401 - checkpoint: a module-scoped fixture

from seqattn.inference.cli import main as predict_main

ROOT = Path(__file__).resolve().parents[1]
W, H = 64, 48


def encode(path: Path, frames: int, width: int = W, height: int = H, faststart: bool = False) -> Path:
    """An H.264 .mp4 of ``frames`` frames (noise, so that frames outweigh the index, and a moving
    bright square); ``faststart`` puts the index (moov) before the frame data, so a copy cut short
    still announces every frame."""
    rng = np.random.default_rng(0)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), mode="w", options=options) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = rng.integers(0, 120, (height, width, 3), dtype=np.uint8)
            x = i % (width - 8)
            image[height // 3 : height // 3 + 8, x : x + 8] = 230
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def cut(path: Path, keep: int) -> Path:
    """Keep the first ``keep`` bytes of ``path``."""
    path.write_bytes(path.read_bytes()[:keep])
    return path


def one_line_error(capsys, stopped, *words: str) -> str:
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, err
    return err


def predict_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``python predict.py args`` in a fresh process (for crashes, signals and resource limits)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "predict.py"), *args], capture_output=True, cwd=ROOT, timeout=300, **kwargs
    )


# 1. a video that ends before the frames its container announces


def test_a_video_cut_short_gets_nan_rows_up_to_the_announced_count(checkpoint, tmp_path, caplog):  # noqa: F811
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


def test_a_video_with_no_frame_is_one_line_and_writes_nothing(checkpoint, tmp_path, capsys):  # noqa: F811
    video = encode(tmp_path / "header.mp4", 30, faststart=True)
    cut(video, video.read_bytes().find(b"mdat") + 8)  # the index, no frame data
    with pytest.raises(SystemExit) as stopped:
        predict_main([checkpoint, str(video), "--out", str(tmp_path / "out")])
    one_line_error(capsys, stopped, "header.mp4", "no frame could be decoded")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# 6. a batch size beyond memory is capped


def test_a_huge_batch_size_is_capped_and_says_so(checkpoint, tmp_path, caplog):  # noqa: F811
    video = encode(tmp_path / "walk.mp4", 12)
    predict_main([checkpoint, str(video), "--out", str(tmp_path), "--batch-size", "100000"])
    record = json.loads((tmp_path / "walk.json").read_text())
    assert 1 <= record["batch_size"] < 100000 and record["frames"] == 12
    assert f"--batch-size 100000 capped to {record['batch_size']}" in caplog.text
