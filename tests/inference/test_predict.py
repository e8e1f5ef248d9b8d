"""seqattn.inference.predict (predict.py): options checked in one line before the checkpoint is read."""

import os

import numpy as np
import pytest
import torch
from helpers import encode, one_line_error

from seqattn.inference.predict import main as predict_main


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


def test_image_folders_and_filters_refuse_formats_they_cannot_write(tmp_path, capsys):
    import cv2

    (tmp_path / "imgs").mkdir()
    cv2.imwrite(str(tmp_path / "imgs" / "a.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(SystemExit):
        predict_main([str(tmp_path / "none.ckpt"), str(tmp_path / "imgs"), "--format", "slp"])
    assert "--format slp: for videos" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        predict_main([str(tmp_path / "none.ckpt"), str(tmp_path / "v.mp4"), "--format", "slp", "--filter", "median"])
    assert "--filter" in capsys.readouterr().err
