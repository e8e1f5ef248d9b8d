"""What the file readers share: labelled entries, image checks, splits and the source they make.

Every reader (DeepLabCut CSV, COCO JSON, plain CSV) only parses its format into ``Entry`` rows;
``LabelledSource`` then checks the images, masks impossible labels, applies the split and
exposes train/val/test. All checks run when the source is built, before training starts.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqattn.data.base import KeypointSource, RawSample, find_flip_pairs
from seqattn.data.images import MAX_IMAGE_PIXELS, read_image
from seqattn.errors import ConfigError, DataError

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


@dataclass
class Entry:
    name: str  # unique sample id (the image path as written; + "#<annotation id>" for COCO instances)
    image_key: str  # the image path as written in the labels: what split files list
    path: Path  # the image file
    keypoints: np.ndarray  # (K, 2) original pixels (pixel centre at integer), NaN = not labelled
    crop: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 in the image, or the whole image


class LabelledImages:
    """A split of labelled image files: reads (and crops) the image on each access."""

    def __init__(self, entries: list[Entry], max_pixels: int = MAX_IMAGE_PIXELS) -> None:
        self.entries = entries
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> RawSample:
        e = self.entries[index]
        image = read_image(e.path, self.max_pixels)
        points = e.keypoints
        if e.crop is not None:
            x0, y0, x1, y1 = e.crop
            image = image[y0:y1, x0:x1]
            points = points - np.array([x0, y0], dtype=np.float64)
        return RawSample(image=image, keypoints=points, name=e.name)


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


def check_images(entries: list[Entry], max_pixels: int = MAX_IMAGE_PIXELS) -> list[Entry]:
    """Decode every image once (missing/unreadable/truncated/above ``max_pixels`` -> DataError), mask
    labels outside the image (warning with the count) and drop samples left with no labelled keypoint (warning)."""
    sizes: dict[Path, tuple[int, int]] = {}
    outside_total, kept, empty = 0, [], []
    for e in entries:
        if e.path not in sizes:
            h, w = read_image(e.path, max_pixels).shape[:2]
            sizes[e.path] = (w, h)
        w, h = sizes[e.path]
        if e.crop is not None:
            x0, y0, x1, y1 = e.crop
            lo, hi = np.array([x0, y0]) - 0.5, np.array([min(x1, w), min(y1, h)]) - 0.5
        else:
            lo, hi = np.array([-0.5, -0.5]), np.array([w, h]) - 0.5
        labelled = np.isfinite(e.keypoints).all(1)
        outside = labelled & ((e.keypoints < lo) | (e.keypoints >= hi)).any(1)
        if outside.any():
            e.keypoints = e.keypoints.copy()
            e.keypoints[outside] = np.nan
            outside_total += int(outside.sum())
        (kept if np.isfinite(e.keypoints).all(1).any() else empty).append(e)
    if outside_total:
        log.warning(f"{outside_total} labelled keypoint(s) lie outside their image; they are masked as missing")
    if empty:
        shown = ", ".join(e.name for e in empty[:5]) + (" ..." if len(empty) > 5 else "")
        log.warning(f"skipping {len(empty)} sample(s) with no labelled keypoint: {shown}")
    return kept


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


def read_split_file(path: str | Path) -> dict[str, list[str]]:
    """{"train": [...], "val": [...], "test": [...]} of image keys; a split that lists an image twice is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"split file not found: {path}")
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected an object with keys {', '.join(SPLITS)}")
    for split in SPLITS:
        if split not in data:
            raise DataError(f"{path}: missing key '{split}'")
        if not isinstance(data[split], list) or not data[split]:
            raise DataError(f"{path}: split '{split}' is empty (or not a list)")
    splits = {split: [str(p) for p in data[split]] for split in SPLITS}
    for split, keys in splits.items():
        repeated = sorted(k for k, n in Counter(keys).items() if n > 1)
        if repeated:
            shown = ", ".join(repeated[:5]) + (" ..." if len(repeated) > 5 else "")
            raise DataError(f"{path}: split '{split}' lists {len(repeated)} image(s) more than once: {shown}")
    return splits


def assign_splits(
    entries: list[Entry],
    dropped: set[str],
    split_file: str | Path | None,
    fractions: Sequence[float],
    seed: int,
) -> dict[str, list[Entry]]:
    """Group entries by image into train/val/test: from ``split_file`` or seeded ``fractions``.

    ``dropped`` holds image keys skipped for having no labels; a split file may still list them.
    """
    by_image: dict[str, list[Entry]] = {}
    for e in entries:
        by_image.setdefault(e.image_key, []).append(e)
    if split_file is not None:
        listed = read_split_file(split_file)
        seen: dict[str, str] = {}
        for split, keys in listed.items():
            unknown = [k for k in keys if k not in by_image and k not in dropped]
            if unknown:
                shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
                raise DataError(
                    f"{split_file}: split '{split}' names {len(unknown)} image(s) not in the labels: {shown}"
                )
            for k in keys:
                if seen.setdefault(k, split) != split:
                    raise DataError(f"{split_file}: '{k}' is in both '{seen[k]}' and '{split}'")
        groups = {split: [k for k in keys if k in by_image] for split, keys in listed.items()}
        unused = len(by_image) - len(seen.keys() & by_image.keys())
        if unused:
            log.warning(f"{unused} labelled image(s) are in no split of {split_file}; they are not used")
    else:
        if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
            raise ConfigError(f"data.source.split_fractions must be three non-negative numbers, got {list(fractions)}")
        keys = sorted(by_image)
        order = np.random.default_rng(seed).permutation(len(keys))
        total = sum(fractions)
        n_val = max(1, round(len(keys) * fractions[1] / total))
        n_test = max(1, round(len(keys) * fractions[2] / total))
        if len(keys) < n_val + n_test + 1:
            raise DataError(f"only {len(keys)} labelled image(s): too few for train, val and test splits")
        shuffled = [keys[i] for i in order]
        groups = {
            "val": shuffled[:n_val],
            "test": shuffled[n_val : n_val + n_test],
            "train": shuffled[n_val + n_test :],
        }
    splits = {split: [e for k in groups[split] for e in by_image[k]] for split in SPLITS}
    for split, rows in splits.items():
        if not rows:
            raise DataError(f"split '{split}' has no labelled sample")
    return splits


class LabelledSource(KeypointSource):
    """A source made from parsed label entries; subclasses parse a format and call ``_build``."""

    def _build(
        self,
        names: list[str],
        entries: list[Entry],
        split_file: str | Path | None,
        split_fractions: Sequence[float],
        split_seed: int,
        flip_pairs: Sequence[Sequence[str]] | None,
        max_image_pixels: int = MAX_IMAGE_PIXELS,
    ) -> None:
        self.keypoint_names = list(names)
        self._flip_pairs = self._pairs_from_names(flip_pairs)
        kept = check_images(entries, max_image_pixels)
        kept_keys = {e.image_key for e in kept}
        dropped = {e.image_key for e in entries} - kept_keys
        self._splits = {
            s: LabelledImages(rows, max_image_pixels)
            for s, rows in assign_splits(kept, dropped, split_file, split_fractions, split_seed).items()
        }
        sizes = ", ".join(f"{s} {len(v)}" for s, v in self._splits.items())
        log.info(f"{len(names)} keypoints, samples: {sizes}")

    def _pairs_from_names(self, pairs: Sequence[Sequence[str]] | None) -> list[tuple[int, int]] | None:
        if pairs is None:  # auto: found from names, or unknown (None) if none are found
            return find_flip_pairs(self.keypoint_names) or None
        index = {n: i for i, n in enumerate(self.keypoint_names)}
        out = []
        for pair in pairs:
            if len(pair) != 2 or any(n not in index for n in pair):
                raise ConfigError(
                    f"data.source.flip_pairs: {list(pair)} is not a pair of keypoint names {self.keypoint_names}"
                )
            out.append((index[pair[0]], index[pair[1]]))
        return out

    @property
    def flip_pairs(self) -> list[tuple[int, int]] | None:
        return self._flip_pairs

    def splits(self) -> dict[str, LabelledImages]:
        return self._splits


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
