import math

import pytest
import torch

from seqattn.errors import ConfigError
from seqattn.losses import L1Loss, MSELoss, WingLoss


def losses_for(dx: float, dy: float, loss):
    pred = torch.tensor([[[0.5 + dx, 0.5 + dy]]], dtype=torch.float64, requires_grad=True)
    out = loss(pred, torch.full((1, 1, 2), 0.5, dtype=torch.float64), torch.ones(1, 1, dtype=torch.bool))
    out.loss.backward()
    return out, pred.grad


def test_l1_mse_values():
    out, _ = losses_for(0.03, -0.04, L1Loss())
    assert out.loss.item() == pytest.approx(0.07) and out.loss_x.item() == pytest.approx(0.03)
    out, _ = losses_for(0.03, -0.04, MSELoss())
    assert out.loss.item() == pytest.approx(0.0025)


def test_wing_is_continuous_log_inside_linear_outside():
    w, eps = 0.05, 0.01
    wing = WingLoss(w, eps)
    inside, _ = losses_for(0.02, 0.0, wing)
    assert inside.loss.item() == pytest.approx(w * math.log(1 + 0.02 / eps))
    below, _ = losses_for(w - 1e-9, 0.0, wing)
    above, grad = losses_for(w + 1e-9, 0.0, wing)
    assert below.loss.item() == pytest.approx(above.loss.item(), abs=1e-7)
    assert grad[0, 0, 0].item() == pytest.approx(1.0)


@pytest.mark.parametrize("loss", [L1Loss(), MSELoss(), WingLoss()])
def test_zero_offset_and_nan_hidden_targets_are_safe(loss):
    _, grad = losses_for(0.0, 0.0, loss)
    assert torch.isfinite(grad).all()
    pred = torch.rand(2, 3, 2, requires_grad=True)
    target = torch.full((2, 3, 2), float("nan"))
    visible = torch.zeros(2, 3, dtype=torch.bool)
    visible[0, 0] = True
    target[0, 0] = 0.5
    loss(pred, target, visible).loss.backward()
    assert torch.isfinite(pred.grad).all() and (pred.grad[1] == 0).all()


def test_wing_rejects_bad_parameters():
    with pytest.raises(ConfigError, match="loss.width"):
        WingLoss(width=0)
