"""Test error of checkpoints with one pass and averaged with the mirrored image (``test_time_flip``).

For each checkpoint: its test split in original pixels, once from one pass and once averaged with
the pass on the mirrored image, left/right pairs swapped (the data source's pairs, so checkpoints
written before the setting existed can be measured too), and the model's time per image for each
(batch 1, this process's threads). Usage, the data overrides of the runs, then the checkpoints:

    python bench/test_time_flip.py "data=dlc data.path=../shared/data/openfield \\
        data.split_file=../shared/data/openfield/splits.json" run1/checkpoints/best-epoch025.ckpt ...
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from checkpoint_data import checkpoint_and_data  # beside this script

from seqattn.data.datamodule import model_inputs
from seqattn.models.flip import flip_averaged

GROSS_PX = 20.0  # a point this far off is counted as a gross miss here


@torch.inference_mode()
def errors(module, loader, pairs) -> tuple[np.ndarray, float]:
    """Labelled-point errors (original pixels) and the model's seconds per image."""
    found, seconds, images = [], 0.0, 0
    for batch in map(model_inputs, loader):  # the loaders send uint8 images
        truth = module.codec.decode(batch["keypoints"].nan_to_num(), batch["frame"])  # (B, K, 2)
        for i in range(len(batch["image"])):  # one image at a time, as a video frame is timed
            image = batch["image"][i : i + 1]
            start = time.perf_counter()
            out = module(image) if pairs is None else flip_averaged(module, image, pairs)
            seconds += time.perf_counter() - start
            images += 1
            error = (module.codec.decode(out["coords"].double(), batch["frame"][i : i + 1]) - truth[i : i + 1]).norm(
                dim=-1
            )
            found.append(error[batch["visible"][i : i + 1]].numpy())
    return np.concatenate(found), seconds / max(1, images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="train.py overrides naming the checkpoints' data, one string")
    parser.add_argument("checkpoints", nargs="+", type=Path)
    args = parser.parse_args()
    torch.manual_seed(0)
    print("| checkpoint | passes | mean px | median px | p90 px | gross > 20 px | ms per image |")
    print("|---|---|---|---|---|---|---|")
    for path in args.checkpoints:
        module, datamodule, _ = checkpoint_and_data(str(path), args.data.split())
        module.eval()
        datamodule.setup("test")
        pairs = datamodule.source.flip_pairs
        for label, used in (("one", None), ("flip-averaged", pairs)):
            if label != "one" and pairs is None:
                print(f"| {path} | flip-averaged | no left/right pairs known: not measured |")
                continue
            err, per_image = errors(module, datamodule.test_dataloader(), used)
            p50, p90 = np.percentile(err, [50, 90])
            print(
                f"| {path} | {label} | {err.mean():.2f} | {p50:.2f} | {p90:.2f} | {100 * (err > GROSS_PX).mean():.1f} %"
                f" | {1000 * per_image:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
