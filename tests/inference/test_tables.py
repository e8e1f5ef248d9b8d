"""seqattn.inference.tables: DeepLabCut prediction tables that movement reads."""

import numpy as np
import pytest
from helpers import FRAMES, read_table

from seqattn.inference.predict import main as predict_main


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
