"""The per-process side of test_metrics' 2-process sync test (a light module: spawned children import it)."""

import torch
import torch.distributed as dist

from seqattn.evaluation.metrics import KeypointErrors

N_IMAGES, K = 5, 3
SHARDS = {0: [0, 2, 4], 1: [1, 3, 0]}  # DistributedSampler(5 images, 2 ranks): rank 1 repeats image 0


def _data() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    truth = torch.rand(N_IMAGES, K, 2, generator=g) * 100
    offsets = torch.randn(N_IMAGES, K, 2, generator=g) * 5
    visible = torch.rand(N_IMAGES, K, generator=g) > 0.3
    return truth, offsets, visible, offsets.norm(dim=-1) / 64


def feed(metric: KeypointErrors, rows: list[int], batch: int = 2) -> None:
    """Update ``metric`` with images ``rows`` of the fixed random data set, ``batch`` at a time."""
    truth, offsets, visible, norm = _data()
    for s in range(0, len(rows), batch):
        r = torch.tensor(rows[s : s + batch])
        metric.update(truth[r] + offsets[r], truth[r], visible[r], norm[r], r, diagonal=30.0 + r.float())


def sync_worker(rank: int, init_file: str, out_dir: str) -> None:
    """Join a 2-process gloo group, feed this rank's shard, save the synced values and rows."""
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        metric = KeypointErrors(["a", "b", "c"], threshold=0.05)
        feed(metric, SHARDS[rank])
        values = {k: float(v) for k, v in metric.compute().items()}
        points = metric.snapshot()
        torch.save({"values": values, "index": points.index, "dxy": points.dxy}, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()
