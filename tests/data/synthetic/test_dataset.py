"""seqattn.data.synthetic.dataset: the rendered creature as a data set."""

import numpy as np
import pytest

from seqattn.data import find_flip_pairs
from seqattn.data.synthetic.dataset import KEYPOINT_NAMES, MAX_KEYPOINTS, SyntheticSource
from seqattn.errors import ConfigError


def test_same_seed_and_index_give_the_same_sample():
    a = SyntheticSource(num_train=5, seed=3).splits()["train"][4]
    b = SyntheticSource(num_train=5, seed=3).splits()["train"][4]
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.keypoints, b.keypoints, equal_nan=True)


def test_indices_splits_and_seeds_differ():
    src = SyntheticSource(num_train=3, num_val=3, seed=0)
    other = SyntheticSource(num_train=3, seed=1)
    images = [
        src.splits()["train"][0].image,
        src.splits()["train"][1].image,
        src.splits()["val"][0].image,
        other.splits()["train"][0].image,
    ]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert not np.array_equal(images[i], images[j])


def test_shapes_and_names():
    src = SyntheticSource(num_train=4, width=90, height=60, num_keypoints=6)
    s = src.splits()["train"][0]
    assert s.image.shape == (60, 90, 3) and s.image.dtype == np.uint8
    assert s.keypoints.shape == (6, 2)
    assert src.keypoint_names == list(KEYPOINT_NAMES[:6])


def test_out_of_frame_keypoints_are_missing_and_in_frame_ones_are_not():
    split = SyntheticSource(num_train=300, width=64, height=48).splits()["train"]
    missing = total = 0
    for i in range(300):
        pts = split[i].keypoints
        hidden = np.isnan(pts).any(1)
        shown = pts[~hidden]
        assert ((shown >= -0.5) & (shown < [63.5, 47.5])).all()
        missing += hidden.sum()
        total += len(pts)
    assert 0 < missing < 0.3 * total  # some near the border, most visible


@pytest.mark.parametrize("k", [17, 68, 100, MAX_KEYPOINTS])
def test_many_keypoint_mode_gives_paired_landmarks_on_the_creature(k):
    source = SyntheticSource(num_train=4, num_val=1, num_test=1, width=96, height=80, num_keypoints=k)
    names = source.keypoint_names
    assert len(names) == len(set(names)) == k and names[:10] == list(KEYPOINT_NAMES)
    # every lateral landmark has its mirror partner, so a horizontal flip can swap them
    lateral = [n for n in names if "left" in n or "right" in n]
    assert 2 * len(find_flip_pairs(names)) == len(lateral)
    sample = source.splits()["train"][0]
    assert sample.keypoints.shape == (k, 2)
    seen = sample.keypoints[np.isfinite(sample.keypoints).all(1)]
    # landmarks lie on one creature: within its body length of the neck, not spread over the frame
    neck = sample.keypoints[names.index("neck")]
    assert np.isfinite(neck).all() and np.linalg.norm(seen - neck, axis=1).max() < 0.6 * 80


def test_variations_stand_in_for_other_kinds_of_data():
    base = SyntheticSource(num_train=30, num_val=1, num_test=1, width=96, height=80, num_keypoints=6)
    grey = SyntheticSource(num_train=30, num_val=1, num_test=1, width=96, height=80, num_keypoints=6, grey=True)
    crops = SyntheticSource(num_train=30, num_val=1, num_test=1, width=64, height=64, centred=True)
    mixed = SyntheticSource(num_train=30, num_val=1, num_test=1, width=96, height=80, size_range=(0.5, 2), missing=0.3)
    a, g = base.splits()["train"][3], grey.splits()["train"][3]
    assert np.array_equal(a.keypoints, g.keypoints, equal_nan=True)  # the same creature, only grey
    assert (g.image[..., 0] == g.image[..., 1]).all() and (g.image[..., 1] == g.image[..., 2]).all()
    # crops: the creature near the centre of a frame of the asked size
    for i in range(10):
        c = crops.splits()["train"][i]
        assert c.image.shape == (64, 64, 3)
        assert np.linalg.norm(np.nanmean(c.keypoints, axis=0) - 32) < 24  # crops stop at the frame edge
    sizes = {mixed.splits()["train"][i].image.shape[:2] for i in range(30)}
    assert len(sizes) > 10 and min(h for h, _ in sizes) < 60 and max(h for h, _ in sizes) > 110
    missing = np.mean([np.isnan(mixed.splits()["train"][i].keypoints[:, 0]).mean() for i in range(30)])
    assert 0.2 < missing < 0.5
    with pytest.raises(ConfigError, match="size_range"):
        SyntheticSource(size_range=(2, 1))


def test_the_variations_are_one_override_away(make_cfg):
    # what bench/generalisation.py's proxies type: plain overrides of conf/data/synthetic.yaml
    from seqattn.data import build_source

    cfg = make_cfg(
        "data.source.grey=true",
        "data.source.centred=true",
        "data.source.size_range=[0.5,2.0]",
        "data.source.missing=0.33",
        "data.source.num_keypoints=13",
    )
    source = build_source(cfg.data)
    v = source.splits()["train"].variation
    assert (v.grey, v.centred, v.missing, tuple(v.size_range)) == (True, True, 0.33, (0.5, 2.0))
    assert len(source.keypoint_names) == 13
