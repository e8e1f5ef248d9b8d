"""Predict keypoints for a folder of images: DeepLabCut CSV + JSON in original pixels, optional overlays.

The DeepLabCut CSV has three header rows (scorer / bodyparts / coords), one ``x, y, likelihood``
triple per keypoint and the image file name as row index, so DeepLabCut's and pandas' readers
(``pd.read_csv(path, header=[0, 1, 2], index_col=0)``) take it as it is. ``likelihood`` (and
the JSON's ``confidence``) is the model's confidence scaled by the checkpoint's calibration
(seqattn.evaluation.calibration); a model without a confidence output writes 1.0, so DeepLabCut's
``pcutoff`` filters keep every point (the JSON states ``"confidence": null``).

File names that are not valid UTF-8 are predicted like any other; the CSV, the JSON and the
overlay names show their odd bytes as ``\xff`` escapes. The CSV, JSON and overlays are written
under temporary names and renamed together once all are complete. ``--batch-size`` is capped
as for videos (seqattn.inference.video_predict.capped_batch_size).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from seqattn.errors import ConfigError, DataError
from seqattn.evaluation.viz import draw_errors
from seqattn.inference.batch import likelihood_of, predict_images, scorer_name
from seqattn.inference.tables import OutputSet, output_set, pose_table, printable
from seqattn.inference.video_predict import capped_batch_size
from seqattn.io.images import IMAGE_SUFFIXES, declared_size, read_image

CSV_FILE = "predictions.csv"
JSON_FILE = "predictions.json"
OVERLAY_MIN_SIDE = 512


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (by suffix, case-insensitive), sorted by name."""
    if not folder.is_dir():
        raise DataError(f"images: no folder at {printable(folder)}")
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DataError(f"images: no {'/'.join(s.lstrip('.') for s in IMAGE_SUFFIXES)} files in {printable(folder)}")
    return images


def predict_folder(
    module,
    checkpoint: Path,
    images_dir: Path,
    out_dir: Path,
    batch_size: int = 16,
    overlays: bool = False,
) -> dict[str, Path]:
    """Predict every image in ``images_dir`` with ``module`` (a checkpoint's KeypointModule on its
    device, or seqattn.inference.exported.OnnxModel); write predictions.csv / predictions.json (and overlays/)."""
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
    files = list_images(images_dir)
    sizes = [declared_size(p) or (0, 0) for p in files]  # each batch also holds its original images
    batch_size = capped_batch_size(batch_size, module.codec.side, max(3 * w * h for w, h in sizes))
    with output_set() as written:
        xy, likelihood, sizes = _predict_all(
            written, module, files, out_dir / "overlays" if overlays else None, batch_size
        )
        has_conf = likelihood is not None
        if likelihood is None:
            likelihood = likelihood_of(None, xy.shape[:2], module.calibration)
        names = list(module.keypoint_names)
        table = pose_table(scorer_name(checkpoint), names, xy, likelihood, index=[p.name for p in files])
        csv_path = written.write(out_dir / CSV_FILE, table.to_csv)
        report = {
            "checkpoint": printable(checkpoint),
            "checkpoint_epoch": module.checkpoint_epoch,
            "input_size": int(module.hparams.input_size),
            "keypoint_names": names,
            "batch_size": batch_size,
            "units": "original-image pixels; pixel centres at integer coordinates (as DeepLabCut)",
            "images": [
                {
                    "image": printable(p.name),
                    "path": printable(p),
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
        json_path = written.write(out_dir / JSON_FILE, lambda p: p.write_text(json.dumps(report, indent=2) + "\n"))
    return {"csv": csv_path, "json": json_path}


def _predict_all(
    written: OutputSet, module, files: list[Path], overlays: Path | None, batch_size: int
) -> tuple[np.ndarray, np.ndarray | None, list[tuple[int, int]]]:
    """coords (N, K, 2), likelihood (N, K) or None (a model without a confidence), (H, W) of each
    image; overlays drawn into ``overlays`` (a folder) unless None."""
    coords, confidence, sizes = [], [], []
    with tqdm(total=len(files), unit="img", desc="predict") as bar:
        for start in range(0, len(files), batch_size):
            batch_files = files[start : start + batch_size]
            images = [read_image(p) for p in batch_files]
            out = predict_images(module, images)
            coords.append(out["coords"])
            confidence.append(out["confidence"])
            sizes += [img.shape[:2] for img in images]
            if overlays is not None:
                for p, img, xy in zip(batch_files, images, out["coords"], strict=True):
                    _overlay(written, overlays, p, img, xy)
            bar.update(len(batch_files))
    xy = np.concatenate(coords)
    if any(c is None for c in confidence):
        return xy, None, sizes
    return xy, likelihood_of(np.concatenate(confidence), xy.shape[:2], module.calibration), sizes


def _overlay(written: OutputSet, folder: Path, image_path: Path, image: np.ndarray, xy: np.ndarray) -> None:
    """The predictions drawn on ``image`` as ``<folder>/<image name>[.png]``: encoded here and written
    by Python, so any file name the folder held (UTF-8 or not) works."""
    size = None if max(image.shape[:2]) >= OVERLAY_MIN_SIDE else OVERLAY_MIN_SIDE  # legible markers
    name = image_path.name if image_path.suffix.lower() == ".png" else f"{image_path.name}.png"  # a.jpg, a.png kept
    ok, png = cv2.imencode(".png", np.ascontiguousarray(draw_errors(image, xy, size=size)[:, :, ::-1]))  # RGB->BGR
    if not ok:
        raise DataError(f"{printable(folder / name)}: could not encode the overlay")
    written.write(folder / name, lambda p: p.write_bytes(png.tobytes()))
