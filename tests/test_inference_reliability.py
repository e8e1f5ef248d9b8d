"""predict.py and the outlier tool on bad input: videos cut short, odd file names, bad options,
full disks, Ctrl+C and SIGTERM, huge batch sizes, corrupt records."""

import json
import os
import pickle
import resource
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from test_data_reliability import Payload
from test_outliers import project_with_labels
from test_video import checkpoint, read_table  # noqa: F401 - checkpoint: a module-scoped fixture

from seqattn.inference import load_checkpoint
from seqattn.inference.cli import main as predict_main
from seqattn.inference.outliers import main as outliers_main
from seqattn.inference.video_predict import BATCH_BYTES, MAX_BATCH

ROOT = Path(__file__).resolve().parents[1]
W, H = 64, 48


def encode(
    path: Path, frames: int, width: int = W, height: int = H, faststart: bool = False, noise: bool = True
) -> Path:
    """An H.264 .mp4 of ``frames`` frames (a moving bright square on noise, so that frames outweigh
    the index, or on grey: faster); ``faststart`` puts the index (moov) before the frame data, so a
    copy cut short still announces every frame."""
    rng = np.random.default_rng(0)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), mode="w", options=options) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = (
                rng.integers(0, 120, (height, width, 3), dtype=np.uint8)
                if noise
                else np.full((height, width, 3), 60, np.uint8)
            )
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


def test_a_video_cut_short_without_a_frame_count_says_so_by_its_duration(checkpoint, tmp_path, caplog):  # noqa: F811
    video = encode(tmp_path / "short.mkv", 120)  # Matroska states a duration, not a frame count
    cut(video, video.stat().st_size // 2)
    predict_main([checkpoint, str(video), "--out", str(tmp_path / "out")])
    record = json.loads((tmp_path / "out" / "short.json").read_text())
    assert record["ended_early"] is True and 0 < record["frames_decoded"] == record["frames"] < 120
    assert len(read_table(tmp_path / "out" / "short.csv")) == record["frames"]  # rows end at the last frame
    assert "short.mkv" in caplog.text and "ends early" in caplog.text


def test_a_variable_frame_rate_video_does_not_end_early(checkpoint, tmp_path, caplog):  # noqa: F811
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
    side = load_checkpoint(checkpoint).codec.side  # the letterbox the model is fed (hires_factor x input_size)
    assert record["batch_size"] == min(MAX_BATCH, BATCH_BYTES // (3 * side * side * 5)) and record["frames"] == 12
    assert f"--batch-size 100000 capped to {record['batch_size']}" in caplog.text


# 3. file names that are not UTF-8


@pytest.mark.slow
def test_file_names_that_are_not_utf8_are_predicted_and_written_escaped(checkpoint, tmp_path):  # noqa: F811
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


# 4. options checked before any work; writes that fail


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--filter", "median", "--filter-window", "4"], ["--filter-window", "4"]),
        (["--filter", "savgol", "--filter-window", "1"], ["--filter-window", "1"]),
        (["--device", "foo"], ["--device", "foo"]),
        (["--out", "{file}/sub"], ["--out", "is a file"]),
        (["--out", "{file}"], ["--out", "is a file"]),
        (["--pcutoff", "nan"], ["--pcutoff", "nan"]),
    ],
)
def test_bad_options_are_one_line_before_the_checkpoint_is_read(tmp_path, capsys, args, words):
    video = encode(tmp_path / "walk.mp4", 3)
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    args = [a.replace("{file}", str(tmp_path / "notes.txt")) for a in args]
    with pytest.raises(SystemExit) as stopped:  # no checkpoint there: an option error must come first
        predict_main([str(tmp_path / "missing.ckpt"), str(video), *args])
    one_line_error(capsys, stopped, *words)
    assert sorted(os.listdir(tmp_path)) == ["notes.txt", "walk.mp4"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_line_before_the_checkpoint_is_read(tmp_path, capsys):
    video = encode(tmp_path / "walk.mp4", 3)
    with pytest.raises(SystemExit) as stopped:
        predict_main([str(tmp_path / "missing.ckpt"), str(video), "--device", "cuda"])
    one_line_error(capsys, stopped, "--device cuda", "GPU")


def test_a_read_only_out_folder_is_one_line_before_the_checkpoint_is_read(tmp_path, capsys):
    video = encode(tmp_path / "walk.mp4", 3)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):
        pytest.skip("this user may write into read-only folders (root)")
    with pytest.raises(SystemExit) as stopped:
        predict_main([str(tmp_path / "missing.ckpt"), str(video), "--out", str(locked / "out")])
    one_line_error(capsys, stopped, "--out", "not writable")


def _file_size_limit(limit: int):
    """For a child process: writes beyond ``limit`` bytes fail with EFBIG (as on a full disk)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
def test_a_write_that_fails_midway_is_one_line_and_leaves_no_files(checkpoint, tmp_path):  # noqa: F811
    video = encode(tmp_path / "walk.mp4", 24)
    out = tmp_path / "out"
    done = predict_cli(str(checkpoint), str(video), "--out", str(out), preexec_fn=_file_size_limit(20_000))
    err = done.stderr.decode().strip().splitlines()
    assert done.returncode == 2 and err[-1].startswith("error: ") and "Traceback" not in done.stderr.decode()
    assert "walk" in err[-1] and "could not be written" in err[-1]
    assert not out.exists() or os.listdir(out) == []


# 5. Ctrl+C and SIGTERM


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """Long enough that predict.py with a labelled video is still busy a second after it begins."""
    return encode(tmp_path_factory.mktemp("long") / "long.mp4", 1500, 160, 120, noise=False)


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_ends_in_one_line_and_leaves_no_files(checkpoint, long_video, tmp_path, sig, code):  # noqa: F811
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


# 2. the outlier tool reads and checks everything before it writes


@pytest.fixture(scope="module")
def walk(checkpoint, tmp_path_factory) -> tuple[Path, Path]:  # noqa: F811
    """A 40-frame video (its index first, so that a copy cut short still announces 40 frames) and
    its predictions."""
    root = tmp_path_factory.mktemp("walk")
    video = encode(root / "walk.mp4", 40, faststart=True)
    predict_main([checkpoint, str(video), "--out", str(root / "pred")])
    return video, root / "pred" / "walk.h5"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its content."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(capsys, args: list[str], project: Path, *words: str) -> None:
    """The outlier tool stops with one line naming ``words`` and leaves ``project`` as it was."""
    before = snapshot(project)
    with pytest.raises(SystemExit) as stopped:
        outliers_main([str(a) for a in args])
    one_line_error(capsys, stopped, *words)
    assert snapshot(project) == before


@pytest.mark.parametrize(
    ("option", "words"),
    [
        (["--pcutoff", "nan"], ["--pcutoff", "nan"]),
        (["--pcutoff", "1.5"], ["--pcutoff", "1.5"]),
        (["--min-gap", "0"], ["--min-gap", "0"]),
    ],
)
def test_outlier_options_out_of_range_are_one_line(walk, tmp_path, capsys, option, words):
    video, h5 = walk
    project, _ = project_with_labels(tmp_path)
    refused(capsys, [h5, video, project, *option], project, *words)


@pytest.mark.parametrize(
    ("record", "words"),
    [
        ("{not json", ["machine_labels.json", "not a machine-labels record"]),
        ('["labeled-data/walk/img0001.png"]', ["machine_labels.json", "expected an object"]),
        ('{"labeled-data/walk/img0001.png": [[1, 2]]}', ["machine_labels.json", "4 [x, y] points"]),
    ],
    ids=["not-json", "a-list", "wrong-points"],
)
def test_a_corrupt_machine_label_record_is_one_line_and_nothing_is_written(walk, tmp_path, capsys, record, words):
    video, h5 = walk
    project, folder = project_with_labels(tmp_path)
    (folder / "machine_labels.json").write_text(record)
    refused(capsys, [h5, video, project, "--n", "3", "--min-gap", "1"], project, *words)


def test_predictions_longer_than_the_video_are_one_line(walk, tmp_path, capsys):
    _, h5 = walk
    other = encode(tmp_path / "walk.mp4", 20)  # the same name, half the frames
    project, _ = project_with_labels(tmp_path)
    refused(capsys, [h5, other, project], project, "walk.h5", "40 rows", "20 frames")


def test_rows_are_added_only_for_frames_extracted(checkpoint, walk, tmp_path):  # noqa: F811
    video, h5 = walk
    short = tmp_path / "cut" / "walk.mp4"
    short.parent.mkdir()
    short.write_bytes(video.read_bytes()[: video.stat().st_size // 2])  # still announces 40 frames
    predict_main([checkpoint, str(short), "--out", str(tmp_path / "pred")])  # NaN rows at the end
    nan_rows = np.flatnonzero(np.isnan(read_table(tmp_path / "pred" / "walk.csv").to_numpy()).all(axis=1))
    assert nan_rows.size > 0
    for name, predictions, n in (("full", h5, 40), ("cut", tmp_path / "pred" / "walk.h5", 10)):
        project, folder = project_with_labels(tmp_path / name)
        done = outliers_main([str(predictions), str(short), str(project), "--n", str(n), "--min-gap", "1"])
        assert done["added"] and all((project / image).is_file() for image in done["added"])
        rows = [line.split(",")[0] for line in (folder / "CollectedData_ann.csv").read_text().splitlines()[3:]]
        assert rows[2:] == done["added"]  # after the two a person labelled
        assert sorted(json.loads((folder / "machine_labels.json").read_text())) == done["added"]
        picked = {int(Path(image).stem.removeprefix("img")) for image in done["added"]}
        assert not picked & set(nan_rows.tolist())  # frames that never decoded are never picked
        if name == "full":  # the predictions hold frames the cut video lacks: reported, not added
            assert done["not_extracted"]


def test_a_crafted_prediction_file_is_refused_unread(walk, tmp_path, capsys):
    h5py = pytest.importorskip("h5py")
    video, h5 = walk
    crafted, marker = tmp_path / "walk.h5", tmp_path / "marker"
    crafted.write_bytes(h5.read_bytes())
    with h5py.File(crafted, "r+") as f:
        f["df_with_missing"].attrs["non_index_axes"] = np.bytes_(pickle.dumps(Payload(marker), protocol=0))
    project, _ = project_with_labels(tmp_path)
    refused(capsys, [crafted, video, project], project, "walk.h5", "refused")
    assert not marker.exists()
