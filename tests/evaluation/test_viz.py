"""Overlay pictures: the yellow error segment lies between truth and prediction, and nowhere else."""

import numpy as np
import pytest

from seqattn.evaluation.viz import PRED_RGB, TRUTH_RGB, draw_errors, error_label, label_errors, make_grid, save_png
from seqattn.io.images import read_image


def yellowish(img: np.ndarray) -> np.ndarray:
    """(H, W) mask of yellow pixels, anti-aliased edges included: red and green high and alike, blue low."""
    r, g, b = (img[..., c].astype(int) for c in range(3))
    return (r > 100) & (g > 100) & (abs(r - g) < 60) & (b < 80)


def distance_to_segment(xy: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M, 2) points -> (M,) distance to the segment a-b."""
    ab = b - a
    t = np.clip(((xy - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(xy - (a + t[:, None] * ab), axis=1)


@pytest.mark.parametrize("size", [None, 600])
def test_yellow_pixels_lie_on_the_segment_between_truth_and_prediction(size):
    image = np.full((80, 120, 3), 40, np.uint8)  # plain dark grey: no yellow of its own
    truth = np.array([[20.0, 60.0], [100.0, 60.0]])
    pred = np.array([[70.0, 15.0], [np.nan, np.nan]])  # the second keypoint has no prediction
    out = draw_errors(image, pred, truth, size=size)

    factor = 1.0 if size is None else size / 120
    assert out.shape[:2] == (round(80 * factor), round(120 * factor))
    a, b = (truth[0] + 0.5) * factor - 0.5, (pred[0] + 0.5) * factor - 0.5  # drawn-image pixels
    ys, xs = np.nonzero(yellowish(out))
    d = distance_to_segment(np.stack([xs, ys], 1).astype(float), a, b)
    assert len(d) > 0 and d.max() <= 1.0 + max(1, round(max(out.shape[:2]) / 256)) / 2  # anti-aliasing
    # the segment is drawn along its length, not just at its ends
    for t in np.linspace(0.2, 0.8, 7):
        x, y = np.round(a + t * (b - a)).astype(int)
        assert yellowish(out[y - 1 : y + 2, x - 1 : x + 2]).any(), (t, x, y)
    # markers: truth in green at both truth points, prediction in magenta at its point
    for colour, p in ((TRUTH_RGB, truth[0]), (TRUTH_RGB, truth[1]), (PRED_RGB, pred[0])):
        x, y = np.round((p + 0.5) * factor - 0.5).astype(int)
        patch = out[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3)
        assert (np.abs(patch.astype(int) - colour).sum(1) < 30).any(), (colour, p)
    assert (out == 255).all(-1).any()  # the white err=...px label


def test_no_truth_means_no_error_lines_and_the_input_is_untouched():
    image = np.full((50, 60, 3), 40, np.uint8)
    before = image.copy()
    out = draw_errors(image, np.array([[10.0, 10.0], [40.0, 30.0]]))
    assert not yellowish(out).any() and not (out == 255).all(-1).any()  # no line, no label
    assert (np.abs(out.reshape(-1, 3).astype(int) - PRED_RGB).sum(1) < 30).any()
    assert np.array_equal(image, before)


def test_error_label_rounds_original_pixels():
    assert error_label(66.6) == "err=67px"
    assert error_label(2.4) == "err=2px"


def test_grid_holds_every_tile_and_png_round_trips(tmp_path):
    colours = [(200, 0, 0), (0, 0, 200), (0, 200, 200)]
    tiles = [np.full((30 + 10 * i, 40, 3), c, np.uint8) for i, c in enumerate(colours)]
    grid = make_grid(tiles, columns=2, titles=["one", "two", "three"], header="legend")
    assert grid.dtype == np.uint8 and grid.shape[1] >= 2 * 40
    for tile, colour in zip(tiles, colours, strict=True):
        assert (grid.reshape(-1, 3) == colour).all(1).sum() == tile.shape[0] * tile.shape[1]
    path = save_png(tmp_path / "viz" / "grid.png", grid)
    assert np.array_equal(read_image(path), grid)


def test_crowded_labels_never_overlap_and_the_largest_errors_are_labelled():
    rng = np.random.default_rng(0)
    img = np.zeros((300, 300, 3), np.uint8)
    mids = rng.uniform(120, 180, (48, 2))  # two animals' worth of keypoints in a 60 px patch
    errors = rng.uniform(0, 30, 48)
    errors[[3, 40]] = np.nan  # no truth or no prediction: no label
    drawn = label_errors(img, mids, errors, font_scale=0.5, gap=3)
    boxes = list(drawn.values())
    assert 3 not in drawn and 40 not in drawn and 0 < len(drawn) < 46  # crowded: not every error fits
    order = np.argsort(-np.nan_to_num(errors, nan=-1))
    assert drawn.keys() >= {int(order[0]), int(order[1])}  # the largest ones are always labelled
    for i, a in enumerate(boxes):
        assert 0 <= a[0] < a[2] <= 300 and 0 <= a[1] < a[3] <= 300
        assert (img[a[1] : a[3], a[0] : a[2]] == 255).all(-1).any()  # the white text is there
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    for k, (x0, y0, x1, y1) in drawn.items():  # each beside its own segment
        assert x0 - 4 <= mids[k][0] + 3 and mids[k][0] - 3 <= x1 + 4
        assert y0 - 4 <= mids[k][1] + 3 + (y1 - y0) and mids[k][1] - 3 - (y1 - y0) <= y1 + 4


def test_labels_of_separate_errors_are_all_drawn():
    img = np.zeros((300, 300, 3), np.uint8)
    mids = np.array([[40.0, 40.0], [250.0, 40.0], [40.0, 250.0], [250.0, 250.0]])
    assert sorted(label_errors(img, mids, np.array([1.0, 2.0, 3.0, 4.0]), font_scale=0.5, gap=3)) == [0, 1, 2, 3]
