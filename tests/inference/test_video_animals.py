"""predict.py on a video of several animals: every frame, tracked identities, the peers' files."""

import json
import re

import numpy as np
import pytest
import sleap_io as sio

from seqattn.data.synthetic.walk import render_walk
from seqattn.inference.predict import main as predict_main

FRAMES = 12


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    path = tmp_path_factory.mktemp("walk2") / "two.mp4"
    truth = render_walk(str(path), frames=FRAMES, width=96, height=72, fps=15, animals=2)
    return path, truth


def test_a_video_of_two_animals_gives_tracked_tables_slp_and_a_labelled_video(animals_run, walk, tmp_path):
    from movement.io import load_poses

    summary, _ = animals_run
    video, _ = walk
    written = predict_main(
        [summary.best_checkpoint, str(video), "--out", str(tmp_path), "--animals", "2", "--format", "dlc", "slp",
         "--labeled-video"]
    )  # fmt: skip
    record = json.loads(written["json"].read_text())
    assert record["frames"] == FRAMES and record["animals"]["at_most"] == 2
    tracks = record["track_names"]
    assert 1 <= len(tracks) <= 2 and record["tracks"]["count"] <= 2
    poses = load_poses.from_dlc_file(written["h5"])
    assert poses.position.sizes["individuals"] == len(tracks) and poses.position.sizes["time"] == FRAMES
    labels = sio.load_slp(str(written["slp"]))
    assert len(labels.tracks) == len(tracks)
    assert all(len(lf.instances) <= 2 for lf in labels.labeled_frames)
    assert written["labeled_video"].stat().st_size > 0
    for lf in labels.labeled_frames:  # the .slp and the table hold the same points
        for inst in lf.instances:
            n = tracks.index(inst.track.name)
            table = poses.position.isel(time=lf.frame_idx, individuals=n).values.T  # (K, 2)
            assert np.allclose(inst.numpy(), table, equal_nan=True, atol=1e-3)


def test_animals_and_filters_are_for_the_model_they_fit(animals_run, checkpoint, walk, tmp_path, capsys):
    video = str(walk[0])
    several = animals_run[0].best_checkpoint
    for args, message in [
        ([checkpoint, video, "--animals", "2"], "--animals: .* was trained on one animal per frame"),
        ([several, video, "--filter", "median"], "--filter smooths one animal's track"),
        ([checkpoint, video, "--animals", "0"], "--animals must be >= 1, got 0"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            predict_main([*args, "--out", str(tmp_path)])
        assert exit_info.value.code == 2
        assert re.search(message, capsys.readouterr().err)
