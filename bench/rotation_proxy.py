"""Headings the labels did not show: checkpoints' test error on the test split turned by quarter turns.

A short labelled clip may show an animal facing one way only (openfield's mouse faces left in most
labelled frames); when it turns later in the recording, the model meets headings it was never
shown unless training rotated its images. This bench is the proxy: every test image and its labels
turned by 0, 90, 180 and 270 degrees (exact quarter turns, no resampling), each checkpoint run on
them as predict.py runs it (seqattn.inference.predict_images: letterbox, flip-average where the
checkpoint does, the labels' offset; ``--precision``, auto by default), the error of labelled
points in original pixels. Usage, the data overrides of the runs, then label=checkpoint pairs:

    python bench/rotation_proxy.py "data=dlc data.path=../shared/data/openfield \\
        data.split_file=../shared/data/openfield/splits.json" \\
        "rotate=auto (180)=runs/a/checkpoints/best-epoch030.ckpt" "rotate=25=runs/b/checkpoints/best-epoch029.ckpt"

The proxy of a clip that shows one heading: ``--one-heading TAIL:HEAD --out FILE`` writes the data's
split with its train and val frames narrowed to those whose TAIL -> HEAD vector lies within 45
degrees of the training frames' mean heading (test unchanged); train on it with and without the
rotation the labels call for, then measure both here.

``--results NAME`` also writes bench/results/NAME-<n>.json, one per checkpoint (table "rotation";
"alone" left null for whoever ran it to fill in).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from seqattn.allocator import keep_large_buffers
from seqattn.inference import load_checkpoint
from seqattn.inference.batch import predict_images, ready_for_inference

CONF = Path(__file__).resolve().parents[1] / "conf"
TURNS = (0, 1, 2, 3)  # quarter turns, counter-clockwise as the image is viewed
BATCH = 16
SECTOR = 45.0  # degrees either side of the mean heading: one heading


def quarter_turn(image: np.ndarray, points: np.ndarray, turns: int) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, C) image and (..., 2) points in its pixels (pixel centres at integers, NaN kept) turned
    ``turns`` x 90 degrees counter-clockwise: np.rot90's image, and the points where they land on it."""
    out, pts = image, np.asarray(points, dtype=np.float64)
    for _ in range(turns % 4):
        w = out.shape[1]
        out = np.rot90(out)  # new[i, j] = old[j, w - 1 - i]: old (x, y) lands at (y, w - 1 - x)
        pts = np.stack([pts[..., 1], w - 1 - pts[..., 0]], axis=-1)
    return np.ascontiguousarray(out), pts


def test_samples(source) -> list:
    """A data source's raw test split: images at original resolution, labels in original pixels."""
    split = source.splits()["test"]
    return [split[i] for i in range(len(split))]


def label_offset_px(module, image: np.ndarray) -> np.ndarray:
    """(2,) the labels' estimated offset from the landmarks (seqattn.models.label_offset: the same in
    every image's frame) in ``image``'s original pixels."""
    frame = torch.from_numpy(module.codec.frame(image.shape[1], image.shape[0]).as_array()[None])  # (1, 6)
    centre = torch.full((1, 1, 2), 0.5, dtype=torch.float64)
    moved = module.codec.decode(centre + module.label_offset().double(), frame)
    return (moved - module.codec.decode(centre, frame))[0, 0].numpy()


def turned_errors(module, samples: list, turns: int) -> np.ndarray:
    """Distances (original pixels) of every labelled test point with the images turned. The labels'
    offset from the landmarks belongs to the image's frame (a labelling convention, another model's
    bias), so a turned animal's labels are its turned landmarks plus the same offset; on labels
    without an offset the estimate is near zero and this changes nothing."""
    found = []
    for start in range(0, len(samples), BATCH):
        turned = []
        for s in samples[start : start + BATCH]:
            image, landmarks = quarter_turn(s.image, s.keypoints - label_offset_px(module, s.image), turns)
            turned.append((image, landmarks + label_offset_px(module, image)))
        coords = predict_images(module, [image for image, _ in turned])["coords"]  # (B, K, 2)
        for (_, truth), pred in zip(turned, coords, strict=True):
            seen = np.isfinite(truth).all(-1)
            found.append(np.linalg.norm(pred[seen] - truth[seen], axis=-1))
    return np.concatenate(found)


def headings(samples: list, tail: int, head: int) -> np.ndarray:
    """(N,) degrees of the ``tail`` -> ``head`` keypoint vector in each sample's image (NaN where unlabelled)."""
    d = np.stack([s.keypoints[head] - s.keypoints[tail] for s in samples])  # (N, 2)
    return np.degrees(np.arctan2(d[:, 1], d[:, 0]))


def one_heading_split(source, tail: str, head: str, sector: float = SECTOR) -> dict[str, list[str]]:
    """The source's split with its train and val frames narrowed to one heading: those within
    ``sector`` degrees of the training frames' circular mean heading; test unchanged (all headings)."""
    names = list(source.keypoint_names)
    for part in (tail, head):
        if part not in names:
            raise SystemExit(f"--one-heading: no keypoint {part!r} in the labels ({', '.join(names)})")
    splits = {name: [split[i] for i in range(len(split))] for name, split in source.splits().items()}
    angles = {name: headings(samples, names.index(tail), names.index(head)) for name, samples in splits.items()}
    mean = np.angle(np.nansum(np.exp(1j * np.radians(angles["train"]))), deg=True)
    out = {}
    for name, samples in splits.items():
        off = np.abs((angles[name] - mean + 180) % 360 - 180)  # NaN (unlabelled part): not kept
        out[name] = [s.name for s, a in zip(samples, off, strict=True) if name == "test" or a <= sector]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="train.py data overrides naming the checkpoints' data, one quoted string")
    parser.add_argument("checkpoints", nargs="*", help="label=path of a checkpoint")
    parser.add_argument("--set", default=None, help="the data set's name for the result files")
    parser.add_argument("--results", default=None, help="write bench/results/<NAME>-<n>.json, one per checkpoint")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"), help="as predict.py's")
    parser.add_argument(
        "--one-heading", metavar="TAIL:HEAD", help="instead: write the data's split narrowed to one heading (to --out)"
    )
    parser.add_argument("--out", type=Path, help="with --one-heading: the split file to write")
    args = parser.parse_args()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=shlex.split(args.data))
    source = instantiate(cfg.data.source)
    if args.one_heading:
        tail, _, head = args.one_heading.partition(":")
        split = one_heading_split(source, tail, head)
        args.out.write_text(json.dumps(split, indent=1) + "\n")
        print(f"{args.out}: " + ", ".join(f"{name} {len(names)}" for name, names in split.items()))
        return
    from report import RESULTS, new_result  # beside this script

    keep_large_buffers(one_heap=True)
    samples = test_samples(source)
    header = " | ".join(f"{90 * t} deg" for t in TURNS)
    print(f"test images: {len(samples)}; mean px (p90 px) with the images turned by")
    print(f"| checkpoint | {header} |\n|---|{'---|' * len(TURNS)}")
    for n, item in enumerate(args.checkpoints, 1):
        label, _, path = item.rpartition("=")
        module = ready_for_inference(load_checkpoint(path, key="checkpoint"), "cpu", precision=args.precision)
        with torch.inference_mode():
            errors = [turned_errors(module, samples, t) for t in TURNS]
        means = [float(e.mean()) for e in errors]
        p90s = [float(np.percentile(e, 90)) for e in errors]
        print(f"| {label} | " + " | ".join(f"{m:.2f} ({p:.2f})" for m, p in zip(means, p90s, strict=True)) + " |")
        if args.results:
            row = new_result(
                table="rotation",
                label=label,
                set=args.set,
                model=path,
                mean_px=means[0],
                p90_px=p90s[0],
                mean_px_turned=means,
                p90_px_turned=p90s,
                worst_mean_px=max(means),
                precision=module.precision,
                command=f"python bench/rotation_proxy.py {shlex.join(sys.argv[1:])}",
                protocol="checkpoints",
            )
            (RESULTS / f"{args.results}-{n}.json").write_text(json.dumps(row, indent=2) + "\n")


if __name__ == "__main__":
    main()
