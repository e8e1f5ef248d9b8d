"""seqattn.io.video: frames decoded as players show them."""

import struct

import numpy as np
import pytest
from helpers import read_table, walk_images, write_video

from seqattn.inference.predict import main as predict_main
from seqattn.io.video_info import probe


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


def test_the_small_frames_are_the_letterbox_resize_of_the_full_frames(tmp_path):
    """decode_frames' small frames (FFmpeg's scaler, planar RGB out) hold the full frames' pixels
    resized as the letterbox resizes (OpenCV's INTER_AREA), channel for channel."""
    import cv2

    from seqattn.io.video import decode_frames
    from seqattn.io.video_info import DecodeReport

    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, (4, 12, 16, 3), dtype=np.uint8)  # coloured 8 x 8 blocks
    images = [np.ascontiguousarray(b.repeat(8, 0).repeat(8, 1)) for b in blocks]  # (96, 128, 3)
    video = write_video(tmp_path / "colour.mp4", images, "libx264", "yuv444p")
    frames = list(decode_frames(video, DecodeReport(), lambda w, h: (w // 2, h // 2)))
    assert len(frames) == 4
    for f in frames:
        expected = cv2.resize(f.image, (64, 48), interpolation=cv2.INTER_AREA).astype(int)
        assert f.small.shape == (48, 64, 3)
        diff = np.abs(f.small.astype(int) - expected)  # the scalers round colour edges apart by a few levels
        assert diff.mean() < 1.5 and diff.max() <= 16  # channels swapped: differences of 100s
