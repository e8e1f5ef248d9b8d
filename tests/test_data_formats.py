"""The three label formats on files the test writes: same samples from each, and clear errors."""

import csv
import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from train_helpers import epe_from_per_image

from seqattn.data.formats.coco import COCOSource
from seqattn.data.formats.csv_table import CSVSource
from seqattn.data.formats.dlc import DLCSource
from seqattn.data.synthetic.dataset import SyntheticSource
from seqattn.errors import DataError
from seqattn.training.train import train

NAMES = ["snout", "left_ear", "right_ear", "neck"]
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write_images(root: Path, n: int = 12) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Rendered images of two sizes, grey and colour, PNG and JPEG -> [(relative path, image, points)]."""
    out = []
    small = SyntheticSource(num_train=n, width=70, height=50, num_keypoints=4, seed=1).splits()["train"]
    large = SyntheticSource(num_train=n, width=53, height=81, num_keypoints=4, seed=2).splits()["train"]
    folder = root / "labeled-data" / "vid1"
    folder.mkdir(parents=True)
    for i in range(n):
        s = (small if i % 2 else large)[i]
        image = s.image if i % 3 else s.image.mean(2, keepdims=True).astype(np.uint8).repeat(3, 2)
        name = f"labeled-data/vid1/img{i:02d}.{'jpg' if i % 4 == 1 else 'png'}"
        cv2.imwrite(str(root / name), image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 100])
        out.append((name, image, s.keypoints))
    return out


def cell(v: float) -> str:
    return "" if np.isnan(v) else repr(float(v))


def write_dlc(path: Path, samples, names=NAMES, scorer="me") -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scorer"] + [scorer] * 2 * len(names))
        w.writerow(["bodyparts"] + [n for n in names for _ in (0, 1)])
        w.writerow(["coords"] + ["x", "y"] * len(names))
        for name, _, pts in samples:
            w.writerow([name] + [cell(v) for v in pts.reshape(-1)])


def write_coco(path: Path, samples) -> None:
    images, anns = [], []
    for i, (name, image, pts) in enumerate(samples):
        images.append({"id": i, "file_name": name, "width": image.shape[1], "height": image.shape[0]})
        kps = []
        for x, y in pts:
            kps += [0, 0, 0] if np.isnan(x) else [float(x), float(y), 2]
        anns.append({"id": 100 + i, "image_id": i, "category_id": 1, "keypoints": kps, "bbox": [0, 0, 10, 10]})
    cats = [{"id": 1, "name": "creature", "keypoints": NAMES}]
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))


def write_plain(path: Path, samples, header: bool = True) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        if header:
            w.writerow(["image"] + [f"{n}_{a}" for n in NAMES for a in "xy"])
        for name, _, pts in samples:
            w.writerow([name] + [cell(v) for v in pts.reshape(-1)])


@pytest.fixture
def project(tmp_path):
    samples = write_images(tmp_path)
    write_dlc(tmp_path / "labeled-data" / "vid1" / "CollectedData_me.csv", samples)
    write_coco(tmp_path / "coco.json", samples)
    write_plain(tmp_path / "labels.csv", samples)
    return tmp_path, samples


def all_samples(source) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for split in source.splits().values():
        for i in range(len(split)):
            s = split[i]
            out[s.name] = (s.image, s.keypoints)
    return out


def test_dlc_coco_and_plain_csv_give_the_same_samples(project):
    root, samples = project
    sources = [
        DLCSource(str(root)),
        DLCSource(str(root / "labeled-data" / "vid1" / "CollectedData_me.csv")),
        COCOSource(str(root / "coco.json")),
        CSVSource(str(root / "labels.csv")),
    ]
    reference = all_samples(sources[0])
    assert len(reference) == len(samples)
    for name, image, pts in samples:
        got_image, got_pts = reference[name]
        assert got_image.shape == image.shape and np.array_equal(got_pts, pts, equal_nan=True)
    for source in sources:
        assert source.keypoint_names == NAMES
        assert source.flip_pairs == [(1, 2)]
        got = all_samples(source)
        assert got.keys() == reference.keys()
        for name in got:
            assert np.array_equal(got[name][0], reference[name][0])
            assert np.array_equal(got[name][1], reference[name][1], equal_nan=True)
        # seeded fractions: the same split for every format
        assert {s: sorted(x.name for x in v.entries) for s, v in source.splits().items()} == {
            s: sorted(x.name for x in v.entries) for s, v in sources[0].splits().items()
        }


def write_dlc_h5(path: Path, samples, split_index: bool = True, scorer: str = "me") -> None:
    """DeepLabCut's own label file: a pandas HDF table, key df_with_missing, columns scorer /
    bodyparts / coords; DeepLabCut 2.2+ splits the image path into (labeled-data, video, file)."""
    pd = pytest.importorskip("pandas")
    columns = pd.MultiIndex.from_product([[scorer], NAMES, ["x", "y"]], names=["scorer", "bodyparts", "coords"])
    names = [name for name, _, _ in samples]
    index = pd.MultiIndex.from_tuples([tuple(n.split("/")) for n in names]) if split_index else pd.Index(names)
    values = np.stack([pts.reshape(-1) for _, _, pts in samples])
    pd.DataFrame(values, index=index, columns=columns).to_hdf(path, key="df_with_missing", mode="w")


def test_csv_with_a_byte_order_mark_reads_like_one_without(project):
    root, samples = project
    for file in (root / "labeled-data" / "vid1" / "CollectedData_me.csv", root / "labels.csv"):
        file.write_text(file.read_text(), encoding="utf-8-sig")  # what spreadsheets save as "CSV UTF-8"
        assert file.read_bytes().startswith(b"\xef\xbb\xbf")
    reference = {name: pts for name, _, pts in samples}
    for source in (DLCSource(str(root)), CSVSource(str(root / "labels.csv"))):
        assert source.keypoint_names == NAMES
        got = {name: pts for name, (_, pts) in all_samples(source).items()}
        assert got.keys() == reference.keys()
        assert all(np.array_equal(got[n], reference[n], equal_nan=True) for n in got)


@pytest.mark.parametrize("split_index", [True, False], ids=["dlc2.2-index", "string-index"])
def test_project_with_only_h5_labels_reads_like_its_csv(project, split_index):
    root, samples = project
    csv_file = root / "labeled-data" / "vid1" / "CollectedData_me.csv"
    from_csv = all_samples(DLCSource(str(root)))
    write_dlc_h5(csv_file.with_suffix(".h5"), samples, split_index)
    csv_file.unlink()
    for source in (DLCSource(str(root)), DLCSource(str(csv_file.with_suffix(".h5")))):
        got = all_samples(source)
        assert source.keypoint_names == NAMES and got.keys() == from_csv.keys()
        for name in got:
            assert np.array_equal(got[name][0], from_csv[name][0])
            assert np.array_equal(got[name][1], from_csv[name][1], equal_nan=True)


def test_h5_that_is_no_label_table_is_one_line(tmp_path):
    bad = tmp_path / "CollectedData_me.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(DataError, match=r"CollectedData_me.h5: not a DeepLabCut label file with key 'df_with_missing'"):
        DLCSource(str(bad))


def test_h5_only_project_trains(project, make_cfg):
    root, samples = project
    csv_file = root / "labeled-data" / "vid1" / "CollectedData_me.csv"
    write_dlc_h5(csv_file.with_suffix(".h5"), samples)
    csv_file.unlink()
    cfg = make_cfg("data=dlc", f"data.path={root}", "trainer.max_epochs=1", "data.num_workers=0")
    summary = train(cfg)
    # the labels read from the .h5 are the ones the test errors are measured against, point by point
    assert summary.test_metrics["test/epe_px"] == pytest.approx(epe_from_per_image(Path(cfg.paths.output_dir)))


def test_headerless_csv_names_keypoints_by_position(project):
    root, samples = project
    write_plain(root / "bare.csv", samples, header=False)
    bare = CSVSource(str(root / "bare.csv"))
    assert bare.keypoint_names == ["kp0", "kp1", "kp2", "kp3"]
    assert bare.flip_pairs is None  # unknown: flips are switched off
    assert CSVSource(str(root / "bare.csv"), flip_pairs=[["kp1", "kp2"]]).flip_pairs == [(1, 2)]


def test_split_file_is_honoured(project):
    root, samples = project
    names = [n for n, _, _ in samples]
    split = {"train": names[:8], "val": names[8:10], "test": names[10:]}
    (root / "splits.json").write_text(json.dumps(split))
    source = DLCSource(str(root), split_file=str(root / "splits.json"))
    for key, listed in split.items():
        assert [e.name for e in source.splits()[key].entries] == listed


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
    source = COCOSource(str(tmp_path / "c.json"), bbox_padding=0.1, split_fractions=(0.4, 0.3, 0.3))
    crops = [
        s
        for split in source.splits().values()
        for s in (split[i] for i in range(len(split)))
        if s.name.startswith(name)
    ]
    assert len(crops) == 2  # two instances of one image: auto mode crops
    crop = crops[0]
    left, top = max(0, int(np.floor(x0 - 0.1 * (x1 - x0)))), max(0, int(np.floor(y0 - 0.1 * (y1 - y0))))
    assert np.allclose(crop.keypoints, pts - [left, top], equal_nan=True)
    assert np.array_equal(crop.image, image[top : top + crop.image.shape[0], left : left + crop.image.shape[1]])


# --- bad input: one clear error naming the file and the row, column or key -------------------


def dlc_file(root: Path) -> Path:
    return root / "labeled-data" / "vid1" / "CollectedData_me.csv"


def edit_lines(path: Path, fn) -> None:
    lines = path.read_text().splitlines()
    fn(lines)
    path.write_text("\n".join(lines) + "\n")


def test_missing_image_file(project):
    root, _ = project
    os.remove(root / "labeled-data" / "vid1" / "img03.png")
    with pytest.raises(DataError, match=r"image file not found: .*img03\.png"):
        DLCSource(str(root))


def test_truncated_image(project):
    root, _ = project
    img = root / "labeled-data" / "vid1" / "img02.png"
    img.write_bytes(img.read_bytes()[:200])
    with pytest.raises(DataError, match=r"img02\.png"):
        DLCSource(str(root))


def test_row_with_wrong_number_of_columns(project):
    root, _ = project
    edit_lines(dlc_file(root), lambda ls: ls.__setitem__(5, ls[5] + ",1.0"))
    with pytest.raises(DataError, match=r"CollectedData_me\.csv: row 6 has 10 columns, the header has 9"):
        DLCSource(str(root))


def test_non_numeric_cell(project):
    root, _ = project
    edit_lines(
        root / "labels.csv",
        lambda ls: ls.__setitem__(3, ls[3].split(",")[0] + ",abc" + ls[3][ls[3].index(",", ls[3].index(",") + 1) :]),
    )
    with pytest.raises(DataError, match=r"labels\.csv: row 4, column 2: not a number: 'abc'"):
        CSVSource(str(root / "labels.csv"))


def test_missing_header_row(project):
    root, _ = project
    edit_lines(dlc_file(root), lambda ls: ls.pop(2))
    with pytest.raises(DataError, match=r"CollectedData_me\.csv: header row 'coords' missing"):
        DLCSource(str(root))


def test_merged_csvs_with_different_keypoint_names(project):
    root, samples = project
    (root / "labeled-data" / "vid2").mkdir()
    write_dlc(root / "labeled-data" / "vid2" / "CollectedData_me.csv", samples[:2], names=["a", "b", "c", "d"])
    with pytest.raises(DataError, match=r"vid2/CollectedData_me\.csv: keypoint names \['a', 'b', 'c', 'd'\] differ"):
        DLCSource(str(root))


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


def test_bad_split_files(project):
    root, samples = project
    names = [n for n, _, _ in samples]
    cases = [
        ({"train": names[:8], "val": [], "test": names[10:]}, r"split 'val' is empty"),
        (
            {"train": names[:8], "val": ["nope.png"], "test": names[10:]},
            r"split 'val' names 1 image\(s\) not in the labels: nope\.png",
        ),
        ({"train": names[:8], "val": names[7:9], "test": names[10:]}, r"is in both 'train' and 'val'"),
        ({"train": names[:8], "test": names[10:]}, r"missing key 'val'"),
    ]
    for split, message in cases:
        (root / "s.json").write_text(json.dumps(split))
        with pytest.raises(DataError, match=r"s\.json: .*" + message):
            DLCSource(str(root), split_file=str(root / "s.json"))


def test_keypoints_outside_the_image_are_masked_with_a_warning(project, caplog):
    root, samples = project
    name, image, pts = samples[0]
    moved = pts.copy()
    moved[0] = [image.shape[1] + 5.0, 3.0]
    samples[0] = (name, image, moved)
    write_plain(root / "labels.csv", samples)
    with caplog.at_level(logging.WARNING):
        source = CSVSource(str(root / "labels.csv"))
    assert "1 labelled keypoint(s) lie outside their image" in caplog.text
    assert np.isnan(all_samples(source)[name][1][0]).all()


def test_samples_without_any_label_are_skipped_with_a_warning(project, caplog):
    root, samples = project
    name, image, pts = samples[4]
    samples[4] = (name, image, np.full_like(pts, np.nan))
    write_plain(root / "labels.csv", samples)
    with caplog.at_level(logging.WARNING):
        source = CSVSource(str(root / "labels.csv"))
    assert f"skipping 1 sample(s) with no labelled keypoint: {name}" in caplog.text
    assert name not in all_samples(source)


# --- the shared real datasets ----------------------------------------------------------------


def shared_or_skip(name: str) -> Path:
    path = SHARED / name
    if not path.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the shared dataset {path} is missing")
        pytest.skip(f"shared dataset not found at {path} (it lives beside the project, in ../shared/data)")
    return path


@pytest.mark.parametrize(
    "name, keypoints, sizes, image_shape",
    [("openfield", 4, (81, 12, 23), (480, 640, 3)), ("mirror-mouse", 17, (63, 9, 18), (406, 396, 3))],
)
def test_shared_datasets_load_with_their_fixed_splits(name, keypoints, sizes, image_shape):
    path = shared_or_skip(name)
    source = DLCSource(str(path), split_file=str(path / "splits.json"))
    assert len(source.keypoint_names) == keypoints
    assert tuple(len(source.splits()[s]) for s in ("train", "val", "test")) == sizes
    sample = source.splits()["test"][0]
    assert sample.image.shape == image_shape
    assert np.isfinite(sample.keypoints).any()
