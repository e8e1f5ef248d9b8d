"""seqattn.models.label_offset: the labels' offset as each augmented sample shows it, and its estimate."""

import torch

from seqattn.models.label_offset import LabelOffset


def turns_and_flips(n: int) -> torch.Tensor:
    """(n, 2, 2) random rotations, half of them mirrored."""
    angle = torch.rand(n) * 2 * torch.pi
    c, s = angle.cos(), angle.sin()
    frame_map = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    flipped = torch.rand(n) < 0.5
    frame_map[flipped] = frame_map[flipped] @ torch.diag(torch.tensor([-1.0, 1.0]))
    return frame_map


def test_the_offset_turns_with_the_sample():
    labels = LabelOffset()
    labels.offset.copy_(torch.tensor([1.0, 2.0]))
    quarter_turn = torch.tensor([[0.0, -1.0], [1.0, 0.0]])  # x -> y, y -> -x
    mirror = torch.tensor([[-1.0, 0.0], [0.0, 1.0]])
    shown = labels(torch.stack([torch.eye(2), quarter_turn, mirror]))
    assert shown.shape == (3, 1, 2)
    assert shown[:, 0].tolist() == [[1.0, 2.0], [-2.0, 1.0], [-1.0, 2.0]]
    assert torch.equal(labels(), labels.offset)  # an image as filmed: the offset itself


def test_the_estimate_finds_the_labels_offset_through_turns_flips_and_gross_misses():
    torch.manual_seed(0)
    truth = torch.tensor([0.012, -0.02])  # normalized, in the frame as filmed
    labels = LabelOffset()
    for _ in range(1500):
        frame_map = turns_and_flips(16)
        shown = (frame_map @ truth)[:, None, :].expand(16, 3, 2)  # the labels' offset in each sample
        residual = shown + 0.005 * torch.randn(16, 3, 2)  # label minus a model that finds the landmarks
        residual[0, 0] = 0.5  # a gross miss, left out
        labels.update(residual, torch.ones(16, 3, dtype=torch.bool), frame_map)
    assert torch.allclose(labels.offset, truth, atol=1e-3)


def test_errors_that_turn_with_the_animal_leave_the_estimate_near_zero():
    torch.manual_seed(0)
    labels = LabelOffset()
    for _ in range(1500):
        frame_map = turns_and_flips(16)
        residual = torch.tensor([0.02, 0.0]).expand(16, 3, 2) + 0.005 * torch.randn(16, 3, 2)  # in each sample's frame
        labels.update(residual, torch.ones(16, 3, dtype=torch.bool), frame_map)
    assert labels.offset.norm() < 2e-3
