"""seqattn.data.synthetic.walk: the rendered demo walk."""

import numpy as np
from helpers import FRAMES, H, W

from seqattn.io.video_info import probe


def test_demo_video_is_the_walk_it_says(video):
    path, truth = video
    info = probe(path)
    assert (info.width, info.height, info.fps, info.frames_expected) == (W, H, 30.0, FRAMES)
    assert truth.shape == (FRAMES, 10, 2)
    steps = np.linalg.norm(np.diff(truth[:, 3], axis=0), axis=1)  # the neck moves smoothly
    assert 0 < steps.max() < 0.1 * W
