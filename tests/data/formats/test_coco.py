"""seqattn.data.formats.coco: COCO keypoint files, crops to their boxes, fields of the wrong type."""

import json

import numpy as np
import pytest
from helpers import NAMES, write_images

from seqattn.data.formats.coco import COCOSource
from seqattn.errors import DataError


def test_coco_crops_instances_to_their_padded_box(tmp_path):
    samples = write_images(tmp_path, n=6)
    name, image, pts = samples[0]
    images = [{"id": 0, "file_name": name}]
    visible = pts[np.isfinite(pts).all(1)]
    x0, y0 = visible.min(0)
    x1, y1 = visible.max(0)

    def coco_kps(points):
        return [v for x, y in points for v in ((0, 0, 0) if np.isnan(x) else (x, y, 2))]

    box = [x0, y0, x1 - x0, y1 - y0]
    anns = [{"id": k, "image_id": 0, "category_id": 1, "keypoints": coco_kps(pts), "bbox": box} for k in (1, 2)]
    for i in range(1, 6):  # more images so that every split gets one
        other = samples[i]
        images.append({"id": i, "file_name": other[0]})
        whole = [0, 0, other[1].shape[1], other[1].shape[0]]
        anns.append({"id": 10 + i, "image_id": i, "category_id": 1, "keypoints": coco_kps(other[2]), "bbox": whole})
    (tmp_path / "c.json").write_text(
        json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "keypoints": NAMES}]})
    )
    source = COCOSource(str(tmp_path / "c.json"), crop_to_bbox=True, bbox_padding=0.1, split_fractions=(0.4, 0.3, 0.3))
    crops = [
        s
        for split in source.splits().values()
        for s in (split[i] for i in range(len(split)))
        if s.name.startswith(name)
    ]
    assert len(crops) == 2  # two instances of one image, each cropped to its box
    crop = crops[0]
    left, top = max(0, int(np.floor(x0 - 0.1 * (x1 - x0)))), max(0, int(np.floor(y0 - 0.1 * (y1 - y0))))
    assert np.allclose(crop.keypoints, pts - [left, top], equal_nan=True)
    assert np.array_equal(crop.image, image[top : top + crop.image.shape[0], left : left + crop.image.shape[1]])


def test_coco_missing_key_and_wrong_keypoint_length(project):
    root, _ = project
    data = json.loads((root / "coco.json").read_text())
    data["annotations"][3]["keypoints"] = data["annotations"][3]["keypoints"][:-3]
    (root / "bad.json").write_text(json.dumps(data))
    with pytest.raises(
        DataError, match=r"bad\.json: annotations\[3\] \(id 103\): 'keypoints' has 9 values, expected 3 x 4"
    ):
        COCOSource(str(root / "bad.json"))
    del data["annotations"]
    (root / "bad.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"bad\.json: missing key 'annotations'"):
        COCOSource(str(root / "bad.json"))


COCO_DAMAGE = {
    "images-not-a-list": (lambda d: d.update(images={"0": d["images"][0]}), r"'images' is an object, expected a list"),
    "annotation-is-a-list": (
        lambda d: d["annotations"].__setitem__(2, [1, 2]),
        r"annotations\[2\]: expected an object",
    ),
    "categories-of-strings": (lambda d: d.update(categories=["creature"]), r"categories\[0\] is a string"),
    "list-image-id": (lambda d: d["annotations"][1].update(image_id=[1]), r"annotations\[1\]: 'image_id' is a list"),
    "string-bbox": (lambda d: d["annotations"][0].update(bbox="0 0 9 9"), r"annotations\[0\] \(id 100\): 'bbox' is a"),
    "numeric-file-name": (lambda d: d["images"][3].update(file_name=7), r"images\[3\]: 'file_name' is a number"),
    "string-keypoints": (lambda d: d["annotations"][0].update(keypoints="1 2 2"), r"'keypoints' is a string"),
    "names-not-strings": (lambda d: d["categories"][0].update(keypoints=[1, 2, 3, 4]), r"not a name"),
}


@pytest.mark.parametrize("damage", COCO_DAMAGE.keys())
def test_coco_fields_of_the_wrong_type_are_one_line(project, damage):
    root, _ = project
    data = json.loads((root / "coco.json").read_text())
    change, message = COCO_DAMAGE[damage]
    change(data)
    (root / "bad.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"bad\.json: .*" + message):
        COCOSource(str(root / "bad.json"), crop_to_bbox=True)


def two_animal_coco(root, n: int = 6) -> tuple[str, list[str]]:
    """A COCO file of ``n`` images with two animals each (tracked by ``track_id`` in one half of the
    images, by ``instance_id`` in the other) -> (its path, image names)."""
    shape = np.array([[0.0, 0.0], [4.0, 2.0], [2.0, 6.0], [6.0, 8.0]])
    images, anns = [], []
    for i, (name, _, _) in enumerate(write_images(root, n)):
        images.append({"id": i, "file_name": name})
        for j, points in enumerate((shape + [5 + i, 5], shape * 1.5 + [28, 30 - i])):
            kps = [v for x, y in points for v in (x, y, 2)]
            key = "track_id" if i % 2 else "instance_id"
            anns.append({"id": 10 * i + j, "image_id": i, "category_id": 1, "keypoints": kps, key: 7 + 2 * j})
    (root / "two.json").write_text(
        json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "keypoints": NAMES}]})
    )
    return str(root / "two.json"), [image["file_name"] for image in images]


def test_coco_images_with_several_annotations_are_frames_of_tracked_animals(tmp_path):
    path, names = two_animal_coco(tmp_path)
    source = COCOSource(path)  # crop_to_bbox: auto
    assert source.layout is not None and source.layout.max_animals == 2
    frames = source.frames()
    assert sum(len(f) for f in frames.values()) == len(names)
    tracks = [f.labels(i).tracks for f in frames.values() for i in range(len(f))]
    assert tracks == [["7", "9"]] * len(names)
    crops = [split[i] for split in source.splits().values() for i in range(len(split))]
    assert len(crops) == 2 * len(names)
    assert {c.name.rsplit("#", 1)[1] for c in crops} == {"7", "9"}


def test_coco_crops_centre_on_the_anchor_part(tmp_path):
    path, _ = two_animal_coco(tmp_path)
    source = COCOSource(path, anchor="neck")
    side = source.layout.crop_px
    crops = [split[i] for split in source.splits().values() for i in range(len(split))]
    assert len(crops) == 12 and source.layout.anchor == "neck"
    for crop in crops:  # the neck's point maps to the crop's centre pixel
        assert np.abs(crop.keypoints[NAMES.index("neck")] - (side - 1) / 2).max() <= 1.0
        assert np.abs(crop.keypoints[NAMES.index("snout")] - (side - 1) / 2).max() > 1.0
