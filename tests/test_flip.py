"""Test-time flip: the mirror convention against rendered pixels, the averaging, and where it is on."""

import json

import numpy as np
import pytest
import torch

from seqattn.data.codec import KeypointCodec
from seqattn.errors import ConfigError
from seqattn.inference.batch import load_checkpoint, predict_images, ready_for_inference
from seqattn.models.flip import flip_averaged
from seqattn.training.train import train

SIDE = 24


def dots(points_px: list[tuple[int, int]]) -> torch.Tensor:
    """(1, 3, SIDE, SIDE) black image with a white pixel at each (column, row)."""
    image = torch.zeros(1, 3, SIDE, SIDE)
    for col, row in points_px:
        image[0, :, row, col] = 1.0
    return image


def pixel_norm(col: int, row: int) -> torch.Tensor:
    return (torch.tensor([col, row], dtype=torch.float64) + 0.5) / SIDE


def brightest(image: torch.Tensor, first_col: int = 0) -> torch.Tensor:
    """(B, 3, SIDE, W) -> (B, 2) normalized centre of each image's brightest pixel, its columns
    numbered from ``first_col``."""
    flat = image.sum(1).flatten(1).argmax(1)
    row, col = flat // image.shape[-1], flat % image.shape[-1] + first_col
    return (torch.stack([col, row], 1).double() + 0.5) / SIDE


class LeftRightDots:
    """A two-keypoint 'model': keypoint 0 is the brightest pixel of the image's left half, keypoint 1
    of its right half; ``bias`` is added to every x (an error that is not mirror-symmetric)."""

    def __init__(self, bias: float = 0.0) -> None:
        self.bias = bias

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        half = images.shape[-1] // 2
        left, right = brightest(images[..., :half]), brightest(images[..., half:], first_col=half)
        coords = torch.stack([left, right], 1) + torch.tensor([self.bias, 0.0], dtype=torch.float64)
        return {"coords": coords, "confidence": torch.tensor([[0.9, 0.3]])}


@pytest.mark.parametrize("col,row", [(0, 0), (3, 17), (23, 5), (11, 12)])
def test_mirror_moves_points_with_the_rendered_pixel(col, row):
    mirrored_image = dots([(col, row)]).flip(-1)
    found = brightest(mirrored_image)[0]
    assert torch.allclose(KeypointCodec.mirror(pixel_norm(col, row)), found)
    assert torch.allclose(KeypointCodec.mirror(KeypointCodec.mirror(found)), found)


def test_the_mirrored_pass_swaps_left_and_right_back():
    image = dots([(4, 6), (19, 15)])
    expected = torch.stack([pixel_norm(4, 6), pixel_norm(19, 15)])
    averaged = flip_averaged(LeftRightDots(), image, pairs=[[0, 1]])
    assert torch.allclose(averaged["coords"][0], expected)
    # without the swap the mirrored pass names the other dot: each keypoint lands between the two
    unswapped = flip_averaged(LeftRightDots(), image, pairs=[])
    assert torch.allclose(unswapped["coords"][0, :, 0], expected[:, 0].mean().expand(2))
    assert torch.allclose(averaged["confidence"], torch.tensor([[0.6, 0.6]]))


def test_an_error_that_is_not_mirror_symmetric_cancels():
    image = dots([(4, 6), (19, 15)])
    biased = LeftRightDots(bias=0.1)
    assert (biased(image)["coords"][0, :, 0] - 0.1 - torch.tensor([4.5, 19.5]) / SIDE).abs().max() < 1e-9
    averaged = flip_averaged(biased, image, pairs=[[0, 1]])
    assert torch.allclose(averaged["coords"][0], torch.stack([pixel_norm(4, 6), pixel_norm(19, 15)]))


def test_training_with_flips_averages_predictions(make_cfg, tmp_path):
    """The synthetic creature has left/right pairs: auto turns it on, the checkpoint keeps the pairs,
    the run header says so, and predict's one pass differs from the averaged prediction."""
    summary = train(make_cfg("test=false"))
    run_info = json.loads((tmp_path / "run" / "run_info.json").read_text())
    chosen = run_info["adaptive"]["chosen"]["test_time_flip"]
    assert chosen["value"] is True and "mirrored" in chosen["reason"]
    module = ready_for_inference(load_checkpoint(summary.best_checkpoint), "cpu")
    assert module.flip_pairs == [[1, 2]] and module.keypoint_names[1:3] == ["left_ear", "right_ear"]
    images = [np.random.default_rng(0).integers(0, 255, (32, 40, 3), dtype=np.uint8)]
    averaged = predict_images(module, images)["coords"]
    one_pass = predict_images(ready_for_inference(load_checkpoint(summary.best_checkpoint), "cpu", flip=False), images)
    assert np.isfinite(averaged).all() and not np.allclose(averaged, one_pass["coords"])


def test_no_flips_in_training_means_one_pass(make_cfg):
    summary = train(make_cfg("test=false", "trainer.max_epochs=1", "data.augment.hflip=0"))
    assert load_checkpoint(summary.best_checkpoint).flip_pairs is None


def test_asking_for_it_without_flips_is_refused_before_anything_is_written(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match="test_time_flip=true needs a model trained with flips"):
        train(make_cfg("test_time_flip=true", "data.augment.hflip=0"))
    with pytest.raises(ConfigError, match="test_time_flip must be auto, true or false"):
        train(make_cfg("test_time_flip=sometimes"))
    assert not (tmp_path / "run").exists()
