"""Predict every animal in a folder of images with a model of several animals: multi-animal
DeepLabCut tables (``predictions.h5``/``.csv``, scorer / individuals / bodyparts / coords, one row
per image) and ``predictions.json``. Images are independent: the animals of each image are named
``animal0``, ``animal1``, ... by the detector's score, not by identity (identities need a video).
Unreadable files are skipped and named, as for one animal (seqattn.inference.image_folder)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from seqattn.errors import DataError
from seqattn.inference.animals import TrackedPoses, write_tracked_tables
from seqattn.inference.batch import scorer_name
from seqattn.inference.full_frame import max_animals_of, predict_animals
from seqattn.inference.image_folder import JSON_FILE, list_images, named, read_or_skip, report_skipped
from seqattn.inference.tables import output_set, printable
from seqattn.module import KeypointModule


def predict_folder_animals(
    module: KeypointModule,
    checkpoint: Path,
    images_dir: Path,
    out_dir: Path,
    batch_size: int = 8,
    animals: int | None = None,
) -> dict[str, Path]:
    """Every animal of every image in ``images_dir``, at most ``animals`` (default: the labels' most) an image."""
    files, skipped = list_images(images_dir), {}
    most, names = max_animals_of(module, animals), list(module.keypoint_names)
    kept, found = [], []
    for start in tqdm(range(0, len(files), batch_size), unit="batch", desc="predict"):
        read = [(p, read_or_skip(p, skipped)) for p in files[start : start + batch_size]]
        read = [(p, img) for p, img in read if img is not None]
        if read:
            kept += [p for p, _ in read]
            found += predict_animals(module, [img for _, img in read], most)
    if not found:
        raise DataError(f"images: no image in {printable(images_dir)} could be read: {named(skipped)}")
    k = len(names)
    coords, likelihood = np.full((len(found), most, k, 2), np.nan), np.full((len(found), most, k), np.nan, np.float32)
    score = np.full((len(found), most), np.nan, np.float32)
    for i, a in enumerate(found):  # best score first
        n = len(a.scores)
        coords[i, :n], likelihood[i, :n], score[i, :n] = a.coords, a.likelihood, a.scores
    poses = TrackedPoses(coords, likelihood, score, [f"animal{j}" for j in range(most)], names)
    report = {
        "checkpoint": printable(checkpoint),
        "checkpoint_epoch": module.checkpoint_epoch,
        "keypoint_names": names,
        "units": "original-image pixels; pixel centres at integer coordinates (as DeepLabCut)",
        "images": [
            {
                "image": printable(p.name),
                "animals": [
                    {
                        "score": float(a.scores[j]),
                        "keypoints": a.coords[j].tolist(),
                        "likelihood": a.likelihood[j].tolist(),
                    }
                    for j in range(len(a.scores))
                ],
            }
            for p, a in zip(kept, found, strict=True)
        ],
        "skipped": [{"image": printable(p.name), "reason": why} for p, why in skipped.items()],
    }
    with output_set() as written:
        paths = write_tracked_tables(
            out_dir / "predictions", poses, scorer_name(checkpoint), written, [p.name for p in kept]
        )
        paths["json"] = written.write(out_dir / JSON_FILE, lambda p: p.write_text(json.dumps(report, indent=2) + "\n"))
    report_skipped(skipped)
    return paths
