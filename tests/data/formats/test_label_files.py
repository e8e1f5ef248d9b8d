"""seqattn.data.formats.label_files: what every label format shares: text files (UTF-8, byte order
marks) and image paths that stay inside the dataset root."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import NAMES, all_samples, write_coco, write_dlc, write_dlc_h5, write_plain

from seqattn.data.formats.coco import COCOSource
from seqattn.data.formats.csv_table import CSVSource
from seqattn.data.formats.dlc import DLCSource
from seqattn.errors import DataError


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
