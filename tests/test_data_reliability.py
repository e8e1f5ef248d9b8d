"""Label and image files that are hostile, odd or wrong: read safely, or refused in one line naming the file."""

import inspect
import json
import pathlib
import pickle
import re
import shutil
import struct
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from test_data_formats import all_samples, write_coco, write_dlc, write_dlc_h5, write_images, write_plain

from seqattn.data.formats.coco import COCOSource
from seqattn.data.formats.csv_table import CSVSource
from seqattn.data.formats.dlc import DLCSource
from seqattn.errors import DataError
from seqattn.io.hdf import read_pose_table
from seqattn.io.images import MAX_IMAGE_PIXELS, read_image

# ---------------------------------------------------------------- pandas HDF tables, never unpickled


def pose_frame(index) -> pd.DataFrame:
    columns = pd.MultiIndex.from_product(
        [["me"], ["snout", "tail"], ["x", "y", "likelihood"]], names=["scorer", "bodyparts", "coords"]
    )
    values = np.arange(len(index) * 6, dtype=np.float64).reshape(len(index), 6) / 4
    values[1, 2] = np.nan
    return pd.DataFrame(values, index=index, columns=columns)


INDEXES = {
    "strings": pd.Index(["labeled-data/v/img0.png", "labeled-data/v/img1.png", "labeled-data/w/é.png"]),
    "dlc2.2-tuples": pd.MultiIndex.from_tuples(
        [("labeled-data", "v", "img0.png"), ("labeled-data", "v", "img1.png"), ("labeled-data", "w", "é.png")]
    ),
    "range": pd.RangeIndex(3),
}


@pytest.mark.parametrize("fmt", ["fixed", "table"])
@pytest.mark.parametrize("index", INDEXES.keys())
def test_pose_tables_read_like_pandas(tmp_path, fmt, index):
    if fmt == "table" and index == "dlc2.2-tuples":
        pytest.skip("pandas writes no table format with MultiIndex rows and columns")
    path = tmp_path / "t.h5"
    pose_frame(INDEXES[index]).to_hdf(path, key="df_with_missing", mode="w", format=fmt)
    expected = pd.read_hdf(path, "df_with_missing")
    table = read_pose_table(path)
    assert table.columns == list(expected.columns)
    assert table.column_names == list(expected.columns.names)
    assert table.index == list(expected.index)
    assert table.values.dtype == np.float64
    assert np.array_equal(table.values, expected.to_numpy(), equal_nan=True)


class Payload:
    """Pickles to a call that creates ``marker``: what a crafted file could do on unpickling."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def test_object_block_of_a_fixed_table_is_refused_unread(tmp_path):
    path, marker = tmp_path / "CollectedData_me.h5", tmp_path / "marker"
    frame = pose_frame(INDEXES["strings"])
    frame[("me", "evil", "x")] = [Payload(marker)] * 3  # an object block: pandas stores it as a pickle
    with pytest.warns(pd.errors.PerformanceWarning):
        frame.to_hdf(path, key="df_with_missing", mode="w")
    for read in (lambda: read_pose_table(path), lambda: DLCSource(str(path))):
        with pytest.raises(DataError, match=r"CollectedData_me.h5: refused: .*pickled Python objects") as err:
            read()
        assert "\n" not in str(err.value)
    assert not marker.exists()
    pd.read_hdf(path, "df_with_missing")  # the premise: pandas runs the payload
    assert marker.exists()


def test_pickled_attribute_of_a_table_format_file_is_refused_unread(tmp_path):
    h5py = pytest.importorskip("h5py")
    path, marker = tmp_path / "CollectedData_me.h5", tmp_path / "marker"
    pose_frame(INDEXES["range"]).to_hdf(path, key="df_with_missing", mode="w", format="table")
    with h5py.File(path, "r+") as f:
        f["df_with_missing"].attrs["non_index_axes"] = np.bytes_(pickle.dumps(Payload(marker), protocol=0))
    with pytest.raises(DataError, match=r"CollectedData_me.h5: refused: .*non_index_axes.*pickle"):
        read_pose_table(path)
    assert not marker.exists()
    pd.read_hdf(path, "df_with_missing")  # the premise: pandas (PyTables) unpickles the attribute
    assert marker.exists()


def test_table_that_is_not_understood_is_one_line(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "labels.h5"
    with h5py.File(path, "w") as f:
        f.create_group("df_with_missing").attrs["pandas_type"] = np.bytes_(b"series")
    with pytest.raises(DataError, match=r"labels.h5: not a pandas pose table with key 'df_with_missing'"):
        read_pose_table(path)


# ---------------------------------------------------------------- image paths that leave the dataset root


@pytest.fixture
def project(tmp_path):
    """Twelve small images under labeled-data/vid1/ and their labels in every format."""
    samples = write_images(tmp_path)
    for fmt in ("dlc-csv", "coco", "csv"):
        write_format(fmt, tmp_path, samples)
    return tmp_path, samples


def write_format(fmt: str, root: Path, samples) -> tuple[Path, str]:
    """Labels of ``samples`` in format ``fmt`` -> (the file, where its first sample is listed)."""
    dlc = root / "labeled-data" / "vid1" / "CollectedData_me.csv"
    if fmt == "dlc-csv":
        write_dlc(dlc, samples)
        return dlc, r"CollectedData_me\.csv: row 4"
    if fmt == "dlc-h5":
        write_dlc_h5(dlc.with_suffix(".h5"), samples, split_index=False)
        dlc.unlink()
        return dlc.with_suffix(".h5"), r"CollectedData_me\.h5: row 4"
    if fmt == "coco":
        write_coco(root / "coco.json", samples)
        return root / "coco.json", r"coco\.json: images\[0\] file_name"
    write_plain(root / "labels.csv", samples)
    return root / "labels.csv", r"labels\.csv: row 2"


SOURCES = {"dlc-csv": DLCSource, "dlc-h5": DLCSource, "coco": COCOSource, "csv": CSVSource}


@pytest.mark.parametrize("kind", ["dotdot", "absolute"])
@pytest.mark.parametrize("fmt", SOURCES.keys())
def test_image_paths_outside_the_root_are_refused_unless_allowed(project, fmt, kind):
    root, samples = project
    outside = root.parent / f"{root.name}-outside.png"
    shutil.copy(root / samples[0][0], outside)
    written = f"../{outside.name}" if kind == "dotdot" else str(outside)
    file, where = write_format(fmt, root, [(written, *samples[0][1:]), *samples[1:]])
    with pytest.raises(DataError, match=where + r": image path .*" + re.escape(written) + r".* outside") as err:
        SOURCES[fmt](str(file))
    assert "data.source.allow_outside_root" in str(err.value) and "\n" not in str(err.value)
    allowed = SOURCES[fmt](str(file), allow_outside_root=True)
    assert written in {e.image_key for split in allowed.splits().values() for e in split.entries}


def test_symlinks_are_resolved_on_both_sides(project):
    root, samples = project
    outside = root.parent / f"{root.name}-outside.png"
    image = root / samples[0][0]
    shutil.move(image, outside)
    image.symlink_to(outside)  # a link inside the root to a file outside it
    with pytest.raises(DataError, match=r"CollectedData_me\.csv: row 4: image path .*img00\.png.* outside"):
        DLCSource(str(root))
    image.unlink()
    shutil.move(outside, image)
    linked_root = root.parent / f"{root.name}-link"
    linked_root.symlink_to(root)  # a root reached through a link is still the root
    assert len(all_samples(DLCSource(str(linked_root)))) == len(samples)


# ---------------------------------------------------------------- files that are not text, or not what they claim


def test_label_files_that_are_not_utf8_are_one_line(project):
    root, samples = project
    split = root / "split.json"
    split.write_text(json.dumps({"train": ["a"], "val": ["b"], "test": ["c"]}))
    for file, read in [
        (root / "labeled-data" / "vid1" / "CollectedData_me.csv", lambda: DLCSource(str(root))),
        (root / "labels.csv", lambda: CSVSource(str(root / "labels.csv"))),
        (root / "coco.json", lambda: COCOSource(str(root / "coco.json"))),
        (split, lambda: DLCSource(str(root), split_file=str(split))),
    ]:
        original = file.read_bytes()
        file.write_bytes(original.replace(b"a", "\u00e9".encode("latin-1"), 1))  # what a Windows editor may save
        with pytest.raises(DataError, match=re.escape(str(file)) + r": not UTF-8 text \(line \d+, byte \d+") as err:
            read()
        assert "\n" not in str(err.value)
        file.write_bytes(original)


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


def test_label_file_name_that_is_a_folder_is_one_line(project):
    root, _ = project
    folder = root / "labeled-data" / "vid2" / "CollectedData_me.csv"
    folder.mkdir(parents=True)
    with pytest.raises(DataError, match=r"vid2/CollectedData_me\.csv: a folder"):
        DLCSource(str(root))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_floating_point_tiff_is_scaled_to_bytes(tmp_path, dtype):
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    cv2.imwrite(str(tmp_path / "unit.tif"), grey.astype(dtype) / 255)  # values in [0, 1]: x 255
    assert np.array_equal(read_image(tmp_path / "unit.tif")[:, :, 0], grey)
    cv2.imwrite(str(tmp_path / "range.tif"), grey.astype(dtype) * 10 - 300)  # any other range: min to max
    scaled = read_image(tmp_path / "range.tif")[:, :, 0]
    assert (
        scaled.min() == 0
        and scaled.max() == 255
        and np.abs(scaled - grey.astype(float) * 255 / grey.max()).max() <= 0.5
    )


# ---------------------------------------------------------------- silent data errors


def test_plain_csv_with_a_repeated_keypoint_name_is_refused(project):
    root, _ = project
    rows = (root / "labels.csv").read_text().splitlines()
    rows[0] = rows[0].replace("left_ear", "snout")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"labels\.csv: header row: keypoint name\(s\) 'snout' name several columns"):
        CSVSource(str(root / "labels.csv"))


def test_image_listed_twice_in_one_split_is_refused(project):
    root, samples = project
    names = [n for n, _, _ in samples]
    split = root / "split.json"
    split.write_text(json.dumps({"train": names[:8] + [names[3]], "val": names[8:10], "test": names[10:]}))
    with pytest.raises(DataError, match=r"split\.json: split 'train' lists 1 image\(s\) more than once: .*img03"):
        DLCSource(str(root), split_file=str(split))


# ---------------------------------------------------------------- valid images with trailing data


def encoded(suffix: str) -> bytes:
    image = (np.random.default_rng(0).random((12, 16, 3)) * 255).astype(np.uint8)
    return cv2.imencode(suffix, image)[1].tobytes()


@pytest.mark.parametrize(
    "name, content",
    [
        ("after_iend.png", lambda: encoded(".png") + b"trailing bytes"),
        ("after_eoi.jpg", lambda: encoded(".jpg") + b"\x00\x00" + encoded(".jpg") + b"phone data"),
        ("jpeg_named.png", lambda: encoded(".jpg")),
        ("png_named.jpg", lambda: encoded(".png")),
    ],
)
def test_images_with_data_after_their_end_or_another_suffix_are_read(tmp_path, name, content):
    (tmp_path / name).write_bytes(content())
    assert read_image(tmp_path / name).shape == (12, 16, 3)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_images_are_still_refused(tmp_path, suffix):
    whole = encoded(suffix)
    for cut in (len(whole) // 2, len(whole) - 2):
        (tmp_path / f"cut{suffix}").write_bytes(whole[:cut])
        with pytest.raises(DataError, match=r"(truncated|unreadable).*cut\."):
            read_image(tmp_path / f"cut{suffix}")


# ---------------------------------------------------------------- images too large to decode


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG header declaring width x height grey pixels, with a tiny image data chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def test_image_declaring_a_huge_size_is_refused_before_decoding(project):
    root, samples = project
    bomb = root / samples[0][0]
    bomb.write_bytes(png_declaring(50000, 50000))
    start = time.perf_counter()
    for read in (lambda: read_image(bomb), lambda: DLCSource(str(root))):
        with pytest.raises(DataError, match=re.escape(str(bomb)) + r" declares 50000x50000 .*max_image_pixels"):
            read()
    assert time.perf_counter() - start < 2


def test_pixel_limit_is_a_setting_that_reaches_every_read(project):
    root, samples = project
    with pytest.raises(DataError, match=r"declares \d+x\d+ = \d+ pixels, above the limit of 100 "):
        DLCSource(str(root), max_image_pixels=100)
    source = DLCSource(str(root), max_image_pixels=81 * 53)  # the largest image passes
    train = source.splits()["train"]
    train.max_pixels = 100  # what LabelledImages reads each image with
    with pytest.raises(DataError, match=r"above the limit of 100 "):
        train[0]


@pytest.mark.parametrize("fmt", ["dlc", "csv", "coco"])
def test_new_settings_default_like_the_code(fmt):
    from omegaconf import OmegaConf

    source = OmegaConf.load(Path(__file__).parents[1] / "conf" / "data" / f"{fmt}.yaml").source
    parameters = inspect.signature({"dlc": DLCSource, "csv": CSVSource, "coco": COCOSource}[fmt]).parameters
    for setting in ("allow_outside_root", "max_image_pixels"):
        assert source[setting] == parameters[setting].default
    assert source.max_image_pixels == MAX_IMAGE_PIXELS


@pytest.mark.parametrize("record", ['{"x": "not points"}', "[1, 2]", "{not json"])
def test_a_corrupt_machine_label_record_stops_training_in_one_line(project, record):
    root, _ = project
    (root / "labeled-data" / "vid1" / "machine_labels.json").write_text(record)
    with pytest.raises(DataError, match=r"machine_labels.json: .*(fix or remove)"):
        DLCSource(str(root))
