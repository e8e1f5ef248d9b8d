"""COCO keypoints JSON: ``images``, ``annotations`` ([x, y, v] * K; v = 0 is not labelled) and
``categories[].keypoints`` (the names). One sample per annotation, optionally cropped to its box.

COCO keypoints are pixel indices (pixel centre at the integer), the codec's convention.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seqattn.data.labels import Entry, LabelledSource, crop_box, resolve_image_root
from seqattn.errors import ConfigError, DataError


def _require(obj: dict, key: str, where: str) -> object:
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(f"{where}: missing key '{key}'")
    return obj[key]


class COCOSource(LabelledSource):
    """COCO keypoints labels. ``crop_to_bbox``: true, false, or "auto" (crop when an image holds
    several annotated instances, since a whole-image sample would then be ambiguous)."""

    def __init__(
        self,
        path: str,
        image_root: str | None = None,
        crop_to_bbox: bool | str = "auto",
        bbox_padding: float = 0.25,
        category_id: int | None = None,
        split_file: str | None = None,
        split_fractions: Sequence[float] = (0.7, 0.1, 0.2),
        split_seed: int = 0,
        flip_pairs: Sequence[Sequence[str]] | None = None,
    ) -> None:
        file = Path(path)
        if not file.is_file():
            raise DataError(f"COCO JSON not found: {file}")
        try:
            data = json.loads(file.read_text())
        except json.JSONDecodeError as exc:
            raise DataError(f"{file}: not valid JSON ({exc})") from exc
        categories = _require(data, "categories", str(file))
        images = _require(data, "images", str(file))
        annotations = _require(data, "annotations", str(file))
        with_kps = [c for c in categories if "keypoints" in c and (category_id is None or c.get("id") == category_id)]
        if not with_kps:
            raise DataError(
                f"{file}: no category with a 'keypoints' list" + (f" and id {category_id}" if category_id else "")
            )
        category = with_kps[0]
        names = [str(n) for n in category["keypoints"]]
        k = len(names)

        by_id = {}
        for i, img in enumerate(images):
            where = f"{file}: images[{i}]"
            by_id[_require(img, "id", where)] = str(_require(img, "file_name", where))
        anns = [a for a in annotations if a.get("category_id", category.get("id")) == category.get("id")]
        per_image: dict[int, int] = {}
        for a in anns:
            per_image[a.get("image_id")] = per_image.get(a.get("image_id"), 0) + 1
        if crop_to_bbox not in (True, False, "auto"):
            raise ConfigError(f"data.source.crop_to_bbox must be true, false or auto, got {crop_to_bbox!r}")
        crop = crop_to_bbox is True or (crop_to_bbox == "auto" and any(n > 1 for n in per_image.values()))

        entries = []
        root = None
        for i, a in enumerate(anns):
            where = f"{file}: annotations[{i}] (id {a.get('id', '?')})"
            image_id = _require(a, "image_id", where)
            if image_id not in by_id:
                raise DataError(f"{where}: image_id {image_id} is not in 'images'")
            kps = _require(a, "keypoints", where)
            if not isinstance(kps, list) or len(kps) != 3 * k:
                got = len(kps) if isinstance(kps, list) else type(kps).__name__
                raise DataError(f"{where}: 'keypoints' has {got} values, expected 3 x {k} ([x, y, v] per keypoint)")
            try:
                triples = np.asarray(kps, dtype=np.float64).reshape(k, 3)
            except (TypeError, ValueError):
                raise DataError(f"{where}: 'keypoints' holds a value that is not a number") from None
            points = triples[:, :2].copy()
            points[triples[:, 2] <= 0] = np.nan
            file_name = by_id[image_id]
            root = root or resolve_image_root(file, file_name, image_root)
            box = None
            if crop:
                bbox = _require(a, "bbox", where)
                h_w = _image_size(root / file_name)
                box = crop_box(bbox, bbox_padding, *h_w) if h_w else None
            name = f"{file_name}#{a.get('id', i)}" if crop or per_image[image_id] > 1 else file_name
            entries.append(Entry(name=name, image_key=file_name, path=root / file_name, keypoints=points, crop=box))
        if not entries:
            raise DataError(f"{file}: no annotation of category '{category.get('name', category.get('id'))}'")
        self._build(names, entries, split_file, split_fractions, split_seed, flip_pairs)


def _image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file header, or None if unreadable (reported later with its path)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except OSError:
        return None
