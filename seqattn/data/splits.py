"""Train/val/test splits of labelled images: from a split file, or drawn with seeded fractions.

Samples are grouped by image, so every instance of one image lands in the same split.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seqattn.data.formats.label_files import Entry, read_json
from seqattn.errors import ConfigError, DataError

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


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
    aliases = {}  # another name of an image key -> the key
    for e in entries:
        by_image.setdefault(e.image_key, []).append(e)
        if e.alias is not None:
            aliases[e.alias] = e.image_key
    if split_file is not None:
        listed = {s: [aliases.get(k, k) for k in keys] for s, keys in read_split_file(split_file).items()}
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
