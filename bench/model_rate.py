"""The model alone: training images/s (forward, backward, AdamW step) on random letterbox-sized
input, no data loading, for several keypoint counts and glimpse settings.

    python bench/model_rate.py                       # the default grid
    python bench/model_rate.py --keypoints 4 68 --batch 32
"""

from __future__ import annotations

import argparse
import time

import torch

from seqattn.models import SequentialAttentionModel

VARIANTS = {
    "pixels 8x8": {"glimpse_source": "pixels", "glimpse_size": 16},
    "shared map 4x4": {"glimpse_source": "features", "glimpse_size": 8},
    "shared map 8x8": {"glimpse_source": "features", "glimpse_size": 16},
    "step 0 only": {"steps": 0},
}


def rate(k: int, batch: int, size: int, iters: int = 3, **kwargs) -> float:
    torch.manual_seed(0)
    model = SequentialAttentionModel(k, **kwargs)
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    x = torch.randn(batch, 3, size, size)
    for i in range(2 + iters):
        if i == 2:
            start = time.perf_counter()
        out = model(x)
        loss = sum(s.sum() for s in out["steps"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return batch * iters / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keypoints", type=int, nargs="+", default=[4, 17, 68, 100])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=320, help="letterbox side (hires_factor x input_size)")
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}, batch {args.batch}, {args.size} px letterbox")
    print("| K | " + " | ".join(args.variants) + " |\n" + "|---" * (len(args.variants) + 1) + "|")
    for k in args.keypoints:
        cells = [f"{rate(k, args.batch, args.size, **VARIANTS[v]):.1f}" for v in args.variants]
        print(f"| {k} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
