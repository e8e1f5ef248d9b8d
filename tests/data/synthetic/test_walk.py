"""seqattn.data.synthetic.walk: the rendered demo walk."""

import numpy as np
import pytest
from helpers import FRAMES, H, W

from seqattn.data.synthetic.scene import sample_scene
from seqattn.data.synthetic.walk import herd_poses, main, render_walk
from seqattn.io.video_info import probe


def test_demo_video_is_the_walk_it_says(video):
    path, truth = video
    info = probe(path)
    assert (info.width, info.height, info.fps, info.frames_expected) == (W, H, 30.0, FRAMES)
    assert truth.shape == (FRAMES, 10, 2)
    steps = np.linalg.norm(np.diff(truth[:, 3], axis=0), axis=1)  # the neck moves smoothly
    assert 0 < steps.max() < 0.1 * W


def test_several_creatures_walk_crossing_paths_keeping_their_identities(tmp_path):
    truth = render_walk(str(tmp_path / "herd.mp4"), frames=90, width=W, height=H, animals=2)
    assert truth.shape == (90, 2, 10, 2)
    info = probe(tmp_path / "herd.mp4")
    assert (info.width, info.height, info.frames_expected) == (W, H, 90)
    # identities: each track moves little from a frame to the next, far less than the two lie apart
    steps = np.linalg.norm(np.diff(truth, axis=0), axis=-1)  # (89, 2, 10)
    assert 0 < steps.max() < 0.1 * W
    necks = truth[:, :, 3]
    assert np.linalg.norm(necks[:, 0] - necks[:, 1], axis=-1).max() > 0.3 * W
    # the paths cross: somewhere the animals' boxes meet
    lo, hi = truth.min(axis=2), truth.max(axis=2)  # (90, 2, 2)
    meet = (np.minimum(hi[:, 0], hi[:, 1]) > np.maximum(lo[:, 0], lo[:, 1])).all(-1)
    assert 0 < meet.sum() < len(meet)
    assert (np.isfinite(truth).all()) and ((truth > -0.5) & (truth < [W - 0.5, H - 0.5])).all(-1).mean() > 0.9


def test_several_creatures_keep_their_looks(tmp_path):
    poses = herd_poses(40, W, H, 3)
    assert len(poses) == 40 and all(len(p) == 3 for p in poses)
    lengths = []
    for frame in (0, 39):
        creatures, order = sample_scene(np.random.default_rng([0, 3, 3]), W, H, 3, poses[frame])
        lengths.append([c.length for c in creatures] + [c.body for c in creatures])
        assert list(order) == [0, 1, 2]
    assert lengths[0] == lengths[1]


def test_the_demo_command_takes_animals(tmp_path):
    out = tmp_path / "demo.mp4"
    main([str(out), "12", "--animals", "2"])
    assert probe(out).frames_expected == 12
    with pytest.raises(SystemExit):
        main([str(out), "12", "--animals", "0"])
