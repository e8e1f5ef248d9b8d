"""predict.py as a user runs it, in a fresh process: odd file names, a full disk, Ctrl+C and SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, H, W, encode, file_size_limit, read_table


def predict_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``python predict.py args`` in a fresh process (for crashes, signals and resource limits)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "predict.py"), *args], capture_output=True, cwd=ROOT, timeout=300, **kwargs
    )


@pytest.mark.slow
def test_file_names_that_are_not_utf8_are_predicted_and_written_escaped(checkpoint, tmp_path):
    cv2 = pytest.importorskip("cv2")
    images = tmp_path / "images"
    images.mkdir()
    odd = os.fsdecode(b"img\xff.png")  # a Latin-1 name on a UTF-8 system
    for name in (odd, "plain.png"):
        assert cv2.imencode(".png", np.full((H, W, 3), 90, np.uint8))[1].tofile(str(images / name)) is None
    videos = tmp_path / "videos"
    videos.mkdir()
    encode(videos / os.fsdecode(b"walk\xe9.mp4"), 6)
    for source in (images, videos):
        done = predict_cli(str(checkpoint), str(source), "--overlays", "--out", str(tmp_path / "out"))
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    rows = (tmp_path / "out" / "predictions.csv").read_text(encoding="utf-8").splitlines()[3:]
    assert sorted(r.split(",")[0] for r in rows) == ["img\\xff.png", "plain.png"]
    record = json.loads((tmp_path / "out" / "predictions.json").read_text(encoding="utf-8"))
    assert sorted(i["image"] for i in record["images"]) == ["img\\xff.png", "plain.png"]
    assert sorted(os.listdir(tmp_path / "out" / "overlays")) == [odd, "plain.png"]  # the file keeps its bytes
    assert len(read_table(tmp_path / "out" / os.fsdecode(b"walk\xe9.csv"))) == 6
    assert (tmp_path / "out" / os.fsdecode(b"walk\xe9.h5")).is_file()  # (PyTables cannot open such a name)
    video_record = json.loads((tmp_path / "out" / os.fsdecode(b"walk\xe9.json")).read_text(encoding="utf-8"))
    assert video_record["video"]["path"].endswith("walk\\xe9.mp4")


@pytest.mark.slow
def test_a_write_that_fails_midway_is_one_line_and_leaves_no_files(checkpoint, tmp_path):
    video = encode(tmp_path / "walk.mp4", 24)
    out = tmp_path / "out"
    done = predict_cli(str(checkpoint), str(video), "--out", str(out), preexec_fn=file_size_limit(20_000))
    err = done.stderr.decode().strip().splitlines()
    assert done.returncode == 2 and err[-1].startswith("error: ") and "Traceback" not in done.stderr.decode()
    assert "walk" in err[-1] and "could not be written" in err[-1]
    assert not out.exists() or os.listdir(out) == []


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """Long enough that predict.py with a labelled video is still busy a second after it begins."""
    return encode(tmp_path_factory.mktemp("long") / "long.mp4", 1500, 160, 120, noise=False)


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_ends_in_one_line_and_leaves_no_files(checkpoint, long_video, tmp_path, sig, code):
    out = tmp_path / "out"
    args = [str(checkpoint), str(long_video), "--out", str(out), "--labeled-video", "--batch-size", "4"]
    child = subprocess.Popen([sys.executable, str(ROOT / "predict.py"), *args], stderr=subprocess.PIPE, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any("partial" in name for name in os.listdir(out))):  # the work has begun
        assert child.poll() is None and time.monotonic() < deadline, "predict.py ended before it was interrupted"
        time.sleep(0.05)
    time.sleep(0.3)
    child.send_signal(sig)
    err = child.communicate(timeout=60)[1].decode()
    assert child.returncode == code, err[-2000:]
    assert err.strip().splitlines()[-1].startswith("interrupted: ") and "Traceback" not in err
    assert os.listdir(out) == []
