"""The machine labels seqattn.inference.outliers adds to a DeepLabCut project: its record of what
it wrote (``machine_labels.json`` beside the frames), and the check that stops training on rows
nobody has reviewed yet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from seqattn.errors import DataError
from seqattn.io.files import printable

MACHINE_LABELS = "machine_labels.json"  # written by seqattn.inference.outliers beside the frames it adds


def read_machine_labels(path: Path, k: int) -> dict[str, list]:
    """The machine-labels record (image -> K [x, y] points, null for none); {} when there is none yet.
    A record that is not one is a DataError: fix or remove it."""
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{printable(path)}: not a machine-labels record ({exc}); fix or remove it") from None
    if not isinstance(record, dict):
        raise DataError(
            f"{printable(path)}: not a machine-labels record (expected an object of image paths); fix or remove it"
        )
    for image, points in record.items():
        ok = isinstance(points, list) and len(points) == k
        ok = ok and all(
            isinstance(p, list) and len(p) == 2 and all(v is None or isinstance(v, int | float) for v in p)
            for p in points
        )
        if not ok:
            raise DataError(f"{printable(path)}: {image!r} should hold {k} [x, y] points; fix or remove the record")
    return record


def refuse_unreviewed(folder: Path, samples: list[tuple[str, np.ndarray]]) -> None:
    """A DataError naming the rows that still hold the machine labels seqattn.inference.outliers wrote
    (coordinates unchanged since); corrected rows, and rows it did not write, pass."""
    record_path = folder / MACHINE_LABELS
    if not samples:
        return
    record = read_machine_labels(record_path, len(samples[0][1]))
    unreviewed = []
    for image, points in samples:
        written = record.get(image)
        if written is None:
            continue
        machine = np.array([[np.nan if v is None else v for v in p] for p in written], dtype=np.float64)
        if np.allclose(points, machine, atol=0.01, equal_nan=True):
            unreviewed.append(image)
    if unreviewed:
        shown = ", ".join(unreviewed[:3]) + (" ..." if len(unreviewed) > 3 else "")
        raise DataError(
            f"{record_path}: {len(unreviewed)} frame(s) still hold unreviewed machine labels ({shown}): correct them"
            " in DeepLabCut's labelling GUI, or train on them as they are with data.source.accept_machine_labels=true"
        )
