"""seqattn.models.flip: the test-time flip averages a pass and its mirrored pass, left and right swapped back."""

import torch
from helpers import SIDE, brightest, dots, pixel_norm

from seqattn.models.flip import flip_averaged


class LeftRightDots:
    """A two-keypoint 'model': keypoint 0 is the brightest pixel of the image's left half, keypoint 1
    of its right half; ``bias`` is added to every x (an error that is not mirror-symmetric)."""

    def __init__(self, bias: float = 0.0) -> None:
        self.bias = bias

    def __call__(self, images: torch.Tensor, mirrored: bool = False) -> dict[str, torch.Tensor]:
        images = images.flip(-1) if mirrored else images  # the models' contract (SequentialAttentionModel)
        half = images.shape[-1] // 2
        left, right = brightest(images[..., :half]), brightest(images[..., half:], first_col=half)
        coords = torch.stack([left, right], 1) + torch.tensor([self.bias, 0.0], dtype=torch.float64)
        return {"coords": coords, "confidence": torch.tensor([[0.9, 0.3]])}


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
