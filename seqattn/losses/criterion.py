"""The whole training objective of a keypoint model, as named terms that add up to the loss.

    loss = coords + sum of the other terms

``coords`` is the coordinate loss (``loss.*`` in the config) on every estimate the model makes,
step t of T + 1 weighing 1 + ``step_weight_slope`` * t, normalized by the weights' sum. Every
other term is a module in its own file under ``seqattn/losses`` that carries its ``weight`` and
returns its weighted contribution, and names in ``reads`` the model outputs it takes:
``term(*(out[key] for key in reads), target, visible)`` -> a scalar. A term whose outputs the
model does not give is left out. A new term is that file plus one entry in
:class:`KeypointCriterion`'s constructor. Terms on frames without labels (they run the model
themselves, on warped and consecutive frames) are ``unlabelled`` (seqattn/losses/unlabelled.py).
The animal detector of labels with several animals in a frame has its own term on whole frames,
``anchors`` (seqattn/losses/anchors.py), added to the loss by the module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from seqattn.losses.anchors import AnchorFocalLoss
from seqattn.losses.confidence import ConfidenceBCE
from seqattn.losses.heatmap import GaussianHeatmapKL
from seqattn.losses.hinge import MaskedPointLoss
from seqattn.losses.unlabelled import UnlabelledTerms

RESERVED = ("coords", "loss", "loss_x", "loss_y")  # names of the criterion's own entries


class KeypointCriterion(nn.Module):
    """Model outputs + labels -> the named loss terms and ``loss``, their sum.

    ``coordinate_loss``: a masked point loss, (pred, target, visible) -> LossOutput. The other
    arguments are ``conf/train.yaml``'s ``supervision:`` block; a term of weight 0 is not built.
    """

    def __init__(
        self,
        coordinate_loss: MaskedPointLoss,
        step_weight_slope: float = 0.0,
        heatmap_weight: float = 0.0,
        heatmap_sigma: float = 1.0,
        confidence_weight: float = 0.0,
        confidence_scale: float = 0.02,
        unlabelled: UnlabelledTerms | None = None,
        anchors: AnchorFocalLoss | None = None,
    ) -> None:
        super().__init__()
        self.coordinate_loss = coordinate_loss
        # the terms on frames without labels: (model, frames, next frames) -> named terms (data.unlabelled)
        self.unlabelled = unlabelled if unlabelled is not None else UnlabelledTerms()
        self.anchors = anchors  # the detector's anchor maps (B, 1, h, w) + anchors (B, N, 2) -> a scalar
        self.step_weight_slope = step_weight_slope
        self.terms = nn.ModuleDict()  # name -> term, added to the loss in this order
        if heatmap_weight > 0:  # one peak per step-0 map, at the label
            self.add_term("heatmap", GaussianHeatmapKL(heatmap_sigma, heatmap_weight))
        if confidence_weight > 0:  # the confidence head against the final estimate's closeness
            self.add_term("confidence", ConfidenceBCE(confidence_scale, confidence_weight))

    def add_term(self, name: str, term: nn.Module) -> None:
        """Add ``term`` (a module with ``reads`` and its weight applied) to the loss as ``name``."""
        if name in RESERVED or name in self.terms:
            raise ValueError(f"loss term name {name!r} is taken")
        self.terms[name] = term

    def step_weights(self, steps: int) -> list[float]:
        """Weight of each of ``steps`` estimates, coarse to fine: 1 + step_weight_slope * t."""
        return [1.0 + self.step_weight_slope * t for t in range(steps)]

    def forward(self, out: Mapping[str, Any], target: torch.Tensor, visible: torch.Tensor) -> dict[str, torch.Tensor]:
        """out: the model's outputs, ``coords`` (B, K, 2) normalized, optionally ``steps`` (a list of
        (B, K, 2), every estimate coarse to fine, the last one final) and what the terms read;
        target (B, K, 2) normalized, NaN allowed where not visible; visible (B, K) bool.

        Returns scalars: ``coords`` (the step-weighted coordinate loss), one entry per other term
        computed (weight applied), ``loss`` (their sum, optimized) and ``loss_x`` / ``loss_y``
        (the coordinate penalty on each axis of the final estimate alone: diagnostics, not in
        ``loss``).
        """
        steps = out.get("steps") or [out["coords"]]
        final = self.coordinate_loss(steps[-1], target, visible)
        weights = self.step_weights(len(steps))
        earlier = zip(weights[:-1], steps[:-1], strict=True)
        coords = sum(w * self.coordinate_loss(s, target, visible).loss for w, s in earlier)
        coords = (coords + weights[-1] * final.loss) / sum(weights)
        terms, loss = {"coords": coords}, coords
        for name, term in self.terms.items():
            inputs = [out.get(key) for key in term.reads]
            if all(x is not None for x in inputs):
                terms[name] = term(*inputs, target, visible)
                loss = loss + terms[name]
        return {**terms, "loss": loss, "loss_x": final.loss_x, "loss_y": final.loss_y}

    def extra_repr(self) -> str:
        return f"step_weight_slope={self.step_weight_slope}"
