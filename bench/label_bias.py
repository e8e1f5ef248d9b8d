"""Signed mean error per keypoint of a checkpoint on a split, in original pixels: a constant
offset between the labels and what the model finds shows as a mean far from zero on every part
(on training frames too, where the model's own error is small).

    python bench/label_bias.py <run>/checkpoints/best-epoch019.ckpt data=slp \\
        data.path=../shared/data/two-flies/labels.slp data.split_file=<split file>

The split file's ``test`` split is evaluated (eval.py's Trainer.test); give one whose test split
lists training frames to read the labels' offset where the model fitted them.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return
    from seqattn.training.evaluate import evaluate

    with tempfile.TemporaryDirectory() as out, initialize_config_dir(str(ROOT / "conf"), version_base=None):
        cfg = compose("eval", overrides=[f"ckpt_path={sys.argv[1]}", f"paths.output_dir={out}", *sys.argv[2:]])
        errors = evaluate(cfg).errors
    dxy, seen = errors.dxy.numpy(), errors.visible.numpy()  # (N, K, 2) prediction - label, (N, K)
    print("| keypoint | mean dx px | mean dy px | mean abs dx | mean abs dy |\n|---|---|---|---|---|")
    rows = [("all", dxy[seen])] + [(n, dxy[seen[:, k], k]) for k, n in enumerate(errors.keypoint_names)]
    for name, d in rows:
        mean, size = d.mean(0), np.abs(d).mean(0)
        print(f"| {name} | {mean[0]:+.2f} | {mean[1]:+.2f} | {size[0]:.2f} | {size[1]:.2f} |")


if __name__ == "__main__":
    main()
