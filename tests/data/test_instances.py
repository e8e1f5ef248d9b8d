"""The crop around each animal: one rule for training and prediction."""

import numpy as np
import pytest

from seqattn.data.instances import anchor_of, crop_box, cut, resolve_layout
from seqattn.errors import ConfigError, DataError

NAMES = ["head", "thorax", "tail"]


def test_the_anchor_lands_in_the_middle_of_its_crop_and_cut_pads_beyond_the_image():
    image = np.arange(20 * 30 * 3, dtype=np.int64).reshape(20, 30, 3).astype(np.uint8)
    for centre, side in [((10.0, 7.0), 8), ((2.3, 17.6), 9), ((29.0, 0.0), 16)]:
        box = crop_box(np.array(centre), side)
        x0, y0, x1, y1 = box
        assert (x1 - x0, y1 - y0) == (side, side)
        inside = np.array(centre) - [x0, y0]  # the anchor in crop pixels
        assert np.all(np.abs(inside - (side - 1) / 2) <= 0.5)
        crop = cut(image, box)
        assert crop.shape == (side, side, 3)
        for cy in range(side):  # every crop pixel is the image's, or 0 beyond its edges
            for cx in range(side):
                x, y = x0 + cx, y0 + cy
                want = image[y, x] if 0 <= x < 30 and 0 <= y < 20 else 0
                assert np.array_equal(crop[cy, cx], np.broadcast_to(want, (3,)))


def test_the_anchor_is_the_named_part_else_the_centre_of_the_labelled_box():
    points = np.array([[0.0, 0.0], [4.0, 2.0], [np.nan, np.nan]])
    assert np.allclose(anchor_of(points, 1), [4, 2])
    assert np.allclose(anchor_of(points, 2), [2, 1])  # the part is missing: the box centre
    assert np.allclose(anchor_of(points, None), [2, 1])


def _animal(centre, reach):
    c = np.asarray(centre, dtype=float)
    return np.array([c + [reach, 0], c, c - [reach, 0]])


def test_the_crop_side_holds_the_animals_whichever_way_they_turn():
    frames = [[_animal((50, 50), 20), _animal((120, 60), 20)] for _ in range(10)]
    layout = resolve_layout(frames, NAMES, "auto", "auto", "labels.slp")
    assert layout.max_animals == 2 and layout.anchor is None
    assert layout.crop_px == 56  # 2 x 20 px reach x 1.25 = 50, up to a multiple of 8
    assert "56 px" in layout.reason
    fixed = resolve_layout(frames, NAMES, "thorax", 64, "labels.slp")
    assert (fixed.crop_px, fixed.anchor) == (64, "thorax")


def test_bad_anchors_and_sizes_are_one_line_naming_them():
    frames = [[_animal((50, 50), 20)]]
    with pytest.raises(ConfigError, match="'wing' is not a keypoint of labels.slp"):
        resolve_layout(frames, NAMES, "wing", "auto", "labels.slp")
    missing = [[np.array([[np.nan, np.nan], [1.0, 1.0], [5.0, 5.0]])] for _ in range(3)] + frames
    with pytest.raises(DataError, match="anchor part 'head' is missing in 75% of the 4 labelled animals"):
        resolve_layout(missing, NAMES, "head", "auto", "labels.slp")
    with pytest.raises(ConfigError, match="crop_size"):
        resolve_layout(frames, NAMES, "auto", 4, "labels.slp")
