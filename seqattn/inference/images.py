"""Predict keypoints for a folder of images: DeepLabCut CSV + JSON in original pixels, optional overlays.

The DeepLabCut CSV has three header rows (scorer / bodyparts / coords), one ``x, y, likelihood``
triple per keypoint and the image file name as row index, so DeepLabCut's and pandas' readers
(``pd.read_csv(path, header=[0, 1, 2], index_col=0)``) take it as it is. ``likelihood`` (and
the JSON's ``confidence``) is the model's confidence scaled by the checkpoint's calibration
(seqattn.calibration); a model without a confidence output writes 1.0, so DeepLabCut's
``pcutoff`` filters keep every point (the JSON states ``"confidence": null``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from seqattn.data.images import IMAGE_SUFFIXES, read_image
from seqattn.errors import ConfigError, DataError
from seqattn.evaluation.viz import draw_errors, save_png
from seqattn.inference.batch import likelihood_of, load_checkpoint, predict_images, ready_for_inference, scorer_name
from seqattn.inference.tables import pose_table, write_atomically

CSV_FILE = "predictions.csv"
JSON_FILE = "predictions.json"
OVERLAY_MIN_SIDE = 512


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (by suffix, case-insensitive), sorted by name."""
    if not folder.is_dir():
        raise DataError(f"images: no folder at {folder}")
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DataError(f"images: no {'/'.join(s.lstrip('.') for s in IMAGE_SUFFIXES)} files in {folder}")
    return images


def predict_folder(
    checkpoint: Path,
    images_dir: Path,
    out_dir: Path,
    batch_size: int = 16,
    overlays: bool = False,
    device: str = "auto",
) -> dict[str, Path]:
    """Predict every image in ``images_dir``; write predictions.csv / predictions.json (and overlays/)."""
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
    files = list_images(images_dir)
    module = ready_for_inference(load_checkpoint(checkpoint, key="checkpoint"), device)
    names = list(module.keypoint_names)
    out_dir.mkdir(parents=True, exist_ok=True)

    coords, confidence, sizes = [], [], []
    with tqdm(total=len(files), unit="img", desc="predict") as bar:
        for start in range(0, len(files), batch_size):
            batch_files = files[start : start + batch_size]
            images = [read_image(p) for p in batch_files]
            out = predict_images(module, images)
            coords.append(out["coords"])
            confidence.append(out["confidence"])
            sizes += [img.shape[:2] for img in images]
            if overlays:
                for p, img, xy in zip(batch_files, images, out["coords"], strict=True):
                    size = None if max(img.shape[:2]) >= OVERLAY_MIN_SIDE else OVERLAY_MIN_SIDE  # legible markers
                    name = p.name if p.suffix.lower() == ".png" else f"{p.name}.png"  # a.jpg, a.png both kept
                    save_png(out_dir / "overlays" / name, draw_errors(img, xy, size=size))
            bar.update(len(batch_files))

    xy = np.concatenate(coords)  # (N, K, 2)
    has_conf = all(c is not None for c in confidence)
    conf = np.concatenate(confidence) if has_conf else None  # (N, K)
    likelihood = likelihood_of(conf, xy.shape[:2], module.calibration)
    table = pose_table(scorer_name(checkpoint), names, xy, likelihood, index=[p.name for p in files])
    csv_path = write_atomically(out_dir / CSV_FILE, table.to_csv)

    report = {
        "checkpoint": str(checkpoint),
        "checkpoint_epoch": module.checkpoint_epoch,
        "input_size": int(module.hparams.input_size),
        "keypoint_names": names,
        "units": "original-image pixels; pixel centres at integer coordinates (as DeepLabCut)",
        "images": [
            {
                "image": p.name,
                "path": str(p),
                "width": int(w),
                "height": int(h),
                "keypoints": {
                    name: {
                        "x": float(xy[i, k, 0]),
                        "y": float(xy[i, k, 1]),
                        "confidence": float(likelihood[i, k]) if has_conf else None,
                    }
                    for k, name in enumerate(names)
                },
            }
            for i, (p, (h, w)) in enumerate(zip(files, sizes, strict=True))
        ],
    }
    json_path = write_atomically(out_dir / JSON_FILE, lambda p: p.write_text(json.dumps(report, indent=2) + "\n"))
    return {"csv": csv_path, "json": json_path}
