"""seqattn.losses.hinge: the hinge distance loss, its two zones and its threshold settings."""

import math

import pytest
import torch

from seqattn.errors import ConfigError
from seqattn.losses import HingeDistanceLoss, hinge_loss


def point_loss(d: float, t: float, angle: float = 0.3) -> tuple[float, float]:
    """Loss value and gradient norm for one point at distance d from its target."""
    target = torch.tensor([[[0.5, 0.5]]], dtype=torch.float64)
    offset = torch.tensor([[[math.cos(angle), math.sin(angle)]]], dtype=torch.float64) * d
    pred = (target + offset).requires_grad_(True)
    out = HingeDistanceLoss(t)(pred, target, torch.ones(1, 1, dtype=torch.bool))
    out.loss.backward()
    return out.loss.item(), pred.grad.norm().item()


def test_values_in_both_zones():
    assert point_loss(0.03, 0.1)[0] == pytest.approx(0.03**2 / 0.2)
    assert point_loss(0.3, 0.1)[0] == pytest.approx(0.3 - 0.05)


@pytest.mark.parametrize("t", [0.3, 0.1, 0.01])
def test_c1_continuity_at_threshold(t):
    eps = 1e-7
    below, g_below = point_loss(t - eps, t)
    above, g_above = point_loss(t + eps, t)
    assert below == pytest.approx(t / 2, abs=1e-6) and above == pytest.approx(t / 2, abs=1e-6)
    assert g_below == pytest.approx(1.0, abs=1e-5) and g_above == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("d", [0.001, 0.02, 0.05, 0.099, 0.1, 0.2, 1.5])
def test_gradient_magnitude_is_min_d_over_t_1(d):
    t = 0.1
    assert point_loss(d, t, angle=1.1)[1] == pytest.approx(min(d / t, 1.0), rel=1e-6)


def test_zero_distance_has_finite_zero_gradient():
    value, grad = point_loss(0.0, 0.1)
    assert value == 0.0 and grad == 0.0
    _, grad0 = point_loss(0.0, 0.0)  # t = 0: plain Euclidean distance, still finite at d = 0
    assert math.isfinite(grad0)


def test_zero_threshold_is_euclidean_distance():
    assert point_loss(0.25, 0.0)[0] == pytest.approx(0.25, abs=1e-9)


def test_hidden_points_with_nan_targets_contribute_nothing():
    torch.manual_seed(0)
    pred = torch.rand(3, 5, 2, requires_grad=True)
    target = torch.rand(3, 5, 2)
    visible = torch.rand(3, 5) > 0.4
    nan_target = target.clone()
    nan_target[~visible] = float("nan")
    loss_fn = HingeDistanceLoss(0.1)
    out = loss_fn(pred, nan_target, visible)
    out.loss.backward()
    assert torch.isfinite(pred.grad).all()
    assert (pred.grad[~visible] == 0).all()
    # mean over visible points only: one 0.05 from its target (0.05^2 / 0.2), one 0.3 (0.3 - 0.1 / 2), one hidden
    pred = torch.tensor([[[0.55, 0.5], [0.5, 0.8], [0.9, 0.1]]])
    target = torch.tensor([[[0.5, 0.5], [0.5, 0.5], [float("nan"), float("nan")]]])
    out = loss_fn(pred, target, torch.tensor([[True, True, False]]))
    assert out.loss.item() == pytest.approx((0.0125 + 0.25) / 2, rel=1e-6)


def test_all_hidden_gives_zero_loss_not_nan():
    pred = torch.rand(2, 3, 2, requires_grad=True)
    out = HingeDistanceLoss(0.1)(pred, torch.full((2, 3, 2), float("nan")), torch.zeros(2, 3, dtype=torch.bool))
    out.loss.backward()
    assert out.loss.item() == 0.0 and torch.isfinite(pred.grad).all()


def test_per_axis_diagnostics_use_the_same_hinge():
    pred = torch.tensor([[[0.5 + 0.2, 0.5 + 0.04]]])
    out = HingeDistanceLoss(0.1)(pred, torch.full((1, 1, 2), 0.5), torch.ones(1, 1, dtype=torch.bool))
    assert out.loss_x.item() == pytest.approx(0.2 - 0.05, rel=1e-5)
    assert out.loss_y.item() == pytest.approx(0.04**2 / 0.2, rel=1e-4)


def test_threshold_config():
    assert hinge_loss(192, threshold_px=19.2).threshold == pytest.approx(0.1)
    assert hinge_loss(192, threshold=0.3).threshold == 0.3
    with pytest.raises(ConfigError, match="not both"):
        hinge_loss(192, threshold=0.1, threshold_px=10)
    with pytest.raises(ConfigError, match="loss.threshold "):
        hinge_loss(192, threshold=-1)
    with pytest.raises(ConfigError, match="loss.threshold_px"):
        hinge_loss(192, threshold_px=-3)
