"""bf16 against float32 for prediction on the CPU: batched images/s and how far the predictions
move, on a set's test images, with a trained checkpoint.

    python bench/precision.py <run>/checkpoints/best.ckpt --data ../shared/data/openfield

Prints one JSON row: images/s of ``module.predict`` on batches of ``--batch`` letterboxed test
images (each precision timed for ``--seconds`` after a warm-up), and the mean / max distance in
original pixels between the two precisions' predictions of every test image.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    from seqattn.data.formats.dlc import DLCSource
    from seqattn.hardware import cpu_bf16
    from seqattn.inference.batch import load_checkpoint, predict_images, ready_for_inference
    from seqattn.inference.precision import inference_precision

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/openfield"))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    split = DLCSource(str(args.data), split_file=str(args.data / "splits.json")).splits()["test"]
    images = [split[i].image for i in range(len(split))]
    row = {"checkpoint": str(args.checkpoint), "cpu_bf16": cpu_bf16(), "threads": torch.get_num_threads()}
    coords = {}
    for precision in ("fp32", "bf16"):
        module = ready_for_inference(load_checkpoint(args.checkpoint), "cpu", precision=precision)
        coords[precision] = predict_images(module, images)["coords"]
        side = module.codec.side
        batch = torch.randn(args.batch, 3, side, side).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), inference_precision(module):
            module.predict(batch)  # warm-up
            start, n = time.perf_counter(), 0
            while time.perf_counter() - start < args.seconds:
                module.predict(batch)
                n += args.batch
        row[f"{precision}_images_per_s"] = n / (time.perf_counter() - start)
        row["flip_averaged"] = module.flip_pairs is not None
    distance = np.linalg.norm(coords["bf16"] - coords["fp32"], axis=-1)
    row.update(mean_px_moved=float(np.nanmean(distance)), max_px_moved=float(np.nanmax(distance)))
    row["speedup"] = row["bf16_images_per_s"] / row["fp32_images_per_s"]
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
