"""Frames back to labelling: where the model is least sure, or jumps, spread over the video.

    python -m seqattn.inference.outliers <predictions.h5> <video> <DeepLabCut project> --n 20 --by both

The picked frames go as PNGs into ``<project>/labeled-data/<video stem>/`` with their machine
labels appended to ``CollectedData_<scorer>.csv`` there (DeepLabCut's layout; cells below
``--pcutoff`` left empty; default: the pcutoff predict.py used), so DeepLabCut's labelling GUI
opens them for correction. Existing labels are never overwritten: a frame already labelled is
skipped and reported. Which rows are still unreviewed machine labels is recorded beside them in
``machine_labels.json`` (the frame and the coordinates written); training refuses such rows while
their coordinates are unchanged, unless ``data.source.accept_machine_labels=true``
(seqattn.data.dlc).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from seqattn.calibration import FALLBACK_PCUTOFF
from seqattn.data.dlc import read_dlc_labels
from seqattn.errors import ConfigError, DataError, UserError
from seqattn.inference.tables import H5_KEY, write_atomically
from seqattn.inference.video import DecodeReport, decode_frames, probe

MACHINE_LABELS = "machine_labels.json"
BY = ("likelihood", "jump", "both")


def frame_scores(coords: np.ndarray, likelihood: np.ndarray, by: str, diagonal: float) -> np.ndarray:
    """(N,) how much each frame needs a look: low likelihood, a jump from the frame before, or both
    (the mean of the two ranks). coords (N, K, 2), likelihood (N, K)."""
    unsure = np.nan_to_num(1.0 - np.nanmean(likelihood, axis=1), nan=1.0)  # (N,)
    step = np.linalg.norm(np.diff(coords, axis=0), axis=-1)  # (N-1, K)
    jump = np.concatenate([[0.0], np.nan_to_num(np.nanmax(step, axis=1), nan=0.0) / diagonal])  # (N,)
    if by == "likelihood":
        return unsure
    if by == "jump":
        return jump
    rank = lambda v: np.argsort(np.argsort(v, kind="stable"), kind="stable") / max(1, len(v) - 1)  # noqa: E731
    return (rank(unsure) + rank(jump)) / 2


def pick_frames(scores: np.ndarray, n: int, min_gap: int, skip: set[int] = frozenset()) -> list[int]:
    """The ``n`` highest-scoring frames, no two within ``min_gap`` frames, none in ``skip``."""
    picked: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        i = int(i)
        if i in skip or any(abs(i - j) < min_gap for j in picked):
            continue
        picked.append(i)
        if len(picked) == n:
            break
    return sorted(picked)


def read_predictions(path: Path) -> tuple[str, list[str], np.ndarray, np.ndarray]:
    """A frame-indexed DeepLabCut prediction table -> (scorer, names, coords (N, K, 2), likelihood (N, K))."""
    if path.suffix.lower() != ".h5":
        raise DataError(f"{path}: give the .h5 that predict.py wrote for the video")
    try:
        table = pd.read_hdf(path, H5_KEY)
    except Exception as exc:  # noqa: BLE001 - PyTables and pandas raise many kinds for a bad file
        raise DataError(f"{path}: not a DeepLabCut prediction table ({exc})") from exc
    names = list(dict.fromkeys(table.columns.get_level_values("bodyparts")))
    values = table.to_numpy(dtype=np.float64).reshape(len(table), len(names), 3)
    return str(table.columns.get_level_values("scorer")[0]), names, values[..., :2], values[..., 2]


def existing_labels(folder: Path) -> tuple[Path | None, list[str] | None, set[str]]:
    """The folder's CollectedData CSV, its keypoint names and the images it labels (None: none yet)."""
    found = sorted(folder.glob("CollectedData_*.csv"))
    if not found:
        return None, None, set()
    names, samples = read_dlc_labels(found[0])
    return found[0], names, {image for image, _ in samples}


def predictions_pcutoff(predictions: Path) -> float:
    """The pcutoff predict.py wrote into the report beside its .h5 (the checkpoint's, chosen on the
    scale of the likelihoods in that file), else DeepLabCut's 0.6."""
    report = predictions.with_suffix(".json")
    try:
        return float(json.loads(report.read_text())["pcutoff"])
    except (OSError, ValueError, KeyError, TypeError):
        return FALLBACK_PCUTOFF


def extract_outliers(
    predictions: Path,
    video: Path,
    project: Path,
    n: int = 20,
    by: str = "both",
    min_gap: int | None = None,
    pcutoff: float | None = None,
    scorer: str | None = None,
) -> dict:
    """Pick, save and label the frames; returns what was done (frames added and skipped, files).
    ``pcutoff`` None: the one predict.py used (its ``<stem>.json`` beside the .h5), else 0.6."""
    if by not in BY:
        raise ConfigError(f"--by must be one of {', '.join(BY)}, got {by!r}")
    if n < 1:
        raise ConfigError(f"--n must be >= 1, got {n}")
    if not project.is_dir():
        raise DataError(f"project folder not found: {project}")
    if pcutoff is None:
        pcutoff = predictions_pcutoff(predictions)
    info = probe(video)
    machine_scorer, names, coords, likelihood = read_predictions(predictions)
    gap = min_gap if min_gap is not None else max(1, round(info.fps or 30))  # one second apart by default
    folder = project / "labeled-data" / video.stem
    csv_path, label_names, labelled = existing_labels(folder)
    if label_names is not None and label_names != names:
        raise DataError(f"{csv_path}: keypoints {label_names} differ from the predictions' {names}")
    digits = max(4, len(str(len(coords) - 1)))
    image_of = lambda i: f"labeled-data/{video.stem}/img{i:0{digits}d}.png"  # noqa: E731 - DeepLabCut's names
    taken = {i for i in range(len(coords)) if image_of(i) in labelled}
    scores = frame_scores(coords, likelihood, by, float(np.hypot(info.width, info.height)))
    picked = pick_frames(scores, n, gap, skip=taken)
    if not picked:
        raise DataError(f"{predictions}: no frame left to pick ({len(taken)} already labelled, gap {gap} frames)")

    folder.mkdir(parents=True, exist_ok=True)
    wanted = set(picked)
    report = DecodeReport()
    for frame in decode_frames(video, report):
        if frame.index in wanted and frame.image is not None:
            png = cv2.imencode(".png", np.ascontiguousarray(frame.image[:, :, ::-1]))[1].tobytes()
            write_atomically(project / image_of(frame.index), lambda p, data=png: p.write_bytes(data))
        if frame.index >= max(picked):
            break
    rows = []
    for i in picked:
        xy = coords[i].copy()
        xy[likelihood[i] < pcutoff] = np.nan  # below pcutoff: left for the labeller, empty cells
        rows.append((image_of(i), xy))
    scorer = scorer or (csv_path.stem.removeprefix("CollectedData_") if csv_path else machine_scorer)
    csv_path = csv_path or folder / f"CollectedData_{scorer}.csv"
    _append_rows(csv_path, scorer, names, rows)
    _record_machine_labels(folder / MACHINE_LABELS, rows)
    return {
        "added": [image for image, _ in rows],
        "skipped_already_labelled": sorted(image_of(i) for i in taken),
        "csv": str(csv_path),
        "by": by,
        "min_gap_frames": gap,
    }


def _append_rows(path: Path, scorer: str, names: list[str], rows: list[tuple[str, np.ndarray]]) -> None:
    """Add rows to a DeepLabCut CSV (written whole under a temporary name: never half a file)."""
    old = (
        path.read_text(encoding="utf-8-sig").splitlines()
        if path.is_file()
        else [
            ",".join(["scorer", *[scorer] * (2 * len(names))]),
            ",".join(["bodyparts", *[n for n in names for _ in range(2)]]),
            ",".join(["coords", *["x", "y"] * len(names)]),
        ]
    )

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            f.write("\n".join(old) + "\n")
            writer = csv.writer(f)
            for image, xy in rows:
                writer.writerow([image, *("" if np.isnan(v) else f"{v:.2f}" for v in xy.reshape(-1))])

    write_atomically(path, write)


def _record_machine_labels(path: Path, rows: list[tuple[str, np.ndarray]]) -> None:
    record = json.loads(path.read_text()) if path.is_file() else {}
    for image, xy in rows:
        record[image] = [[None if np.isnan(v) else round(float(v), 2) for v in point] for point in xy]
    write_atomically(path, lambda p: p.write_text(json.dumps(record, indent=1) + "\n"))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m seqattn.inference.outliers", description=__doc__.split("\n\n")[0])
    parser.add_argument("predictions", type=Path, help="the <video stem>.h5 that predict.py wrote")
    parser.add_argument("video", type=Path)
    parser.add_argument("project", type=Path, help="the DeepLabCut project folder (holding labeled-data/)")
    parser.add_argument("--n", type=int, default=20, help="how many frames")
    parser.add_argument("--by", default="both", help="likelihood | jump | both")
    parser.add_argument("--min-gap", type=int, default=None, help="frames between two picks (default: 1 s)")
    parser.add_argument(
        "--pcutoff", type=float, default=None, help="machine labels below it are left empty (default: predict.py's)"
    )
    parser.add_argument("--scorer", default=None, help="the labeller's name (default: the existing CSV's)")
    args = parser.parse_args(argv)
    try:
        done = extract_outliers(
            args.predictions, args.video, args.project, args.n, args.by, args.min_gap, args.pcutoff, args.scorer
        )
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(
        f"added {len(done['added'])} frames to {done['csv']}; skipped {len(done['skipped_already_labelled'])}"
        " already labelled"
    )
    return done


if __name__ == "__main__":
    main()
