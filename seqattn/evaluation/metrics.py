"""Pixel-error metrics in original-image pixels, synced across processes by concatenation."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from seqattn.evaluation.calibration import likelihood_auroc
from seqattn.evaluation.point_errors import PointErrors

if TYPE_CHECKING:
    from seqattn.data.codec import KeypointCodec

_STATES = ("index", "pred_px", "dxy", "visible", "norm_dist", "diagonal", "confidence")


# The names stage_metrics returns (PointErrors.summary's statistics, per-keypoint EPE, likelihood AUROC).
METRIC_NAMES = (
    r"epe_px|median_px|p90_px|dx_px|dy_px|gross_miss|within_threshold|likelihood_auroc|pck@[0-9.]+px|epe_px/.+"
)


def stage_metrics(
    points: PointErrors, pck_px: tuple[float, ...], threshold: float | None, held_out: bool
) -> dict[str, float]:
    """What a stage logs at its epoch end, as ``{stage}/<name>``: the summary statistics and, on
    held-out data (train errors move within the epoch), the EPE of each keypoint
    (``epe_px/<keypoint>``) and ``likelihood_auroc`` (does the confidence tell good points, within
    ``seqattn.evaluation.calibration.GOOD_PX``, from bad?; left out when undefined)."""
    logged = {name: float(value) for name, value in points.summary(pck_px, threshold).items()}
    if held_out:
        for name, stats in points.per_keypoint(pck_px).items():
            logged[f"epe_px/{name}"] = stats["epe_px"]
        auroc = likelihood_auroc(points)
        if math.isfinite(auroc):
            logged["likelihood_auroc"] = auroc
    return logged


class KeypointErrors(Metric):
    """Collects per-point errors and reports EPE, median, p90, PCK, per-axis and per-keypoint error.

    States are concatenated across processes (not averaged per process), so percentiles and means
    over a sharded dataset equal the single-process values. Rows with a repeated dataset index
    (DistributedSampler pads the last shard by repeating samples) are counted once.
    """

    full_state_update = False

    def __init__(
        self, keypoint_names: list[str], pck_px: tuple[float, ...] = (2.0, 5.0, 10.0), threshold: float | None = None
    ):
        super().__init__()
        self.keypoint_names = list(keypoint_names)
        self.pck_px = tuple(float(r) for r in pck_px)
        self.threshold = threshold
        for name in _STATES:
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(
        self,
        pred_px: torch.Tensor,
        target_px: torch.Tensor,
        visible: torch.Tensor,
        norm_dist: torch.Tensor,
        index: torch.Tensor,
        diagonal: torch.Tensor | None = None,
        confidence: torch.Tensor | None = None,
    ) -> None:
        """pred_px, target_px: (B, K, 2) original pixels; visible, norm_dist: (B, K); index: (B,);
        diagonal: (B,) original image diagonals in pixels (for the gross-miss rate), or None;
        confidence: (B, K) the model's confidence, or None."""
        diff = torch.where(visible[..., None], pred_px - target_px, torch.zeros_like(pred_px))  # (B, K, 2)
        self.index.append(index.detach().long())
        self.pred_px.append(pred_px.detach().float())
        self.dxy.append(diff.detach().float())
        self.visible.append(visible.detach().bool())
        self.norm_dist.append(torch.where(visible, norm_dist, torch.zeros_like(norm_dist)).detach().float())
        if diagonal is None:
            diagonal = torch.full(index.shape, float("nan"), device=pred_px.device)
        self.diagonal.append(diagonal.detach().float().reshape(-1))
        if confidence is None:
            confidence = torch.full(visible.shape, float("nan"), device=pred_px.device)
        self.confidence.append(confidence.detach().float())

    def update_normalized(
        self,
        codec: KeypointCodec,
        pred: torch.Tensor,
        target: torch.Tensor,
        visible: torch.Tensor,
        frame: torch.Tensor,
        index: torch.Tensor,
        confidence: torch.Tensor | None = None,
    ) -> None:
        """``update`` from network coordinates: pred, target (B, K, 2) normalized (NaN allowed in
        target where not visible), decoded to original pixels by ``codec`` with each image's
        ``frame`` (B, 6) (``seqattn.data.codec.FRAME_FIELDS``); visible (B, K);
        index (B,); confidence (B, K) or None."""
        with torch.no_grad():
            safe_target = torch.where(visible[..., None], target, pred)  # (B, K, 2), NaN-free
            self.update(
                codec.decode(pred.float(), frame),
                codec.decode(safe_target.float(), frame),
                visible,
                (pred - safe_target).float().norm(dim=-1),
                index,
                frame[:, 4:6].float().norm(dim=-1),  # original image diagonal (frame: ..., width, height)
                confidence,
            )

    def _points(self) -> PointErrors:
        """The collected rows, deduplicated by index and sorted (of this process unless states are synced)."""
        if isinstance(self.index, list) and not self.index:
            k = len(self.keypoint_names)
            empty = torch.zeros(0, k, device=self.device)
            return PointErrors(
                self.keypoint_names,
                torch.zeros(0, dtype=torch.long, device=self.device),
                torch.zeros(0, k, 2, device=self.device),
                torch.zeros(0, k, 2, device=self.device),
                empty.bool(),
                empty,
                torch.zeros(0, device=self.device),
                empty.clone(),
            )
        states = {name: dim_zero_cat(getattr(self, name)) for name in _STATES}
        order = torch.argsort(states["index"], stable=True)
        ordered = states["index"][order]
        first = torch.ones_like(ordered, dtype=torch.bool)
        first[1:] = ordered[1:] != ordered[:-1]
        rows = order[first]
        return PointErrors(self.keypoint_names, **{name: states[name][rows] for name in _STATES})

    def compute(self) -> dict[str, torch.Tensor]:
        return self._points().summary(self.pck_px, self.threshold)

    def snapshot(self) -> PointErrors:
        """All processes' rows (a collective call: every process must make it), copied to the CPU."""
        with self.sync_context(dist_sync_fn=self.dist_sync_fn, should_sync=self.sync_on_compute):
            points = self._points()
        return PointErrors(points.keypoint_names, *(getattr(points, name).detach().cpu().clone() for name in _STATES))


class BatchMeans(Metric):
    """Batch-size-weighted epoch means of a fixed list of scalars (the loss and its parts).

    Summed across processes by ``compute`` (a collective: every process calls it, at the same
    point), so the module logs values that are already equal on every rank and needs no
    ``sync_dist``: Lightning would run that reduction whenever some rank first reads its metrics,
    e.g. in a progress bar that exists on rank 0 only, and the ranks' collectives would no longer
    pair up (the multi-epoch DDP hang).
    """

    full_state_update = False

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.names = tuple(names)
        self.add_state("sums", default=torch.zeros(len(self.names)), dist_reduce_fx="sum")
        self.add_state("weight", default=torch.zeros(()), dist_reduce_fx="sum")

    def update(self, values: tuple[torch.Tensor, ...], batch_size: int) -> None:
        """``values``: one scalar per name, each the mean over a batch of ``batch_size`` images."""
        batch = torch.stack([v.detach().float().reshape(()) for v in values]).to(self.sums.device)  # (n,)
        self.sums += batch * batch_size
        self.weight += batch_size

    def compute(self) -> dict[str, float]:
        means = self.sums / self.weight.clamp_min(1)  # (n,); NaN-free when nothing was seen
        return {name: float(v) for name, v in zip(self.names, means, strict=True)}
