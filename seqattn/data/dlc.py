"""DeepLabCut labels: one CollectedData CSV, or a project folder whose labeled-data/*/ CSVs are merged.

CSV layout: header rows ``scorer``, (``individuals`` for multi-animal projects), ``bodyparts``,
``coords``; then one row per image. The image path fills the leading index column(s), relative
to the project root (the folder holding ``labeled-data/``). An empty cell is a missing label.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seqattn.data.labels import Entry, LabelledSource, parse_number, resolve_image_root
from seqattn.errors import DataError


def read_dlc_csv(path: Path) -> tuple[list[str], list[tuple[str, np.ndarray]]]:
    """Parse one DeepLabCut CSV -> (keypoint names, [(image path as written, (K, 2) points)])."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
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
        samples.append((image, points))
    return names, samples


def find_dlc_csvs(path: Path) -> list[Path]:
    """The CSV itself, or a project folder's labeled-data/*/CollectedData_*.csv (else a root CollectedData*.csv)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"DeepLabCut labels not found: {path}")
    found = sorted(path.glob("labeled-data/*/CollectedData_*.csv")) or sorted(path.glob("CollectedData*.csv"))
    if not found:
        raise DataError(f"{path}: no labeled-data/*/CollectedData_*.csv and no CollectedData*.csv")
    return found


class DLCSource(LabelledSource):
    """DeepLabCut CSV labels (file or project folder) with a split file or seeded split fractions."""

    def __init__(
        self,
        path: str,
        split_file: str | None = None,
        split_fractions: Sequence[float] = (0.7, 0.1, 0.2),
        split_seed: int = 0,
        image_root: str | None = None,
        flip_pairs: Sequence[Sequence[str]] | None = None,
    ) -> None:
        names, entries = None, []
        for csv_path in find_dlc_csvs(Path(path)):
            these, samples = read_dlc_csv(csv_path)
            if names is not None and these != names:
                raise DataError(f"{csv_path}: keypoint names {these} differ from the first CSV's {names}")
            names = these
            if not samples:
                continue
            root = resolve_image_root(csv_path, samples[0][0], image_root)
            entries += [Entry(name=img, image_key=img, path=root / img, keypoints=pts) for img, pts in samples]
        seen = set()
        for e in entries:
            if e.name in seen:
                raise DataError(f"{path}: image {e.name} is labelled twice")
            seen.add(e.name)
        if not entries:
            raise DataError(f"{path}: no labelled rows")
        self._build(names, entries, split_file, split_fractions, split_seed, flip_pairs)
