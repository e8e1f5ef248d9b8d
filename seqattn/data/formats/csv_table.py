"""Plain CSV labels: an image-path column, then x, y per keypoint; an empty cell is missing.

With a header row (detected when its coordinate cells are not numbers) keypoint names come from
it: ``snout_x, snout_y`` or ``snout, snout`` both name ``snout``. Without one they are kp0, kp1, ...
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from seqattn.data.formats.label_files import Entry, image_path, parse_number, read_csv_rows, resolve_image_root
from seqattn.data.formats.labels import LabelledSource
from seqattn.errors import DataError

_AXIS_SUFFIX = re.compile(r"(?i)[_\-. ]?(x|y)$")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return cell.strip() == ""


def _names_from_header(header: list[str], path: Path) -> list[str]:
    names = []
    for c in range(1, len(header), 2):
        x, y = header[c].strip(), header[c + 1].strip()
        bx, by = _AXIS_SUFFIX.sub("", x), _AXIS_SUFFIX.sub("", y)
        if bx != by or not bx:
            raise DataError(
                f"{path}: header columns {c + 1} and {c + 2} ({x!r}, {y!r}) do not name one keypoint's x and y"
            )
        names.append(bx)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{path}: header row: keypoint name(s) {', '.join(map(repr, repeated))} name several columns")
    return names


class CSVSource(LabelledSource):
    """A wide CSV: image path, then x1, y1, x2, y2, ... in original pixels."""

    def __init__(
        self,
        path: str,
        image_root: str | None = None,
        allow_outside_root: bool = False,
        **common: Any,
    ) -> None:
        file = Path(path)
        if not file.is_file():
            raise DataError(f"CSV labels not found: {file}")
        rows = [(i + 1, r) for i, r in enumerate(read_csv_rows(file)) if any(c.strip() for c in r)]
        if not rows:
            raise DataError(f"{file}: empty")
        ncols = len(rows[0][1])
        if ncols < 3 or ncols % 2 == 0:
            raise DataError(f"{file}: row {rows[0][0]} has {ncols} columns; expected an image column then x, y pairs")
        has_header = not all(_is_number(c) for c in rows[0][1][1:])
        names = _names_from_header(rows[0][1], file) if has_header else [f"kp{i}" for i in range((ncols - 1) // 2)]
        body = rows[1:] if has_header else rows
        entries = []
        for line, row in body:
            if len(row) != ncols:
                raise DataError(f"{file}: row {line} has {len(row)} columns, expected {ncols}")
            image = row[0].strip()
            if not image:
                raise DataError(f"{file}: row {line} has no image path")
            points = np.array(
                [parse_number(row[c], f"{file}: row {line}, column {c + 1}") for c in range(1, ncols)], dtype=np.float64
            ).reshape(-1, 2)
            points[~np.isfinite(points).all(1)] = np.nan
            entries.append((line, image, points))
        if not entries:
            raise DataError(f"{file}: no labelled rows")
        root = resolve_image_root(file, [img for _, img, _ in entries], image_root)
        self._build(
            names,
            [
                Entry(img, img, image_path(root, img, f"{file}: row {line}", allow_outside_root), pts)
                for line, img, pts in entries
            ],
            str(file),
            **common,
        )
