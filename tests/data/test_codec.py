"""seqattn.data.codec: original pixels <-> the letterbox <-> normalized coordinates, and the mirror."""

import numpy as np
import pytest
import torch
from helpers import brightest, dots, pixel_norm

from seqattn.data.codec import Geometry, KeypointCodec
from seqattn.errors import ConfigError


@pytest.mark.parametrize("size", [(641, 479), (480, 640), (37, 211), (160, 160), (15, 9), (1001, 333)])
@pytest.mark.parametrize("input_size", [33, 128, 192])
def test_round_trip_original_normalized_original(size, input_size):
    w, h = size
    codec = KeypointCodec(input_size)
    frame = codec.frame(w, h)
    rng = np.random.default_rng(0)
    pts = np.stack([rng.uniform(-0.5, w - 0.5, 50), rng.uniform(-0.5, h - 0.5, 50)], 1)
    norm = codec.encode(pts, frame)
    assert ((norm >= 0) & (norm <= 1)).all()
    back = codec.decode(torch.tensor(norm)[None], torch.tensor(frame.as_array())[None])[0].numpy()
    assert np.abs(back - pts).max() < 1e-4


def test_image_corners_map_to_letterbox_edges():
    codec = KeypointCodec(100)
    frame = codec.frame(200, 100)  # scaled by 0.5, padded 25 px top and bottom
    corners = np.array([[-0.5, -0.5], [199.5, 99.5]])
    assert np.allclose(codec.to_input_px(corners, frame), [[-0.5, 24.5], [99.5, 74.5]])


@pytest.mark.parametrize("size", [(640, 480), (97, 203)])
def test_letterboxed_pixels_sit_where_the_codec_says(size):
    """A bright blob's centroid moves exactly as the codec maps its centre (no half-pixel bias)."""
    w, h = size
    codec = KeypointCodec(160)
    yy, xx = np.mgrid[0:h, 0:w]
    centre = np.array([0.37 * w, 0.61 * h])
    sigma = 0.06 * max(w, h)
    blob = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sigma**2))
    image = (blob * 255).astype(np.uint8)[:, :, None].repeat(3, 2)
    boxed, frame = codec.letterbox(image)
    assert boxed.shape == (160, 160, 3)
    weight = boxed[:, :, 0].astype(np.float64)
    ys, xs = np.mgrid[0:160, 0:160]
    found = np.array([(weight * xs).sum() / weight.sum(), (weight * ys).sum() / weight.sum()])
    expected = codec.to_input_px(centre[None], frame)[0]
    assert np.abs(found - expected).max() < 0.1  # input pixels; a half-pixel slip would be 0.5


def test_missing_points_stay_nan():
    codec = KeypointCodec(64)
    frame = codec.frame(100, 50)
    out = codec.encode(np.array([[np.nan, np.nan], [10.0, 20.0]]), frame)
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()


@pytest.mark.parametrize("col,row", [(0, 0), (3, 17), (23, 5), (11, 12)])
def test_mirror_moves_points_with_the_rendered_pixel(col, row):
    mirrored_image = dots([(col, row)]).flip(-1)
    found = brightest(mirrored_image)[0]
    assert torch.allclose(KeypointCodec.mirror(pixel_norm(col, row)), found)
    assert torch.allclose(KeypointCodec.mirror(KeypointCodec.mirror(found)), found)


def test_the_letterbox_of_a_model_config_needs_its_factor_resolved():
    assert Geometry.for_model(160, {"hires_factor": 2}).side == 320
    for unresolved in ({"hires_factor": "auto"}, {}):
        with pytest.raises(ConfigError, match="^model.hires_factor is not resolved"):
            Geometry.for_model(160, unresolved)
