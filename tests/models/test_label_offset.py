"""seqattn.models.label_offset: the labels' offset as each augmented sample shows it."""

import torch

from seqattn.models.label_offset import LabelOffset


def test_the_offset_turns_and_swaps_with_the_sample():
    labels = LabelOffset(3)
    labels.offset.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]]))
    quarter_turn = torch.tensor([[0.0, -1.0], [1.0, 0.0]])  # x -> y, y -> -x
    mirror = torch.tensor([[-1.0, 0.0], [0.0, 1.0]])
    frame_map = torch.stack([torch.eye(2), quarter_turn, mirror])
    order = torch.tensor([[0, 1, 2], [0, 1, 2], [1, 0, 2]])  # the mirror swapped keypoints 0 and 1
    shown = labels(frame_map, order)
    assert shown.shape == (3, 3, 2)
    assert torch.equal(shown[0], labels.offset)
    assert torch.equal(shown[1], torch.tensor([[0.0, 1.0], [-2.0, 0.0], [-3.0, 3.0]]))
    assert torch.equal(shown[2], torch.tensor([[0.0, 2.0], [-1.0, 0.0], [-3.0, 3.0]]))
    assert torch.equal(labels(), labels.offset)  # an image as filmed: the offset itself


def test_the_estimate_finds_the_labels_offset_through_turns_flips_and_gross_misses():
    torch.manual_seed(0)
    k, batches = 3, 1500
    truth = torch.tensor([[0.012, -0.012], [0.0, 0.02], [-0.01, 0.0]])  # normalized, in the frame as filmed
    labels = LabelOffset(k)
    for _ in range(batches):
        angle = torch.rand(16) * 2 * torch.pi
        c, s = angle.cos(), angle.sin()
        frame_map = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # (16, 2, 2) turns
        flipped = torch.rand(16) < 0.5
        frame_map[flipped] = frame_map[flipped] @ torch.diag(torch.tensor([-1.0, 1.0]))
        order = torch.where(flipped[:, None], torch.tensor([1, 0, 2]), torch.tensor([0, 1, 2]))
        shown = torch.einsum("bij,bkj->bki", frame_map, truth[order])  # the labels' offset in each sample
        residual = shown + 0.005 * torch.randn(16, k, 2)  # label minus a model that finds the landmarks
        residual[0, 0] = 0.5  # a gross miss, left out
        labels.update(residual, torch.ones(16, k, dtype=torch.bool), frame_map, order)
    assert torch.allclose(labels.offset, truth, atol=1e-3)
