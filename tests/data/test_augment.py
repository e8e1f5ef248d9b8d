"""Augmentations keep every keypoint on its rendered landmark (also at sub-pixel precision)."""

import cv2
import numpy as np
import pytest
from helpers import compose_cfg

from seqattn.data.augment import KeypointAugment
from seqattn.data.synthetic.dataset import KEYPOINT_NAMES, SyntheticSource
from seqattn.errors import ConfigError
from seqattn.training.task import find_user_error
from seqattn.training.train import train

S = 96
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255)]
PAIRS = [(0, 1), (2, 3)]  # keypoint 0 <-> 1 and 2 <-> 3 swap on a flip


def geometric_only(pairs=PAIRS, rotate=25.0, **kw) -> KeypointAugment:
    return KeypointAugment(rotate=rotate, flip_pairs=pairs, brightness_contrast=0, blur=0, noise=0, **kw)


def dots_image(points: np.ndarray) -> np.ndarray:
    image = np.zeros((S, S, 3), np.uint8)
    for (x, y), colour in zip(points, COLOURS, strict=False):
        if np.isfinite(x):
            cv2.circle(image, (int(round(x)), int(round(y))), 4, colour, -1)
    return image


@pytest.mark.parametrize("flip", [0.0, 1.0])
@pytest.mark.parametrize("seed", range(5))
def test_each_keypoint_stays_on_its_coloured_dot(seed, flip):
    rng = np.random.default_rng(seed)
    grid = np.array([[28, 28], [48, 28], [68, 28], [28, 58], [48, 58], [68, 58]], dtype=np.float64)
    points = grid + rng.uniform(-3, 3, size=(6, 2))  # dots 20 px apart never overlap
    np.random.seed(seed)
    image, out = geometric_only(rotate=180, scale=(0.7, 1.3), translate=0.1, hflip=flip)(dots_image(points), points)
    # after a flip the labels swap: keypoint 0 now names the landmark drawn as dot 1, and so on
    landmark = [1, 0, 3, 2, 4, 5] if flip else list(range(6))
    checked = 0
    for i, (x, y) in enumerate(out):
        if np.isnan(x):
            continue
        pixel = image[int(round(y)), int(round(x))]
        assert np.abs(pixel.astype(int) - COLOURS[landmark[i]]).max() < 60, (seed, i)
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_sub_pixel_precision_of_affine_and_flip(flip):
    yy, xx = np.mgrid[0:S, 0:S]
    centre = np.array([[40.3, 51.7]])
    blob = np.exp(-((xx - centre[0, 0]) ** 2 + (yy - centre[0, 1]) ** 2) / (2 * 3.0**2))
    image = (blob * 255).round().astype(np.uint8)[:, :, None].repeat(3, 2)
    for seed in range(5):
        np.random.seed(seed)
        out_image, out = geometric_only([], rotate=40, scale=(0.9, 1.1), translate=0.05, hflip=flip)(image, centre)
        w = out_image[:, :, 0].astype(np.float64)
        found = np.array([(w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()])
        assert np.abs(found - out[0]).max() < 0.15  # input pixels: no half-pixel slip


def test_points_pushed_out_of_frame_become_missing_never_clipped():
    points = np.array([[2.0, 3.0], [48.0, 47.0], [np.nan, np.nan]])
    np.random.seed(0)
    _, out = geometric_only(rotate=0, scale=(2.0, 2.0), translate=0, hflip=0)(dots_image(points), points)
    assert np.isnan(out[0]).all()  # zoomed out of the frame
    assert np.isfinite(out[1]).all()  # near the centre: stays
    assert np.isnan(out[2]).all() and out.shape == (3, 2)  # missing stays missing, order and count kept


def test_photometric_changes_never_move_keypoints():
    points = np.array([[10.0, 20.0], [30.5, 40.25]])
    np.random.seed(1)
    aug = KeypointAugment(
        rotate=0, flip_pairs=[], scale=(1, 1), translate=0, hflip=0, brightness_contrast=0.5, blur=1, noise=1
    )
    image, out = aug(dots_image(points), points)
    assert np.allclose(out, points) and image.shape == (S, S, 3)


def test_flip_keeps_the_creature_chirality():
    """On rendered creatures, left_ear stays on the creature's left after flips (labels swapped)."""
    split = SyntheticSource(num_train=20, width=S, height=S).splits()["train"]
    names = list(KEYPOINT_NAMES)
    snout, left, right, neck = (names.index(n) for n in ("snout", "left_ear", "right_ear", "neck"))
    pairs = [(1, 2), (4, 5), (6, 7)]
    aug = KeypointAugment(rotate=180, flip_pairs=pairs, brightness_contrast=0, blur=0, noise=0, hflip=1.0)
    checked = 0
    for i in range(20):
        pts = split[i].keypoints
        np.random.seed(i)
        _, out = aug(split[i].image, pts)
        for p in (pts, out):
            if np.isnan(p[[snout, left, right, neck]]).any():
                continue
            head = p[snout] - p[neck]
            side = np.array([head[1], -head[0]])  # the creature's left in image coordinates
            assert (p[left] - p[neck]) @ side > 0 > (p[right] - p[neck]) @ side
            checked += 1
    assert checked > 10


def test_flips_are_off_when_no_left_right_pairs_are_known(caplog):
    unknown = KeypointAugment(rotate=25, flip_pairs=None, hflip=0.5)  # e.g. names like paw1LH, paw4RH
    assert unknown.hflip == 0.0 and "horizontal flip off" in caplog.text
    assert KeypointAugment(rotate=25, flip_pairs=[], hflip=0.5).hflip == 0.5  # explicitly no sided keypoints


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"scale": (2, 1)}, "data.augment.scale must be [min, max] with 0 < min <= max, got [2, 1]"),
        ({"scale": (0, 1)}, "data.augment.scale must be [min, max] with 0 < min <= max, got [0, 1]"),
        ({"scale": (0.8, 1.0, 1.2)}, "data.augment.scale must be [min, max] with 0 < min <= max, got [0.8, 1.0, 1.2]"),
        ({"scale": 1.2}, "data.augment.scale must be [min, max] with 0 < min <= max, got 1.2"),
        ({"translate": -0.1}, "data.augment.translate must be >= 0, got -0.1"),
        ({"hflip": 1.5}, "data.augment.hflip must be in [0, 1], got 1.5"),
        ({"blur": -0.1}, "data.augment.blur must be in [0, 1], got -0.1"),
        ({"noise": 2}, "data.augment.noise must be in [0, 1], got 2"),
        ({"brightness_contrast": -0.2}, "data.augment.brightness_contrast must be >= 0, got -0.2"),
    ],
)
def test_meaningless_settings_are_refused_by_name(kwargs, words):
    with pytest.raises(ConfigError) as raised:
        KeypointAugment(**{"rotate": 10.0, "flip_pairs": [], **kwargs})
    assert str(raised.value) == words


def test_a_fixed_scale_and_no_augmentation_are_fine():
    KeypointAugment(rotate=0.0, flip_pairs=[], scale=[1, 1], translate=0, hflip=0, brightness_contrast=0, blur=0)


def test_a_scale_range_upside_down_stops_train_before_anything_is_written(tmp_path):
    with pytest.raises(Exception) as raised:  # a constructor's error arrives wrapped by hydra.instantiate
        train(compose_cfg(tmp_path / "out", "data.augment.scale=[2,1]"))
    assert "data.augment.scale must be [min, max] with 0 < min <= max, got [2, 1]" in str(find_user_error(raised.value))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_the_transform_reports_what_it_did_to_directions(flip):
    rng = np.random.default_rng(0)
    points = rng.uniform(20, 76, size=(6, 2))
    augment = geometric_only(rotate=180, scale=(0.7, 1.3), translate=0.1, hflip=flip)
    order = [1, 0, 3, 2, 4, 5] if flip else list(range(6))  # after a flip the labels swap (PAIRS)
    for seed in range(5):
        np.random.seed(seed)
        _, out, frame_map = augment.transform(dots_image(points), points)
        assert (np.linalg.det(frame_map) < 0) == bool(flip)  # a mirror turns the frame over
        kept = np.flatnonzero(np.isfinite(out).all(1))
        for i in kept:  # every vector between two labels is mapped by frame_map
            for j in kept:
                moved = frame_map @ (points[order[i]] - points[order[j]])
                assert np.abs(out[i] - out[j] - moved).max() < 1e-4  # albumentations works in float32
