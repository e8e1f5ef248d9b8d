"""COCO keypoints JSON: ``images``, ``annotations`` ([x, y, v] * K; v = 0 is not labelled) and
``categories[].keypoints`` (the names). One sample per annotation, optionally cropped to its box;
with ``crop_to_bbox: auto`` an image with several annotations is a frame of several animals (a
crop around each animal's anchor, seqattn.data.instances), each tracked by its annotation's
``track_id`` (or ``instance_id``) where it has one.

COCO keypoints are pixel indices (pixel centre at the integer), the codec's convention.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from seqattn.data.formats.label_files import Entry, crop_box, image_path, read_json, resolve_image_root
from seqattn.data.formats.labels import LabelledSource
from seqattn.errors import ConfigError, DataError
from seqattn.io.images import declared_size

_ID = (int, float, str)  # what COCO ids may be: JSON numbers or strings


def _require(obj: Any, key: str, where: str, kind: type | tuple[type, ...] = object, what: str = "") -> Any:
    """``obj[key]``, a DataError naming ``where`` when ``obj`` is no object, lacks ``key`` or its value
    is not of ``kind`` (``what`` describes it)."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected an object, got {_json_type(obj)}")
    if key not in obj:
        raise DataError(f"{where}: missing key '{key}'")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise DataError(f"{where}: '{key}' is {_json_type(value)}, expected {what}")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _track(annotation: dict, where: str) -> str | None:
    """The animal's identity: the annotation's ``track_id``, else its ``instance_id``, else None."""
    for key in ("track_id", "instance_id"):
        if annotation.get(key) is not None:
            return str(_require(annotation, key, where, _ID, "a number or a string"))
    return None


class COCOSource(LabelledSource):
    """COCO keypoints labels. ``crop_to_bbox``: true (each annotation cropped to its box grown by
    ``bbox_padding``), false, or "auto": images with several annotated animals become whole frames
    and one crop per animal (seqattn.data.instances), others whole images."""

    def __init__(
        self,
        path: str,
        image_root: str | None = None,
        crop_to_bbox: bool | str = "auto",
        bbox_padding: float = 0.25,
        category_id: int | None = None,
        allow_outside_root: bool = False,
        **common: Any,
    ) -> None:
        file = Path(path)
        if not file.is_file():
            raise DataError(f"COCO JSON not found: {file}")
        data = read_json(file)
        categories = _require(data, "categories", str(file), list, "a list")
        images = _require(data, "images", str(file), list, "a list")
        annotations = _require(data, "annotations", str(file), list, "a list")
        for i, c in enumerate(categories):
            if not isinstance(c, dict):
                raise DataError(f"{file}: categories[{i}] is {_json_type(c)}, expected an object")
        with_kps = [c for c in categories if "keypoints" in c and (category_id is None or c.get("id") == category_id)]
        if not with_kps:
            raise DataError(
                f"{file}: no category with a 'keypoints' list" + (f" and id {category_id}" if category_id else "")
            )
        category = with_kps[0]
        where = f"{file}: categories[{categories.index(category)}]"
        names = _require(category, "keypoints", where, list, "a list of keypoint names")
        if not all(isinstance(n, str) for n in names):
            raise DataError(f"{where}: 'keypoints' holds a value that is not a name (a string)")
        k = len(names)

        by_id: dict[Any, tuple[str, str]] = {}  # image id -> (file_name, where it is listed)
        for i, img in enumerate(images):
            where = f"{file}: images[{i}]"
            image_id = _require(img, "id", where, _ID, "a number or a string")
            by_id[image_id] = (_require(img, "file_name", where, str, "a string"), where)
        anns = []
        for i, a in enumerate(annotations):
            where = f"{file}: annotations[{i}]"
            _require(a, "image_id", where, _ID, "a number or a string")
            if a.get("category_id", category.get("id")) == category.get("id"):
                anns.append((f"{where} (id {a.get('id', '?')})", a))
        per_image: dict[Any, int] = {}
        for _, a in anns:
            per_image[a["image_id"]] = per_image.get(a["image_id"], 0) + 1
        if crop_to_bbox not in (True, False, "auto"):
            raise ConfigError(f"data.source.crop_to_bbox must be true, false or auto, got {crop_to_bbox!r}")
        crop = crop_to_bbox is True

        entries = []
        root = resolve_image_root(file, [name for name, _ in by_id.values()], image_root)
        for i, (where, a) in enumerate(anns):
            image_id = a["image_id"]
            if image_id not in by_id:
                raise DataError(f"{where}: image_id {image_id} is not in 'images'")
            kps = _require(a, "keypoints", where, list, f"a list of 3 x {k} numbers")
            if len(kps) != 3 * k:
                got = len(kps)
                raise DataError(f"{where}: 'keypoints' has {got} values, expected 3 x {k} ([x, y, v] per keypoint)")
            if not all(_is_number(v) for v in kps):
                raise DataError(f"{where}: 'keypoints' holds a value that is not a number")
            triples = np.asarray(kps, dtype=np.float64).reshape(k, 3)
            points = triples[:, :2].copy()
            points[triples[:, 2] <= 0] = np.nan
            file_name, listed = by_id[image_id]
            path = image_path(root, file_name, f"{listed} file_name", allow_outside_root)
            box = None
            if crop:
                bbox = _require(a, "bbox", where, list, "a list [x, y, width, height]")
                if len(bbox) != 4 or not all(_is_number(v) for v in bbox):
                    raise DataError(f"{where}: 'bbox' is not four numbers [x, y, width, height]")
                size = declared_size(path)
                box = crop_box(bbox, bbox_padding, *size) if size else None
            name = f"{file_name}#{a.get('id', i)}" if crop or per_image[image_id] > 1 else file_name
            entries.append(
                Entry(name=name, image_key=file_name, path=path, keypoints=points, crop=box, track=_track(a, where))
            )
        if not entries:
            raise DataError(f"{file}: no annotation of category '{category.get('name', category.get('id'))}'")
        self._build(names, entries, str(file), **common)
