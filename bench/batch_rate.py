"""Batched prediction on images as predict.py runs it: ``predict_images`` (letterbox, batch, model,
decode to original pixels) on a set's test images, repeated into batches of ``--batch``; images/s.

Runs whatever ``seqattn`` imports, so the same command measures another version from its checkout
(``cd <checkout> && PYTHONPATH=. python <this file> ...``); a version without ``--precision``
runs float32.

    python bench/batch_rate.py <run>/checkpoints/best.ckpt --data ../shared/data/openfield
    python bench/batch_rate.py <ckpt> --precision fp32
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
from pathlib import Path

import torch


def main() -> None:
    try:
        from seqattn.data.formats.dlc import DLCSource
    except ImportError:  # versions before the readers moved to seqattn/data/formats/
        from seqattn.data.dlc import DLCSource
    from seqattn.inference.batch import load_checkpoint, predict_images, ready_for_inference

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/openfield"))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--precision", default="auto", help="auto | fp32 | bf16 (versions that have it)")
    args = parser.parse_args()
    split = DLCSource(str(args.data), split_file=str(args.data / "splits.json")).splits()["test"]
    images = [split[i].image for i in range(len(split))]
    batch = [images[i % len(images)] for i in range(args.batch)]
    kwargs = {"precision": args.precision} if "precision" in inspect.signature(ready_for_inference).parameters else {}
    module = ready_for_inference(load_checkpoint(args.checkpoint), "cpu", **kwargs)
    predict_images(module, batch)  # warm-up
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < args.seconds:
        predict_images(module, batch)
        n += len(batch)
    row = {
        "checkpoint": str(args.checkpoint),
        "precision": getattr(module, "precision", "fp32"),
        "flip_averaged": module.flip_pairs is not None,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "images_per_s": n / (time.perf_counter() - start),
    }
    print(json.dumps(row))


if __name__ == "__main__":
    main()
