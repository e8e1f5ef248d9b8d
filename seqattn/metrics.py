"""Pixel-error metrics in original-image pixels, synced across processes by concatenation."""

from __future__ import annotations

import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


class KeypointErrors(Metric):
    """Collects per-point errors and reports EPE, median, p90, PCK, per-axis and per-keypoint error.

    States are concatenated across processes (not averaged per process), so percentiles and means
    over a sharded dataset equal the single-process values.
    """

    full_state_update = False

    def __init__(
        self, keypoint_names: list[str], pck_px: tuple[float, ...] = (2.0, 5.0, 10.0), threshold: float | None = None
    ):
        super().__init__()
        self.keypoint_names = list(keypoint_names)
        self.pck_px = tuple(float(r) for r in pck_px)
        self.threshold = threshold
        for name in ("dxy", "visible", "norm_dist", "index"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(
        self,
        pred_px: torch.Tensor,
        target_px: torch.Tensor,
        visible: torch.Tensor,
        norm_dist: torch.Tensor,
        index: torch.Tensor,
    ) -> None:
        """pred_px, target_px: (B, K, 2) original pixels; visible, norm_dist: (B, K); index: (B,)."""
        diff = torch.where(visible[..., None], pred_px - target_px, torch.zeros_like(pred_px))  # (B, K, 2)
        self.dxy.append(diff.detach().float())
        self.visible.append(visible.detach())
        self.norm_dist.append(torch.where(visible, norm_dist, torch.zeros_like(norm_dist)).detach().float())
        self.index.append(index.detach())

    def per_point(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """All collected (N, K, 2) pixel offsets, (N, K) visibility, (N, K) normalized distance, (N,) index."""
        return tuple(dim_zero_cat(getattr(self, s)) for s in ("dxy", "visible", "norm_dist", "index"))

    def compute(self) -> dict[str, torch.Tensor]:
        dxy, visible, norm_dist, _ = self.per_point()
        dist = dxy.norm(dim=-1)  # (N, K)
        vis = dist[visible]  # (M,) labelled points only
        if vis.numel() == 0:
            nan = torch.tensor(float("nan"), device=dist.device)
            return {"epe_px": nan}
        out = {
            "epe_px": vis.mean(),
            "median_px": vis.median(),
            "p90_px": torch.quantile(vis, 0.9),
            "dx_px": dxy[..., 0].abs()[visible].mean(),
            "dy_px": dxy[..., 1].abs()[visible].mean(),
        }
        for r in self.pck_px:
            out[f"pck@{r:g}px"] = (vis <= r).float().mean()
        if self.threshold is not None:
            out["within_threshold"] = (norm_dist[visible] < self.threshold).float().mean()
        return out

    def per_keypoint(self) -> dict[str, float]:
        """Mean error per keypoint name (NaN where a keypoint was never labelled)."""
        dxy, visible, _, _ = self.per_point()
        dist = dxy.norm(dim=-1) * visible  # (N, K)
        counts = visible.sum(0)  # (K,)
        means = dist.sum(0) / counts.clamp_min(1)
        means[counts == 0] = float("nan")
        return {name: float(v) for name, v in zip(self.keypoint_names, means, strict=True)}
