"""The animal detector: its peaks and its loss."""

import math

import torch

from seqattn.losses.anchors import AnchorFocalLoss
from seqattn.models.detector import AnimalDetector, find_peaks


def _logits_with_peaks(h, w, peaks):
    """Logits whose sigmoid is a small Gaussian bump of the given height at each (x, y) in cells."""
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    p = torch.full((h, w), 1e-4)
    for x, y, height in peaks:
        p = torch.maximum(p, height * torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / 2))
    return torch.logit(p.clamp(1e-4, 1 - 1e-4))[None, None]


def test_peaks_are_found_best_first_refined_and_missing_ones_are_nan():
    logits = _logits_with_peaks(16, 20, [(5.5, 4.5, 0.9), (14.0, 11.5, 0.6), (10.5, 2.5, 0.2)])
    centres, scores = find_peaks(logits, max_animals=3, min_score=0.3)
    assert centres.shape == (1, 3, 2) and scores.shape == (1, 3)
    assert torch.allclose(centres[0, 0], torch.tensor([5.5 / 20, 4.5 / 16]), atol=1e-4)
    assert abs(centres[0, 1, 0].item() * 20 - 14.0) < 0.25  # between two cells: refined towards the true peak
    assert abs(centres[0, 1, 1].item() * 16 - 11.5) < 1e-3
    assert torch.isnan(centres[0, 2]).all() and scores[0, 2] == 0  # below min_score: no animal
    assert scores[0, 0] > scores[0, 1]


def test_the_focal_loss_prefers_peaks_at_the_anchors():
    loss = AnchorFocalLoss(sigma=1.5)
    anchors = torch.tensor([[[0.25, 0.25], [0.75, 0.6]], [[0.5, 0.5], [math.nan, math.nan]]])
    target = loss.target(anchors, 16, 16)
    assert target.shape == (2, 16, 16) and target[0].max() == 1 and (target[0] == 1).sum() == 2
    good = torch.logit(target.clamp(1e-3, 1 - 1e-3))[:, None]
    wrong = good.roll(shifts=5, dims=-1)
    assert loss(good, anchors) < 0.5 * loss(wrong, anchors)
    assert torch.isfinite(loss(torch.zeros(2, 1, 16, 16), torch.full((2, 2, 2), math.nan)))  # no animal at all


def test_the_detector_maps_frames_to_a_stride_4_map_and_trains():
    torch.manual_seed(0)
    detector = AnimalDetector(channels=(8, 8, 16), width=8)
    frames = torch.randn(2, 3, 64, 64)
    assert detector(frames).shape == (2, 1, 16, 16)
    anchors = torch.tensor([[[0.3, 0.3]], [[0.7, 0.6]]])
    frames[0, :, 16:24, 16:24] += 3  # a bright square at each anchor
    frames[1, :, 36:44, 42:50] += 3
    loss, opt = AnchorFocalLoss(), torch.optim.Adam(detector.parameters(), 1e-2)
    first = loss(detector(frames), anchors).item()
    for _ in range(200):
        opt.zero_grad()
        value = loss(detector(frames), anchors)
        value.backward()
        opt.step()
    assert value.item() < 0.6 * first
    detector.eval()
    centres, _ = find_peaks(detector(frames), 1, 0.05)
    assert torch.allclose(centres[:, 0], anchors[:, 0], atol=0.1)
