"""seqattn.losses.heatmap: the heat-map term."""

import torch

from seqattn.losses import GaussianHeatmapKL


def test_heatmap_kl_is_zero_at_the_gaussian_and_ignores_unlabelled_points():
    loss = GaussianHeatmapKL(sigma=1.0)
    h = w = 12
    target = torch.tensor([[[4.5 / w, 7.5 / h], [float("nan"), float("nan")]]])  # (1, 2, 2); the second unlabelled
    visible = torch.tensor([[True, False]])
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    at_label = -((xs - 4.5) ** 2 + (ys - 7.5) ** 2) / 2  # the Gaussian's own log-density (up to a constant)
    logits = torch.stack([at_label, torch.randn(h, w)])[None].requires_grad_()  # (1, 2, h, w)
    value = loss(logits, target, visible)
    assert value.abs() < 1e-5
    elsewhere = torch.stack([at_label.roll(5, 1), torch.randn(h, w)])[None]
    assert loss(elsewhere, target, visible) > 5
    value.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad[0, 1].abs().max() == 0  # no gradient where unlabelled
