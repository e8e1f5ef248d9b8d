"""What the chip can do, to say what share of it a rate reaches: the matrix-multiply rate of this
machine's PyTorch threads in float32 and in bf16 (the best of large square products), and the
floating-point work of one image through a checkpoint's model (forward; a training image costs
about three times that).

    python bench/chip_peak.py <run>/checkpoints/best.ckpt

Prints one JSON object: ``fp32_gflops``, ``bf16_gflops`` (measured peaks, GFLOP/s), ``threads``,
``forward_gflop`` (per image, at the checkpoint's letterbox; counted by torch's FlopCounterMode:
convolutions, matrix products and attention, not the cheap element-wise layers), ``letterbox``.
A rate of R images/s then uses R x forward_gflop (x 3 for training) of the peak of its precision.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch


def matmul_gflops(dtype: torch.dtype, n: int = 2048, seconds: float = 3.0) -> float:
    """The best rate of n x n products in ``dtype`` over ``seconds``, GFLOP/s."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    for _ in range(3):
        a @ b
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


def forward_gflop(checkpoint: Path) -> tuple[float, int]:
    """GFLOP of one image through the checkpoint's model, and its letterbox side."""
    from torch.utils.flop_counter import FlopCounterMode

    from seqattn.inference.batch import load_checkpoint

    module = load_checkpoint(checkpoint).eval()
    side = int(module.hparams.input_size) * int(getattr(module.model, "hires_factor", 1))
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        module.model(torch.zeros(1, 3, side, side))
    return counter.get_total_flops() / 1e9, side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    args = parser.parse_args()
    gflop, side = forward_gflop(args.checkpoint)
    row = {
        "threads": torch.get_num_threads(),
        "fp32_gflops": round(matmul_gflops(torch.float32), 1),
        "bf16_gflops": round(matmul_gflops(torch.bfloat16), 1),
        "forward_gflop": round(gflop, 4),
        "letterbox": side,
    }
    print(json.dumps(row))


if __name__ == "__main__":
    main()
