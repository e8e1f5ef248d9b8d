"""DeepLabCut labels: one CollectedData file, or a project folder whose labeled-data/*/ files are merged.

CSV layout: header rows ``scorer``, (``individuals`` for multi-animal projects), ``bodyparts``,
``coords``; then one row per image. The image path fills the leading index column(s), relative
to the project root (the folder holding ``labeled-data/``). An empty cell is a missing label.
DeepLabCut's primary label file is the ``.h5`` beside it (pandas HDF, key ``df_with_missing``,
the same columns); it is read, as the same rows, where a folder has no CSV.

Multi-animal files (an ``individuals`` row or level) give one entry per image and labelled
individual, its track the individual's name; every individual has the same body parts, the
keypoints. An image with several individuals is then a frame of several animals
(seqattn.data.formats.labels). maDLC's "unique bodyparts" (individual ``single``: points of the
scene, not of an animal) are refused: they would need a model of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqattn.data.formats.label_files import Entry, image_path, parse_number, read_csv_rows, resolve_image_root
from seqattn.data.formats.labels import LabelledSource
from seqattn.data.formats.machine_labels import refuse_unreviewed
from seqattn.errors import DataError
from seqattn.io.hdf import H5_KEY, read_pose_table

UNIQUE = "single"  # maDLC's individual holding the unique bodyparts


@dataclass
class LabelRow:
    """One labelled animal of one image: a row of a single-animal file, or one individual of a row."""

    row: int  # row number in the CSV (1-based)
    image: str  # the image path as written
    points: np.ndarray  # (K, 2), NaN = not labelled
    track: str | None = None  # the individual (multi-animal files)


@dataclass
class DLCLabels:
    """One parsed DeepLabCut label file."""

    names: list[str]  # the body parts, in the file's order: the keypoints
    individuals: list[str] | None  # a multi-animal file's individuals, in its order; None: one animal
    rows: list[LabelRow]  # multi-animal: a row per labelled individual (an image with none: one empty row)


def read_dlc_rows(path: Path) -> DLCLabels:
    """Parse one DeepLabCut label file (.csv or .h5)."""
    if path.suffix.lower() in (".h5", ".hdf5", ".hdf"):
        return parse_dlc_rows(path, dlc_h5_rows(path))
    return parse_dlc_rows(path, read_csv_rows(path))


def dlc_h5_rows(path: Path) -> list[list[str]]:
    """The rows of the CSV DeepLabCut would write for the label table in ``path`` (key df_with_missing).

    Read by ``seqattn.io.hdf`` (h5py, no unpickling): a crafted file cannot run code."""
    table = read_pose_table(path, H5_KEY, what="DeepLabCut label file")
    if len(table.column_names) < 2:
        raise DataError(f"{path}: columns are not DeepLabCut's scorer / (individuals /) bodyparts / coords levels")
    width = len(table.index_names)  # the image path: one string, or DeepLabCut 2.2+'s (labeled-data, video, file)
    rows = [
        [str(name)] + [""] * (width - 1) + [column[level] for column in table.columns]
        for level, name in enumerate(table.column_names)
    ]
    for key, values in zip(table.index, table.values, strict=True):
        parts = list(key) if isinstance(key, tuple) else [key]
        rows.append([str(p) for p in parts] + ["" if np.isnan(v) else repr(float(v)) for v in values])
    return rows


def parse_dlc_rows(path: Path, rows: list[list[str]]) -> DLCLabels:
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
    who_row = rows[header["individuals"]] if "individuals" in header else None
    ncols = len(coords)
    first = next((c for c in range(1, ncols) if coords[c].strip() == "x"), None)
    if first is None:
        raise DataError(f"{path}: row {header['coords'] + 1} (coords) has no 'x' column")

    def at(row: list[str] | None, c: int, short: str | None = "") -> str | None:
        """A header cell; None where there is no such row, ``short`` beyond the row's end."""
        return None if row is None else (row[c].strip() if c < len(row) else short)

    columns: dict[str | None, list[tuple[str, int, int]]] = {}  # individual -> [(part, x column, y column)]
    for c in range(first, ncols):
        if coords[c].strip() != "x":
            continue
        part, who = at(parts, c), at(who_row, c)
        if who == "":
            raise DataError(f"{path}: row {header['individuals'] + 1}, column {c + 1}: no individual for '{part}'")
        label = _label(who, part)
        y_of = (at(parts, c + 1, part), at(who_row, c + 1, who))  # the part and individual of the next column
        if c + 1 >= ncols or coords[c + 1].strip() != "y" or y_of != (part, who):
            raise DataError(
                f"{path}: row {header['coords'] + 1}, column {c + 2}: expected the y column of '{label}' after its x"
            )
        columns.setdefault(who, []).append((part, c, c + 1))
    if UNIQUE in columns:
        unique = [part for part, _, _ in columns[UNIQUE]]
        raise DataError(
            f"{path}: unique bodyparts {unique} (individual '{UNIQUE}') belong to the scene, not to an animal, and"
            " are not trained; remove them from the labels, or label them as body parts of an individual"
        )
    individuals = list(columns)
    names = [part for part, _, _ in columns[individuals[0]]]
    for who in individuals[1:]:
        theirs = [part for part, _, _ in columns[who]]
        if theirs != names:
            raise DataError(
                f"{path}: individual '{who}' has the body parts {theirs}, '{individuals[0]}' has {names};"
                " every individual needs the same ones, in the same order"
            )
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
        found = []
        for who, cols in columns.items():
            points = np.array(
                [
                    [
                        parse_number(row[cx], f"{path}: row {r + 1}, column {cx + 1} ({_label(who, n)} x)"),
                        parse_number(row[cy], f"{path}: row {r + 1}, column {cy + 1} ({_label(who, n)} y)"),
                    ]
                    for n, cx, cy in cols
                ],
                dtype=np.float64,
            ).reshape(len(names), 2)
            points[~np.isfinite(points).all(1)] = np.nan  # half a label is no label
            found.append(LabelRow(r + 1, image, points, who))
        if who_row is not None:  # an individual with no labelled point is not in this image
            labelled = [f for f in found if np.isfinite(f.points).any()]
            found = labelled or [LabelRow(r + 1, image, found[0].points)]  # none: check_images skips the image
        samples += found
    return DLCLabels(names, None if who_row is None else individuals, samples)


def _label(who: str | None, part: str) -> str:
    return part if who is None else f"{who} {part}"


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
        first: DLCLabels | None = None
        entries = []
        for csv_path in find_dlc_files(Path(path)):
            labels = read_dlc_rows(csv_path)
            samples = [(row.image, row.points) for row in labels.rows]
            if not accept_machine_labels:
                refuse_unreviewed(csv_path.parent, samples)
            if first is not None and labels.names != first.names:
                raise DataError(f"{csv_path}: keypoint names {labels.names} differ from the first CSV's {first.names}")
            if first is not None and labels.individuals != first.individuals:
                raise DataError(
                    f"{csv_path}: individuals {labels.individuals or 'none (one animal)'} differ from the first"
                    f" file's {first.individuals or 'none (one animal)'}"
                )
            first = first or labels
            if not labels.rows:
                continue
            several = labels.individuals is not None and len(labels.individuals) > 1
            root = resolve_image_root(csv_path, [row.image for row in labels.rows], image_root)
            entries += [
                Entry(
                    f"{row.image}#{row.track}" if several and row.track is not None else row.image,
                    row.image,
                    image_path(root, row.image, f"{csv_path}: row {row.row}", allow_outside_root),
                    row.points,
                    track=row.track,
                )
                for row in labels.rows
            ]
        seen = set()
        for e in entries:
            if e.name in seen:
                raise DataError(f"{path}: image {e.name} is labelled twice")
            seen.add(e.name)
        if first is None or not entries:
            raise DataError(f"{path}: no labelled rows")
        self._build(first.names, entries, str(path), **common)
