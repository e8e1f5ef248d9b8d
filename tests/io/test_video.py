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
