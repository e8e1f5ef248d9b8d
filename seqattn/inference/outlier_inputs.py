"""What ``seqattn.inference.outliers`` reads, checked before it writes anything: the predictions,
their pcutoff, the project's existing labels and the record of machine labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from seqattn.data.formats.dlc import read_dlc_rows
from seqattn.errors import DataError
from seqattn.evaluation.calibration import FALLBACK_PCUTOFF
from seqattn.inference.tables import printable
from seqattn.io.hdf import H5_KEY, read_pose_table
from seqattn.io.video_info import VideoInfo


def read_predictions(path: Path) -> tuple[str, list[str], np.ndarray, np.ndarray]:
    """A frame-indexed DeepLabCut prediction table -> (scorer, names, coords (N, K, 2), likelihood (N, K)).
    Read without unpickling anything (seqattn.io.hdf): a crafted file is refused."""
    if path.suffix.lower() != ".h5":
        raise DataError(f"{printable(path)}: give the .h5 that predict.py wrote for the video")
    if not path.is_file():
        raise DataError(f"{printable(path)}: no such file")
    table = read_pose_table(path, H5_KEY, what="DeepLabCut prediction table")
    names = list(dict.fromkeys(column[1] for column in table.columns if len(column) == 3))
    expected = [(table.columns[0][0], name, coord) for name in names for coord in ("x", "y", "likelihood")]
    if not names or table.columns != expected:
        raise DataError(f"{printable(path)}: columns are not scorer / bodyparts / x, y, likelihood per keypoint")
    if table.index != list(range(len(table.index))):
        raise DataError(f"{printable(path)}: rows are not frames 0, 1, 2, ... (is it a label file?)")
    values = table.values.reshape(len(table.index), len(names), 3)
    return str(table.columns[0][0]), names, values[..., :2], values[..., 2]


def existing_labels(folder: Path) -> tuple[Path | None, list[str] | None, set[str]]:
    """The folder's CollectedData CSV, its keypoint names and the images it labels (None: none yet)."""
    found = sorted(folder.glob("CollectedData_*.csv"))
    if not found:
        return None, None, set()
    labels = read_dlc_rows(found[0])
    if labels.individuals is not None:
        raise DataError(
            f"{printable(found[0])}: a multi-animal label file (individuals {labels.individuals}); the outlier-frame"
            " loop adds frames to single-animal projects only"
        )
    return found[0], labels.names, {row.image for row in labels.rows}


def predictions_pcutoff(predictions: Path) -> float:
    """The pcutoff predict.py wrote into the report beside its .h5 (the checkpoint's, chosen on the
    scale of the likelihoods in that file), else DeepLabCut's 0.6; a report that holds no valid
    pcutoff is a DataError."""
    report = predictions.with_suffix(".json")
    if not report.is_file():
        return FALLBACK_PCUTOFF
    try:
        value = json.loads(report.read_text())["pcutoff"]
        pcutoff = float(value)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{printable(report)}: no pcutoff in predict.py's report ({exc}); give --pcutoff") from None
    if not 0 <= pcutoff <= 1:
        raise DataError(f"{printable(report)}: pcutoff {value!r} is not in [0, 1]; give --pcutoff")
    return pcutoff


def check_length(predictions: Path, video: Path, rows: int, info: VideoInfo) -> None:
    """The predictions have one row per frame of ``video`` (predict.py pads a video cut short to
    the count its container states; without a count only extraction tells)."""
    if info.frames_counted and rows != info.frames_expected:
        raise DataError(
            f"{printable(predictions)}: {rows} rows, but {printable(video)} has {info.frames_expected} frames:"
            " the predictions of another video?"
        )
