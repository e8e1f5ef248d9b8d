"""DeepLabCut labels: one CollectedData file, or a project folder whose labeled-data/*/ files are merged.

CSV layout: header rows ``scorer``, (``individuals`` for multi-animal projects), ``bodyparts``,
``coords``; then one row per image. The image path fills the leading index column(s), relative
to the project root (the folder holding ``labeled-data/``). An empty cell is a missing label.
DeepLabCut's primary label file is the ``.h5`` beside it (pandas HDF, key ``df_with_missing``,
the same columns); it is read, as the same rows, where a folder has no CSV.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from seqattn.data.formats.label_files import Entry, image_path, parse_number, read_csv_rows, resolve_image_root
from seqattn.data.formats.labels import LabelledSource
from seqattn.errors import DataError
from seqattn.io.files import printable
from seqattn.io.hdf import H5_KEY, read_pose_table

LabelRow = tuple[int, str, np.ndarray]  # (row number in the CSV, image path, (K, 2) points)


def read_dlc_labels(path: Path) -> tuple[list[str], list[tuple[str, np.ndarray]]]:
    """Parse one DeepLabCut label file (.csv or .h5) -> (keypoint names, [(image path, (K, 2) points)])."""
    names, rows = read_dlc_rows(path)
    return names, [(image, points) for _, image, points in rows]


def read_dlc_rows(path: Path) -> tuple[list[str], list[LabelRow]]:
    """Parse one DeepLabCut label file (.csv or .h5) -> (keypoint names, [(row, image path, (K, 2) points)])."""
    if path.suffix.lower() in (".h5", ".hdf5", ".hdf"):
        return parse_dlc_rows(path, dlc_h5_rows(path))
    return parse_dlc_rows(path, read_csv_rows(path))


def dlc_h5_rows(path: Path) -> list[list[str]]:
    """The rows of the CSV DeepLabCut would write for the label table in ``path`` (key df_with_missing).

    Read by ``seqattn.io.hdf`` (h5py, no unpickling): a crafted file cannot run code."""
    table = read_pose_table(path, H5_KEY, what="DeepLabCut label file")
    if len(table.column_names) < 2:
        raise DataError(f"{path}: columns are not DeepLabCut's scorer / bodyparts / coords levels")
    width = len(table.index_names)  # the image path: one string, or DeepLabCut 2.2+'s (labeled-data, video, file)
    rows = [
        [str(name)] + [""] * (width - 1) + [column[level] for column in table.columns]
        for level, name in enumerate(table.column_names)
    ]
    for key, values in zip(table.index, table.values, strict=True):
        parts = list(key) if isinstance(key, tuple) else [key]
        rows.append([str(p) for p in parts] + ["" if np.isnan(v) else repr(float(v)) for v in values])
    return rows


def parse_dlc_rows(path: Path, rows: list[list[str]]) -> tuple[list[str], list[LabelRow]]:
    """Parse the rows of a DeepLabCut CSV (``path`` names it in errors)."""
    header = {}
    for i, row in enumerate(rows[:4]):
        if row and row[0].strip() in ("scorer", "individuals", "bodyparts", "coords"):
            header[row[0].strip()] = i
    for key in ("scorer", "bodyparts", "coords"):
        if key not in header:
            raise DataError(
                f"{path}: header row '{key}' missing (a DeepLabCut CSV starts with rows scorer, bodyparts, coords)"
            )
    coords, parts = rows[header["coords"]], rows[header["bodyparts"]]
    individuals = rows[header["individuals"]] if "individuals" in header else None
    ncols = len(coords)
    first = next((c for c in range(1, ncols) if coords[c].strip() == "x"), None)
    if first is None:
        raise DataError(f"{path}: row {header['coords'] + 1} (coords) has no 'x' column")

    names, columns = [], []  # columns[k] = (x column, y column)
    for c in range(first, ncols):
        if coords[c].strip() != "x":
            continue
        name = parts[c].strip() if c < len(parts) else ""
        if individuals is not None and individuals[c].strip():
            name = f"{individuals[c].strip()}_{name}"
        if (
            c + 1 >= ncols
            or coords[c + 1].strip() != "y"
            or (c + 1 < len(parts) and parts[c + 1].strip() != parts[c].strip())
        ):
            raise DataError(
                f"{path}: row {header['coords'] + 1}, column {c + 2}: expected the y column of '{name}' after its x"
            )
        names.append(name)
        columns.append((c, c + 1))
    if len(set(names)) != len(names):
        raise DataError(f"{path}: keypoint names repeat: {names}")

    samples = []
    for r in range(max(header.values()) + 1, len(rows)):
        row = rows[r]
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != ncols:
            raise DataError(f"{path}: row {r + 1} has {len(row)} columns, the header has {ncols}")
        image = "/".join(cell.strip() for cell in row[:first] if cell.strip())
        if not image:
            raise DataError(f"{path}: row {r + 1} has no image path")
        points = np.array(
            [
                [
                    parse_number(row[cx], f"{path}: row {r + 1}, column {cx + 1} ({n} x)"),
                    parse_number(row[cy], f"{path}: row {r + 1}, column {cy + 1} ({n} y)"),
                ]
                for n, (cx, cy) in zip(names, columns, strict=True)
            ],
            dtype=np.float64,
        ).reshape(len(names), 2)
        points[~np.isfinite(points).all(1)] = np.nan  # half a label is no label
        samples.append((r + 1, image, points))
    return names, samples


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


def find_dlc_files(path: Path) -> list[Path]:
    """The file itself, or a project folder's labeled-data/*/CollectedData_*.csv (else a root
    CollectedData*.csv); in each of those folders the .h5 stands in where there is no CSV."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"DeepLabCut labels not found: {path}")
    found = []
    for folder in sorted(path.glob("labeled-data/*/")):
        found += _labels_in(folder, "CollectedData_*")
    if not found:
        found = _labels_in(path, "CollectedData*")
    if not found:
        raise DataError(f"{path}: no labeled-data/*/CollectedData_*.csv (or .h5) and no CollectedData*.csv (or .h5)")
    return found


def _labels_in(folder: Path, pattern: str) -> list[Path]:
    found = sorted(folder.glob(f"{pattern}.csv")) or sorted(folder.glob(f"{pattern}.h5"))
    for path in found:
        if not path.is_file():
            raise DataError(f"{path}: a folder (or not a regular file), not a label file")
    return found


class DLCSource(LabelledSource):
    """DeepLabCut labels (a .csv or .h5 file, or a project folder) with a split file or seeded split fractions."""

    def __init__(
        self,
        path: str,
        image_root: str | None = None,
        accept_machine_labels: bool = False,
        allow_outside_root: bool = False,
        **common: Any,
    ) -> None:
        names, entries = None, []
        for csv_path in find_dlc_files(Path(path)):
            these, rows = read_dlc_rows(csv_path)
            samples = [(img, pts) for _, img, pts in rows]
            if not accept_machine_labels:
                refuse_unreviewed(csv_path.parent, samples)
            if names is not None and these != names:
                raise DataError(f"{csv_path}: keypoint names {these} differ from the first CSV's {names}")
            names = these
            if not samples:
                continue
            root = resolve_image_root(csv_path, [img for img, _ in samples], image_root)
            entries += [
                Entry(img, img, image_path(root, img, f"{csv_path}: row {r}", allow_outside_root), pts)
                for r, img, pts in rows
            ]
        seen = set()
        for e in entries:
            if e.name in seen:
                raise DataError(f"{path}: image {e.name} is labelled twice")
            seen.add(e.name)
        if not entries:
            raise DataError(f"{path}: no labelled rows")
        self._build(names, entries, str(path), **common)
