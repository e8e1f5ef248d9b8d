"""Per-point errors of one stage and the statistics over them, in original-image pixels."""

from __future__ import annotations

from dataclasses import dataclass

import torch

GROSS_MISS_FRACTION = 0.1  # a gross miss: error above this fraction of the image diagonal


def summarize(
    dxy: torch.Tensor,
    norm_dist: torch.Tensor,
    pck_px: tuple[float, ...],
    threshold: float | None,
    diagonal: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Error statistics over M labelled points: dxy (M, 2) original pixels, norm_dist (M,) normalized
    units, diagonal (M,) the diagonal of each point's original image in pixels (NaN: unknown).

    Every key is present, NaN when M = 0, so tables keep the same columns for every keypoint.
    ``gross_miss`` is the share of points off by more than 10 % of their image's diagonal.
    """
    dist = dxy.norm(dim=-1)  # (M,)
    empty = dist.numel() == 0
    nan = torch.tensor(float("nan"), device=dist.device)

    def stat(fn) -> torch.Tensor:
        return nan if empty else fn()

    out = {
        "epe_px": stat(dist.mean),
        # quantile interpolates between the two middle values (as numpy); torch.median would not
        "median_px": stat(lambda: torch.quantile(dist, 0.5)),
        "p90_px": stat(lambda: torch.quantile(dist, 0.9)),
        "dx_px": stat(lambda: dxy[:, 0].abs().mean()),
        "dy_px": stat(lambda: dxy[:, 1].abs().mean()),
    }
    for r in pck_px:
        out[f"pck@{r:g}px"] = stat(lambda r=r: (dist <= r).float().mean())
    known = diagonal is not None and bool(torch.isfinite(diagonal).all()) and not empty
    out["gross_miss"] = (dist > GROSS_MISS_FRACTION * diagonal).float().mean() if known else nan
    if threshold is not None:
        out["within_threshold"] = stat(lambda: (norm_dist < threshold).float().mean())
    return out


@dataclass
class PointErrors:
    """Per-point errors of one stage: one row per image, sorted by dataset index, each image once.

    index: (N,) dataset index; pred_px: (N, K, 2) predictions in original pixels; dxy: (N, K, 2)
    prediction minus truth in original pixels (0 where missing); visible: (N, K) bool, labelled;
    norm_dist: (N, K) distance in normalized input units (0 where missing); diagonal: (N,) each
    original image's diagonal in pixels (NaN where not given); confidence: (N, K) the model's
    confidence in each prediction (NaN for a model without one).
    """

    keypoint_names: list[str]
    index: torch.Tensor
    pred_px: torch.Tensor
    dxy: torch.Tensor
    visible: torch.Tensor
    norm_dist: torch.Tensor
    diagonal: torch.Tensor
    confidence: torch.Tensor

    def __len__(self) -> int:
        return int(self.index.numel())

    def distances(self) -> torch.Tensor:
        """(N, K) Euclidean error in original pixels, NaN where the keypoint is not labelled."""
        return torch.where(self.visible, self.dxy.norm(dim=-1), torch.full_like(self.norm_dist, float("nan")))

    def per_image(self) -> torch.Tensor:
        """(N,) mean error over each image's labelled keypoints, NaN for an image with none."""
        return self.distances().nanmean(dim=1)

    def summary(self, pck_px: tuple[float, ...], threshold: float | None = None) -> dict[str, torch.Tensor]:
        """Statistics over all labelled points (what is logged as ``{stage}/<name>``)."""
        diagonal = self.diagonal[:, None].expand_as(self.norm_dist)  # (N, K)
        return summarize(
            self.dxy[self.visible], self.norm_dist[self.visible], pck_px, threshold, diagonal[self.visible]
        )

    def per_keypoint(self, pck_px: tuple[float, ...], threshold: float | None = None) -> dict[str, dict[str, float]]:
        """{keypoint name: {"count": labelled points, "epe_px": ..., ...}}; NaN statistics where count = 0."""
        table = {}
        for k, name in enumerate(self.keypoint_names):
            vis = self.visible[:, k]
            stats = summarize(self.dxy[:, k][vis], self.norm_dist[:, k][vis], pck_px, threshold, self.diagonal[vis])
            table[name] = {"count": int(vis.sum()), **{key: float(v) for key, v in stats.items()}}
        return table

    def row_of(self, index: int) -> int:
        """The row holding dataset index ``index``; KeyError if that image was not evaluated."""
        hits = (self.index == index).nonzero()
        if hits.numel() == 0:
            raise KeyError(index)
        return int(hits[0, 0])

    def worst(self, n: int) -> list[int]:
        """Rows of the ``n`` images with the largest mean error (images without labels last)."""
        per_image = self.per_image().nan_to_num(nan=-1.0)
        return per_image.argsort(descending=True, stable=True)[:n].tolist()
