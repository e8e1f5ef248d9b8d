"""seqattn.inference.sleap_files: video predictions as SLEAP .slp and NWB files."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import sleap_io as sio

from seqattn.data.synthetic.walk import render_video
from seqattn.inference.predict import main as predict_main
from seqattn.inference.tables import H5_KEY


def test_predictions_round_trip_to_slp_and_nwb(checkpoint, tmp_path):
    from pynwb import NWBHDF5IO

    video = tmp_path / "walk.mp4"
    render_video(str(video), frames=10, width=64, height=48)
    paths = predict_main([checkpoint, str(video), "--out", str(tmp_path / "pred"), "--format", "dlc", "slp", "nwb"])
    table = pd.read_hdf(paths["h5"], H5_KEY)
    names = list(table.columns.get_level_values("bodyparts").unique())
    xy = table.xs("x", level="coords", axis=1).to_numpy(), table.xs("y", level="coords", axis=1).to_numpy()
    likelihood = table.xs("likelihood", level="coords", axis=1).to_numpy()

    labels = sio.load_slp(str(paths["slp"]))  # SLEAP's own reader
    assert labels.skeletons[0].node_names == names and len(labels.labeled_frames) == 10
    for lf in labels.labeled_frames:
        (instance,) = lf.predicted_instances
        np.testing.assert_allclose(instance.numpy()[:, 0], xy[0][lf.frame_idx], atol=1e-3)
        np.testing.assert_allclose(instance.numpy()[:, 1], xy[1][lf.frame_idx], atol=1e-3)
    assert Path(labels.videos[0].filename).name == "walk.mp4"

    with NWBHDF5IO(str(paths["nwb"]), "r") as io:  # pynwb, with ndx-pose's PoseEstimation
        nwb = io.read()
        (pose,) = nwb.processing["SLEAP_VIDEO_000_walk"].data_interfaces.values()  # sleap-io's naming
        for k, name in enumerate(names):
            series = pose.pose_estimation_series[name]
            np.testing.assert_allclose(series.data[:], np.stack([xy[0][:, k], xy[1][:, k]], 1), atol=1e-3)
            np.testing.assert_allclose(series.confidence[:], likelihood[:, k], atol=1e-6)
            times = series.timestamps[:] if series.timestamps is not None else np.arange(10) / series.rate
            np.testing.assert_allclose(times, np.arange(10) / 30, atol=1e-6)  # seconds, at 30 fps
    record = json.loads(Path(paths["json"]).read_text())
    assert record["frames"] == 10
