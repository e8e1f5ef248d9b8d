"""Parsing label files into ``Entry`` rows: UTF-8 text, CSV and JSON, number cells, crops, image paths.

What goes wrong is a ``DataError`` naming the file (and the row, where there is one).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from seqattn.errors import DataError
from seqattn.io.images import read_image


class FrameReader(Protocol):
    """An image that is no file of its own (a video frame, an image inside a SLEAP package)."""

    def read(self, max_pixels: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB; a DataError naming the file when it cannot be read."""
        ...


@dataclass
class Entry:
    """One labelled sample as a reader parsed it: what ``LabelledSource`` checks and splits."""

    name: str  # unique sample id (the image path as written; + "#<annotation id>" for COCO instances)
    image_key: str  # the image path as written in the labels: what split files list
    path: Path  # the image file
    keypoints: np.ndarray  # (K, 2) original pixels (pixel centre at integer), NaN = not labelled
    crop: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 in the image, or the whole image
    frame: FrameReader | None = None  # reads the image when ``path`` is no image file (a video: SLEAP)
    track: str | None = None  # the animal's identity along the video (SLEAP track, DeepLabCut individual)
    alias: str | None = None  # another key split files may use for the image (the path sleap-io resolved)

    def read_image(self, max_pixels: int) -> np.ndarray:
        """The whole image, (H, W, 3) uint8 RGB (before any crop)."""
        return read_image(self.path, max_pixels) if self.frame is None else self.frame.read(max_pixels)


def read_text(path: Path) -> str:
    """A label file's text: UTF-8, with or without a byte order mark (spreadsheets' "CSV UTF-8"),
    line ends kept; a file that is no UTF-8 text, a folder or unreadable is a DataError naming it."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return f.read()
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        bad = exc.object[exc.start : exc.start + 1]
        raise DataError(f"{path}: not UTF-8 text (line {line}, byte {exc.start}: {bad!r}); save it as UTF-8") from None
    except IsADirectoryError:
        raise DataError(f"{path}: a folder, not a label file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def read_csv_rows(path: Path) -> list[list[str]]:
    """The rows of a UTF-8 CSV file (see ``read_text``)."""
    return list(csv.reader(io.StringIO(read_text(path), newline="")))


def read_json(path: Path) -> object:
    """A UTF-8 JSON file's content (see ``read_text``); invalid JSON is a DataError naming the file."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None


def parse_number(cell: str, where: str) -> float:
    """A coordinate cell: empty or "nan" is a missing label (NaN); anything else must be a number."""
    cell = cell.strip()
    if cell == "" or cell.lower() == "nan":
        return np.nan
    try:
        return float(cell)
    except ValueError:
        raise DataError(f"{where}: not a number: {cell!r}") from None


def crop_box(bbox: Sequence[float], padding: float, width: int, height: int) -> tuple[int, int, int, int]:
    """COCO [x, y, w, h] grown by ``padding`` x its size on every side, clipped to the image."""
    x, y, w, h = bbox
    px, py = padding * w, padding * h
    x0, y0 = max(0, int(np.floor(x - px))), max(0, int(np.floor(y - py)))
    x1, y1 = min(width, int(np.ceil(x + w + px))), min(height, int(np.ceil(y + h + py)))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def resolve_image_root(label_file: Path, images: Sequence[str], image_root: str | Path | None) -> Path:
    """Where image paths are relative to: ``image_root`` if given, else the label file's folder,
    else the DeepLabCut project root two levels above ``labeled-data/<video>/`` (the first of
    ``images`` that is a relative path tells which)."""
    if image_root is not None:
        root = Path(image_root)
        if not root.is_dir():
            raise DataError(f"image root is not a folder: {root}")
        return root
    first_image = next((i for i in images if not Path(i).is_absolute()), images[0] if images else "")
    candidates = [label_file.parent, label_file.parent.parent.parent]
    for root in candidates:
        if (root / first_image).is_file():
            return root
    return label_file.parent  # the missing image is then reported by check_images, with its path


def image_path(root: Path, image: str, where: str, allow_outside_root: bool) -> Path:
    """``root / image``; ``where`` (the label file and row) names it in a DataError when the path,
    symlinks resolved, leads outside ``root`` (``..``, an absolute path), unless ``allow_outside_root``."""
    path = root / image
    if not allow_outside_root and not path.resolve().is_relative_to(root.resolve()):
        raise DataError(
            f"{where}: image path {image!r} leads outside the image root {root}"
            " (data.source.allow_outside_root=true reads it anyway)"
        )
    return path
