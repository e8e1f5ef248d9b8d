"""Error of every refinement step of a checkpoint, on val and test, in original pixels.

Shows where the error comes from: a large step-0 error that the glimpses cannot undo (a swapped
or lost keypoint), or a refinement that stops improving. For a model trained with flips the last row is the
reported prediction, each step's output averaged with the mirrored image's. Usage (the data overrides of the run):

    python bench/step_errors.py bench_runs/<run>/checkpoints/best-epoch025.ckpt \\
        data=dlc data.path=../shared/data/openfield data.split_file=../shared/data/openfield/splits.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from seqattn.data.datamodule import model_inputs

CONF = Path(__file__).resolve().parents[1] / "conf"


@torch.inference_mode()
def step_errors(module, loader) -> dict[str, torch.Tensor]:
    """Labelled-point errors (original pixels, 1-D) per step, coarse to fine ("0", "1", ...), and of
    the reported prediction ("flip-averaged") for a model trained with flips."""
    per_step: dict[str, list[torch.Tensor]] = {}
    for batch in map(model_inputs, loader):  # the loaders send uint8 images
        out = module(batch["image"])
        truth = module.codec.decode(batch["keypoints"].nan_to_num(), batch["frame"])  # (B, K, 2)
        visible = batch["visible"]  # (B, K)
        steps = {str(t): coords for t, coords in enumerate(out.get("steps") or [out["coords"]])}
        if module.flip_pairs is not None:
            steps["flip-averaged"] = module.predict(batch["image"], out)["coords"]
        for name, coords in steps.items():
            error = (module.codec.decode(coords.float(), batch["frame"]) - truth).norm(dim=-1)[visible]
            per_step.setdefault(name, []).append(error)
    return {name: torch.cat(e) for name, e in per_step.items()}


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit(__doc__)
    from checkpoint_data import checkpoint_and_data  # beside this script

    module, datamodule, _ = checkpoint_and_data(argv[0], argv[1:])
    module.eval()
    datamodule.setup("test")
    print("| split | step | mean px | median px | p90 px | max px |\n|---|---|---|---|---|---|")
    for split, loader in (("val", datamodule.val_dataloader()), ("test", datamodule.test_dataloader())):
        for t, err in step_errors(module, loader).items():
            q = torch.quantile(err, torch.tensor([0.5, 0.9]))
            print(f"| {split} | {t} | {err.mean():.2f} | {q[0]:.2f} | {q[1]:.2f} | {err.max():.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
