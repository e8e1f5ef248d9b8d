"""One synthetic animal renders exactly what it did before several animals came (commit 28147d5).

The digests were taken from that commit's code on the same samples (the digest function below, run
there); a change to the single-animal path (the random draws' order, the drawing, the masking) shows
as a different digest. A new OpenCV or NumPy may change the pixels for good reasons: re-take them then
by running this digest against 28147d5's seqattn/data/synthetic (git worktree add ... 28147d5).
"""

import hashlib

import numpy as np
import pytest

from seqattn.data.synthetic.creature import render_creature
from seqattn.data.synthetic.dataset import SyntheticSource
from seqattn.data.synthetic.walk import walking_poses

SETTINGS = {
    "default": {},
    "dense": {"num_keypoints": 104, "width": 96, "height": 80},
    "varied": {"grey": True, "centred": True, "width": 64, "height": 64},
    "mixed": {"size_range": (0.5, 2.0), "missing": 0.3},
}
BEFORE = [  # setting, split, index, digest of the image's then the keypoints' bytes
    ("default", "train", 0, "83f0e2e44c229523"),
    ("default", "train", 7, "58f97feb82e33b9c"),
    ("default", "val", 3, "b3e38eb5bfefa6c3"),
    ("default", "test", 5, "40479771cdce3d40"),
    ("dense", "train", 1, "2ec70a4849e9eb00"),
    ("varied", "train", 2, "a6d9b373e822360f"),
    ("mixed", "val", 4, "185f874f51159fe1"),
]


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize(("setting", "split", "index", "before"), BEFORE)
def test_one_animal_samples_are_those_of_before(setting, split, index, before):
    source = SyntheticSource(num_train=10, num_val=10, num_test=10, **SETTINGS[setting])
    assert source.layout is None
    sample = source.splits()[split][index]
    assert digest(sample.image, sample.keypoints) == before


def test_explicit_animals_1_is_the_default():
    a = SyntheticSource(num_train=3, num_val=1, num_test=1).splits()["train"][2]
    b = SyntheticSource(num_train=3, num_val=1, num_test=1, animals=1, crop_size=50).splits()["train"][2]
    assert np.array_equal(a.image, b.image) and np.array_equal(a.keypoints, b.keypoints, equal_nan=True)


def test_the_one_creature_walk_renders_as_before():
    pose = walking_poses(3, 64, 48)[2]
    image, points = render_creature(np.random.default_rng([0, 3]), 64, 48, pose)
    assert digest(image, points) == "026ea7f55ae359d9"
