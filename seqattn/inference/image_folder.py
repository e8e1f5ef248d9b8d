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

A file that cannot be read as an image (empty, not an image, truncated, too large) is skipped: the
others are predicted, the JSON lists the skipped ones under ``skipped`` and one line names them;
a folder in which no image can be read is a DataError.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from seqattn.errors import ConfigError, DataError
from seqattn.evaluation.viz import draw_errors
from seqattn.inference.batch import likelihood_of, predict_images, scorer_name
from seqattn.inference.tables import OutputSet, output_set, pose_table, printable
from seqattn.inference.video_predict import capped_batch_size
from seqattn.io.images import IMAGE_SUFFIXES, UnreadableImage, declared_size, read_image

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
    skipped: dict[Path, str] = {}  # unreadable file -> why
    with output_set() as written:
        xy, likelihood, sizes = _predict_all(
            written, module, files, out_dir / "overlays" if overlays else None, batch_size, skipped
        )
        files = [p for p in files if p not in skipped]
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
            "skipped": [
                {"image": printable(p.name), "path": printable(p), "reason": why} for p, why in skipped.items()
            ],
        }
        json_path = written.write(out_dir / JSON_FILE, lambda p: p.write_text(json.dumps(report, indent=2) + "\n"))
    report_skipped(skipped)
    return {"csv": csv_path, "json": json_path}


def report_skipped(skipped: dict[Path, str]) -> None:
    """One line naming the unreadable files, if any."""
    if skipped:
        print(f"skipped {len(skipped)} unreadable image{'s' if len(skipped) > 1 else ''}: {named(skipped)}")


def named(skipped: dict[Path, str]) -> str:
    """``a.png (empty file), b.png (not an image, or truncated)``."""
    return ", ".join(f"{printable(p.name)} ({why})" for p, why in skipped.items())


def read_or_skip(path: Path, skipped: dict[Path, str]) -> np.ndarray | None:
    """The image, or None with the reason recorded in ``skipped``."""
    try:
        return read_image(path)
    except UnreadableImage as exc:
        skipped[path] = exc.reason
    except OSError as exc:  # no permission to read it, an I/O error
        skipped[path] = exc.strerror or type(exc).__name__
    return None


def _predict_all(
    written: OutputSet, module, files: list[Path], overlays: Path | None, batch_size: int, skipped: dict[Path, str]
) -> tuple[np.ndarray, np.ndarray | None, list[tuple[int, int]]]:
    """coords (N, K, 2), likelihood (N, K) or None (a model without a confidence), (H, W) of each
    readable image; the others go into ``skipped``; overlays drawn into ``overlays`` (a folder) unless None."""
    coords, confidence, sizes = [], [], []
    with ExitStack() as stack:
        bar = None  # opened at the first readable image: a folder of unreadable files ends in one line
        for start in range(0, len(files), batch_size):
            read = [(p, read_or_skip(p, skipped)) for p in files[start : start + batch_size]]
            batch_files = [p for p, img in read if img is not None]
            images = [img for _, img in read if img is not None]
            if images and bar is None:
                bar = stack.enter_context(tqdm(total=len(files), initial=start, unit="img", desc="predict"))
            if bar is not None:
                bar.update(len(read))
            if not images:
                continue
            out = predict_images(module, images)
            coords.append(out["coords"])
            confidence.append(out["confidence"])
            sizes += [img.shape[:2] for img in images]
            if overlays is not None:
                for p, img, xy in zip(batch_files, images, out["coords"], strict=True):
                    _overlay(written, overlays, p, img, xy)
    if not coords:
        raise DataError(f"images: no image in {printable(files[0].parent)} could be read: {named(skipped)}")
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
