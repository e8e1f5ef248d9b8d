"""KeypointCriterion: each named term is what it claims, and ``loss`` is their sum."""

from __future__ import annotations

import math

import pytest
import torch

from seqattn.errors import ConfigError
from seqattn.losses import ConfidenceBCE, GaussianHeatmapKL, KeypointCriterion, L1Loss, MSELoss


def _labels() -> tuple[torch.Tensor, torch.Tensor]:
    """target (1, 3, 2), the last keypoint unlabelled (NaN); visible (1, 3)."""
    target = torch.tensor([[[0.5, 0.5], [0.25, 0.75], [float("nan"), float("nan")]]])
    return target, torch.tensor([[True, True, False]])


def _outputs(target: torch.Tensor, errors: list[float], heat: bool = True) -> dict[str, object]:
    """A hand-made output: one estimate per x error (coarse to fine), a flat confidence, heat maps."""
    safe = target.nan_to_num(0.5)
    steps = [(safe + torch.tensor([e, 0.0])).requires_grad_() for e in errors]
    out = {"coords": steps[-1], "steps": steps, "confidence": torch.full((1, 3), 0.5, requires_grad=True)}
    if heat:
        out["heat"] = torch.randn(1, 3, 6, 6, generator=torch.Generator().manual_seed(0), requires_grad=True)
    return out


def test_terms_add_up_to_the_loss_and_each_is_its_own_module():
    target, visible = _labels()
    out = _outputs(target, [0.1, 0.02])
    criterion = KeypointCriterion(MSELoss(), heatmap_weight=0.3, confidence_weight=0.2)
    terms = criterion(out, target, visible)
    assert set(terms) == {"coords", "heatmap", "confidence", "loss", "loss_x", "loss_y"}
    assert all(t.shape == () for t in terms.values())
    assert terms["loss"] == terms["coords"] + terms["heatmap"] + terms["confidence"]
    heat = GaussianHeatmapKL(1.0)(out["heat"], target, visible)
    assert terms["heatmap"].item() == pytest.approx(0.3 * heat.item(), rel=1e-6)  # weight applied
    confidence = ConfidenceBCE(0.02)(out["confidence"], out["coords"], target, visible)
    assert terms["confidence"].item() == pytest.approx(0.2 * confidence.item(), rel=1e-6)
    final = MSELoss()(out["coords"], target, visible)  # loss_x / loss_y: the final estimate's, per axis
    assert terms["loss_x"] == final.loss_x and terms["loss_y"] == final.loss_y


def test_zero_heatmap_weight_leaves_the_coordinate_loss():
    target, visible = _labels()
    out = _outputs(target, [0.05])
    terms = KeypointCriterion(L1Loss(), heatmap_weight=0.0, confidence_weight=0.0)(out, target, visible)
    assert set(terms) == {"coords", "loss", "loss_x", "loss_y"}
    assert terms["loss"] == terms["coords"] == L1Loss()(out["coords"], target, visible).loss


def test_terms_are_left_out_when_the_model_lacks_their_outputs():
    target, visible = _labels()
    out = {"coords": _outputs(target, [0.05])["coords"]}  # a model with neither heat maps nor confidence
    terms = KeypointCriterion(L1Loss(), heatmap_weight=0.5, confidence_weight=0.5)(out, target, visible)
    assert "heatmap" not in terms and "confidence" not in terms and terms["loss"] == terms["coords"]


# a two-step output, its L1 losses 0.2 (coarse) and 0.01 (fine): the weighted mean by hand
@pytest.mark.parametrize(
    ("slope", "weights", "expected"),
    [
        (0.0, [1.0, 1.0], (0.2 + 0.01) / 2),
        (1.0, [1.0, 2.0], (0.2 + 2 * 0.01) / 3),
        (3.0, [1.0, 4.0], (0.2 + 4 * 0.01) / 5),
    ],
    ids=["0.0", "1.0", "3.0"],
)
def test_step_weights_follow_one_plus_slope_times_t(slope, weights, expected):
    target, visible = _labels()
    out = _outputs(target, [0.2, 0.01], heat=False)  # a two-step output, coarse then fine
    criterion = KeypointCriterion(L1Loss(), step_weight_slope=slope)
    assert criterion.step_weights(2) == weights
    assert criterion(out, target, visible)["coords"].item() == pytest.approx(expected, rel=1e-6)


def test_confidence_term_is_smallest_at_the_closeness_of_the_final_estimate():
    target, visible = _labels()
    out = _outputs(target, [0.3, 0.01], heat=False)
    scale = 0.02
    closeness = math.exp(-((0.01 / scale) ** 2))  # the wanted confidence of the two labelled points
    out["confidence"] = torch.full((1, 3), closeness, requires_grad=True)
    term = KeypointCriterion(L1Loss(), confidence_weight=1.0, confidence_scale=scale)(out, target, visible)
    confidence = term["confidence"]
    confidence.backward()
    # BCE(c, w) is smallest at c = w, where it equals the entropy of w: no pull on the confidence
    entropy = -(closeness * math.log(closeness) + (1 - closeness) * math.log(1 - closeness))
    assert confidence.item() == pytest.approx(entropy, rel=1e-5)
    assert out["confidence"].grad.abs().max() < 1e-5
    assert all(s.grad is None for s in out["steps"])  # the target is detached from the coordinates
    out["confidence"] = torch.full((1, 3), 0.9)
    worse = KeypointCriterion(L1Loss(), confidence_weight=1.0, confidence_scale=scale)(out, target, visible)
    assert worse["confidence"] > confidence


def test_nan_targets_of_hidden_points_give_finite_loss_and_gradients():
    target, visible = _labels()
    out = _outputs(target, [0.2, 0.05, 0.01])
    criterion = KeypointCriterion(MSELoss(), step_weight_slope=1.0, heatmap_weight=0.1, confidence_weight=0.1)
    terms = criterion(out, target, visible)
    assert all(torch.isfinite(t) for t in terms.values())
    terms["loss"].backward()
    inputs = [*out["steps"], out["confidence"], out["heat"]]
    assert all(torch.isfinite(x.grad).all() for x in inputs)
    assert all(x.grad[0, 2].abs().max() == 0 for x in inputs)  # nothing flows from the unlabelled point


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="confidence scale"):
        KeypointCriterion(L1Loss(), confidence_weight=0.1, confidence_scale=0.0)
    with pytest.raises(ConfigError, match="sigma"):
        KeypointCriterion(L1Loss(), heatmap_weight=0.1, heatmap_sigma=-1.0)
    criterion = KeypointCriterion(L1Loss(), heatmap_sigma=-1.0)  # a term of weight 0 is not built
    assert len(criterion.terms) == 0
    with pytest.raises(ValueError, match="taken"):
        criterion.add_term("loss", GaussianHeatmapKL())
