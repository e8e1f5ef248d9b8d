"""seqattn.inference.outlier_inputs: the outlier tool's inputs read and checked before it writes."""

import json
import pickle

import numpy as np
import pytest
from helpers import Payload, encode, project_with_labels, refused


def test_the_default_pcutoff_is_the_one_predict_used(walk, tmp_path):
    from seqattn.inference.outlier_inputs import predictions_pcutoff

    _, h5 = walk
    written = json.loads(h5.with_suffix(".json").read_text())["pcutoff"]  # predict.py's report
    assert predictions_pcutoff(h5) == written
    assert predictions_pcutoff(tmp_path / "elsewhere.h5") == 0.6  # no report: DeepLabCut's default


def test_predictions_longer_than_the_video_are_one_line(walk, tmp_path, capsys):
    _, h5 = walk
    other = encode(tmp_path / "walk.mp4", 20)  # the same name, half the frames
    project, _ = project_with_labels(tmp_path)
    refused(capsys, [h5, other, project], project, "walk.h5", "40 rows", "20 frames")


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
