"""seqattn.models.label_offset: the labels' offset as each augmented sample shows it."""

import torch

from seqattn.models.label_offset import LabelOffset


def test_the_offset_turns_and_swaps_with_the_sample():
    labels = LabelOffset(3)
    with torch.no_grad():
        labels.offset.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]]))
    quarter_turn = torch.tensor([[0.0, -1.0], [1.0, 0.0]])  # x -> y, y -> -x
    mirror = torch.tensor([[-1.0, 0.0], [0.0, 1.0]])
    frame_map = torch.stack([torch.eye(2), quarter_turn, mirror])
    order = torch.tensor([[0, 1, 2], [0, 1, 2], [1, 0, 2]])  # the mirror swapped keypoints 0 and 1
    shown = labels(frame_map, order)
    assert shown.shape == (3, 3, 2)
    assert torch.equal(shown[0], labels.offset.detach())
    assert torch.equal(shown[1], torch.tensor([[0.0, 1.0], [-2.0, 0.0], [-3.0, 3.0]]))
    assert torch.equal(shown[2], torch.tensor([[0.0, 2.0], [-1.0, 0.0], [-3.0, 3.0]]))
    assert torch.equal(labels(), labels.offset)  # an image as filmed: the offset itself
