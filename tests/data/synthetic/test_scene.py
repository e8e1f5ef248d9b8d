"""seqattn.data.synthetic.scene: several rendered creatures in a frame (data.source.animals)."""

import numpy as np
import pytest

from seqattn.data.instances import anchor_of
from seqattn.data.synthetic.creature import Creature
from seqattn.data.synthetic.dataset import SyntheticSource
from seqattn.data.synthetic.scene import SPLIT_IDS, sample_scene
from seqattn.errors import ConfigError

W, H = 96, 80


@pytest.fixture(scope="module")
def herd() -> SyntheticSource:
    return SyntheticSource(num_train=50, num_val=4, num_test=4, width=W, height=H, animals=2)


def boxes(points: np.ndarray) -> np.ndarray:
    """(N, K, 2) -> (N, 4) x0, y0, x1, y1 of each animal's labelled points."""
    return np.concatenate([np.nanmin(points, axis=1), np.nanmax(points, axis=1)], axis=1)


def test_frames_hold_every_animal_mostly_inside(herd):
    frames = herd.frames()
    assert set(frames) == {"train", "val", "test"} and len(frames["train"]) == 50
    train, inside = frames["train"], []
    for i in range(len(train)):
        labels = train.labels(i)
        assert labels.keypoints.shape == (2, 10, 2)
        assert labels.tracks == ["animal0", "animal1"]
        assert labels.name == f"synthetic/train/{i:06d}"
        shown = labels.keypoints[np.isfinite(labels.keypoints).all(-1)]
        assert ((shown >= -0.5) & (shown < [W - 0.5, H - 0.5])).all()  # the rest are NaN
        inside.append(np.isfinite(labels.keypoints).all(-1).mean())
        image = train.image(i) if i < 3 else None
        assert image is None or (image.shape == (H, W, 3) and image.dtype == np.uint8)
    assert np.mean(inside) > 0.85


def test_animals_meet_in_some_frames_and_not_in_all(herd):
    train = herd.frames()["train"]
    meet = []
    for i in range(len(train)):
        (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes(train.labels(i).keypoints)
        meet.append(min(ax1, bx1) > max(ax0, bx0) and min(ay1, by1) > max(ay0, by0))
    assert 0 < sum(meet) < len(meet)


def test_animals_face_different_ways(herd):
    train = herd.frames()["train"]
    turns = []
    for i in range(len(train)):
        necks, tails = train.labels(i).keypoints[:, 3], train.labels(i).keypoints[:, 8]
        if np.isfinite(necks).all() and np.isfinite(tails).all():
            a, b = necks - tails
            turns.append(np.degrees(np.arccos(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))))
    assert len(turns) > 30 and np.median(turns) > 30


def test_a_frame_is_a_function_of_seed_split_and_index(herd):
    again = SyntheticSource(num_train=50, num_val=4, num_test=4, width=W, height=H, animals=2)
    for split, i in (("train", 7), ("val", 2)):
        a, b = herd.frames()[split], again.frames()[split]
        assert np.array_equal(a.image(i), b.image(i))
        assert np.array_equal(a.labels(i).keypoints, b.labels(i).keypoints, equal_nan=True)
        assert np.array_equal(a.image(i), a.image(i))  # and twice in one source
    frames = herd.frames()
    assert not np.array_equal(frames["train"].image(0), frames["val"].image(0))
    other = SyntheticSource(num_train=2, num_val=1, num_test=1, width=W, height=H, animals=2, seed=1)
    assert not np.array_equal(frames["train"].image(0), other.frames()["train"].image(0))


def test_a_covered_animal_stays_labelled(herd):
    # keypoints are the truth: missing only outside the frame, wherever another animal lies
    train, covered = herd.frames()["train"], 0
    for i in range(len(train)):
        creatures, order = sample_scene(np.random.default_rng([0, SPLIT_IDS["train"], i]), W, H, 2, dense=False)
        truth = np.stack([c.points[:10] for c in creatures])  # (2, 10, 2) before masking
        labels = train.labels(i).keypoints
        inside = ((truth >= -0.5) & (truth < [W - 0.5, H - 0.5])).all(-1)
        assert np.array_equal(np.isfinite(labels).all(-1), inside)
        assert np.array_equal(labels[inside], truth[inside])
        under, over = creatures[order[0]], creatures[order[1]]  # the later painted covers the earlier
        on_body = np.linalg.norm(under.points[:10] - over.body_centre, axis=1) < over.body_width * over.length
        covered += int((on_body & inside[order[0]]).sum())
    assert covered > 0


def test_crops_are_layout_squares_centred_on_the_anchor(herd):
    layout = herd.layout
    assert layout is not None and layout.max_animals == 2 and layout.anchor is None
    assert 16 <= layout.crop_px < max(W, H)  # the creatures are smaller than the frame
    crops = herd.splits()["train"]
    assert len(crops) >= 90  # two per frame, barring an animal nearly out of the frame
    side = layout.crop_px
    for i in range(0, len(crops), 9):
        sample = crops[i]
        assert sample.image.shape == (side, side, 3)
        assert np.abs(anchor_of(sample.keypoints, None) - (side / 2 - 0.5)).max() <= 0.5
        assert sample.name.split("#")[1] in ("animal0", "animal1")


def test_a_named_anchor_and_a_set_crop_size():
    source = SyntheticSource(
        num_train=6, num_val=2, num_test=2, width=W, height=H, animals=3, anchor="neck", crop_size=40
    )
    assert (source.layout.anchor, source.layout.crop_px, source.layout.max_animals) == ("neck", 40, 3)
    sample = source.splits()["train"][0]
    assert sample.image.shape == (40, 40, 3)
    neck = sample.keypoints[source.keypoint_names.index("neck")]
    assert np.abs(neck - 19.5).max() <= 0.5


def test_variations_and_dense_landmarks_with_several_animals():
    source = SyntheticSource(
        num_train=20, num_val=1, num_test=1, width=W, height=H, animals=2, num_keypoints=17, grey=True, missing=0.3
    )
    train = source.frames()["train"]
    image = train.image(0)
    assert (image[..., 0] == image[..., 1]).all()
    points = np.stack([train.labels(i).keypoints for i in range(20)])  # (20, 2, 17, 2)
    assert 0.2 < np.isnan(points[..., 0]).mean() < 0.5
    seen = points[0, 0][np.isfinite(points[0, 0]).all(1)]
    assert len(seen) and np.linalg.norm(seen - seen.mean(0), axis=1).max() < 0.5 * H  # on one creature


def test_one_frame_source_has_no_frames_and_bad_settings_are_refused():
    with pytest.raises(NotImplementedError):
        SyntheticSource(num_train=1, num_val=1, num_test=1).frames()
    with pytest.raises(ConfigError, match="animals"):
        SyntheticSource(animals=0)
    with pytest.raises(ConfigError, match="centred"):
        SyntheticSource(animals=2, centred=True)


def test_animals_is_one_override_away(make_cfg):
    from seqattn.data import build_source

    cfg = make_cfg(
        "data.source.animals=2", "data.source.num_train=4", "data.source.num_val=2", "data.source.num_test=2"
    )
    source = build_source(cfg.data)
    assert source.layout is not None and source.layout.max_animals == 2
    assert len(source.frames()["train"]) == 4


def on_body(point: np.ndarray, c: Creature) -> bool:
    """Whether ``point`` (2,) lies well inside ``c``'s body ellipse."""
    along = np.array([np.cos(c.theta), np.sin(c.theta)])
    d = point - c.body_centre
    u, v = d @ along, d @ np.array([along[1], -along[0]])
    return (u / (0.4 * c.length)) ** 2 + (v / (c.body_width * c.length)) ** 2 < 0.7


def test_every_animal_is_painted_the_later_over_the_earlier(herd):
    train, checked, contested = herd.frames()["train"], 0, 0
    for i in range(len(train)):
        creatures, order = sample_scene(np.random.default_rng([0, SPLIT_IDS["train"], i]), W, H, 2, dense=False)
        image = train.image(i).astype(int)
        under, top = creatures[order[0]], creatures[order[1]]
        for c in (top, under):  # the body's colour along its axis (blur and noise apart), unless covered
            along = 0.4 * c.length * np.array([np.cos(c.theta), np.sin(c.theta)])
            for t in (-0.5, -0.25, 0, 0.25, 0.5):
                point = c.body_centre + t * along
                x, y = np.round(point).astype(int)
                if not (0 <= x < W and 0 <= y < H) or (c is under and np.linalg.norm(point - top.centre) < top.length):
                    continue
                assert np.abs(image[y, x] - c.body).max() < 45, (i, c is top)
                checked += 1
                differ = np.abs(np.subtract(top.body, under.body)).max() > 90
                contested += c is top and on_body(point, under) and differ
    assert checked > 300 and contested > 0  # and some on top of the other's body
