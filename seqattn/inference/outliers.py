"""Frames back to labelling: where the model is least sure, or jumps, spread over the video.

    python -m seqattn.inference.outliers <predictions.h5> <video> <DeepLabCut project> --n 20 --by both

The picked frames go as PNGs into ``<project>/labeled-data/<video stem>/`` with their machine
labels appended to ``CollectedData_<scorer>.csv`` there (DeepLabCut's layout; cells below
``--pcutoff`` left empty; default: the pcutoff predict.py used), so DeepLabCut's labelling GUI
opens them for correction. Existing labels are never overwritten: a frame already labelled is
skipped and reported. Which rows are still unreviewed machine labels is recorded beside them in
``machine_labels.json`` (the frame and the coordinates written); training refuses such rows while
their coordinates are unchanged, unless ``data.source.accept_machine_labels=true``
(seqattn.data.formats.dlc).

Everything is read and checked before anything is written: the options (``--pcutoff`` in
[0, 1], ``--min-gap`` >= 1), the predictions (read without unpickling; one row per frame of
this video: as many rows as its container counts, where it counts), the existing CSV and ``machine_labels.json``.
Frames without any prediction (those the video could not decode) are never picked; a picked
frame that cannot be extracted from the video is left out and reported (``not_extracted``), so
the CSV only gains rows for PNGs that exist. The PNGs, the CSV and the record are written under
temporary names and renamed together at the end; any error leaves the project as it was.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np

from seqattn.data.formats.machine_labels import MACHINE_LABELS, read_machine_labels
from seqattn.errors import ConfigError, DataError, UserError
from seqattn.inference.outlier_inputs import (
    check_length,
    existing_labels,
    predictions_pcutoff,
    read_predictions,
)
from seqattn.inference.tables import output_set, printable
from seqattn.io.video import decode_frames
from seqattn.io.video_info import DecodeReport, probe

log = logging.getLogger(__name__)

BY = ("likelihood", "jump", "both")


def frame_scores(coords: np.ndarray, likelihood: np.ndarray, by: str, diagonal: float) -> np.ndarray:
    """(N,) how much each frame needs a look: low likelihood, a jump from the frame before, or both
    (the mean of the two ranks). coords (N, K, 2), likelihood (N, K)."""
    with warnings.catch_warnings():  # rows without any prediction: NaN, then the values below
        warnings.simplefilter("ignore", RuntimeWarning)
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


def check_options(n: int, by: str, min_gap: int | None, pcutoff: float | None) -> None:
    """The command-line options in range; a ConfigError naming the first that is not."""
    if by not in BY:
        raise ConfigError(f"--by must be one of {', '.join(BY)}, got {by!r}")
    if n < 1:
        raise ConfigError(f"--n must be >= 1, got {n}")
    if min_gap is not None and min_gap < 1:
        raise ConfigError(f"--min-gap must be >= 1 frame, got {min_gap}")
    if pcutoff is not None and not 0 <= pcutoff <= 1:  # NaN fails both comparisons
        raise ConfigError(f"--pcutoff must be in [0, 1], got {pcutoff}")


def extract_frames(video: Path, wanted: set[int]) -> dict[int, bytes]:
    """The frames ``wanted`` of ``video`` as PNG bytes (those that decode)."""
    pngs: dict[int, bytes] = {}
    for frame in decode_frames(video, DecodeReport()):
        if frame.index in wanted and frame.image is not None:
            ok, png = cv2.imencode(".png", np.ascontiguousarray(frame.image[:, :, ::-1]))
            if ok:
                pngs[frame.index] = png.tobytes()
        if frame.index >= max(wanted):
            break
    return pngs


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
    check_options(n, by, min_gap, pcutoff)
    if not project.is_dir():
        raise DataError(f"project folder not found: {printable(project)}")
    machine_scorer, names, coords, likelihood = read_predictions(predictions)
    if pcutoff is None:
        pcutoff = predictions_pcutoff(predictions)
    info = probe(video)
    check_length(predictions, video, len(coords), info)
    gap = min_gap if min_gap is not None else max(1, round(info.fps or 30))  # one second apart by default
    folder = project / "labeled-data" / video.stem
    csv_path, label_names, labelled = existing_labels(folder)
    if label_names is not None and label_names != names:
        raise DataError(f"{printable(csv_path)}: keypoints {label_names} differ from the predictions' {names}")
    record = read_machine_labels(folder / MACHINE_LABELS, len(names))
    old_lines = csv_path.read_text(encoding="utf-8-sig").splitlines() if csv_path else None
    digits = max(4, len(str(len(coords) - 1)))
    image_of = lambda i: f"labeled-data/{video.stem}/img{i:0{digits}d}.png"  # noqa: E731 - DeepLabCut's names
    taken = {i for i in range(len(coords)) if image_of(i) in labelled}
    no_prediction = set(np.flatnonzero(~np.isfinite(coords).any(axis=(1, 2))).tolist())  # frames not decoded
    scores = frame_scores(coords, likelihood, by, float(np.hypot(info.width, info.height)))
    picked = pick_frames(scores, n, gap, skip=taken | no_prediction)
    if not picked:
        raise DataError(
            f"{printable(predictions)}: no frame left to pick ({len(taken)} already labelled,"
            f" {len(no_prediction)} without predictions, gap {gap} frames)"
        )
    pngs = extract_frames(video, set(picked))
    missing = [i for i in picked if i not in pngs]
    if missing:
        log.warning(f"{printable(video)}: frames {missing} could not be extracted; they are not added")
    if not pngs:
        raise DataError(f"{printable(video)}: none of the picked frames {picked} could be extracted")

    rows = []
    for i in sorted(pngs):
        xy = coords[i].copy()
        xy[likelihood[i] < pcutoff] = np.nan  # below pcutoff: left for the labeller, empty cells
        rows.append((image_of(i), xy))
    scorer = scorer or (csv_path.stem.removeprefix("CollectedData_") if csv_path else machine_scorer)
    csv_path = csv_path or folder / f"CollectedData_{scorer}.csv"
    with output_set() as files:
        for i, png in sorted(pngs.items()):
            files.write(project / image_of(i), lambda p, data=png: p.write_bytes(data))
        files.write(csv_path, lambda p: _write_csv(p, old_lines or _csv_header(scorer, names), rows))
        for image, xy in rows:
            record[image] = [[None if np.isnan(v) else round(float(v), 2) for v in point] for point in xy]
        files.write(folder / MACHINE_LABELS, lambda p: p.write_text(json.dumps(record, indent=1) + "\n"))
    return {
        "added": [image for image, _ in rows],
        "not_extracted": [image_of(i) for i in missing],
        "skipped_already_labelled": sorted(image_of(i) for i in taken),
        "csv": str(csv_path),
        "by": by,
        "min_gap_frames": gap,
    }


def _csv_header(scorer: str, names: list[str]) -> list[str]:
    """The three header rows of a DeepLabCut label CSV."""
    return [
        ",".join(["scorer", *[scorer] * (2 * len(names))]),
        ",".join(["bodyparts", *[n for n in names for _ in range(2)]]),
        ",".join(["coords", *["x", "y"] * len(names)]),
    ]


def _write_csv(path: Path, old_lines: list[str], rows: list[tuple[str, np.ndarray]]) -> None:
    """The CSV's lines so far, then ``rows`` (empty cells for NaN)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        f.write("\n".join(old_lines) + "\n")
        writer = csv.writer(f)
        for image, xy in rows:
            writer.writerow([image, *("" if np.isnan(v) else f"{v:.2f}" for v in xy.reshape(-1))])


def main(argv: list[str] | None = None) -> dict:
    """``python -m seqattn.inference.outliers``: parse the options, extract, print a summary (errors: exit 2)."""
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
        f"added {len(done['added'])} frames to {printable(done['csv'])};"
        f" skipped {len(done['skipped_already_labelled'])} already labelled"
    )
    return done


if __name__ == "__main__":
    main()
