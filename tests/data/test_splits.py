"""seqattn.data.splits: split files honoured, bad ones refused in one line naming the file."""

import json

import pytest

from seqattn.data.formats.dlc import DLCSource
from seqattn.errors import DataError


def test_split_file_is_honoured(project):
    root, samples = project
    names = [n for n, _, _ in samples]
    split = {"train": names[:8], "val": names[8:10], "test": names[10:]}
    (root / "splits.json").write_text(json.dumps(split))
    source = DLCSource(str(root), split_file=str(root / "splits.json"))
    for key, listed in split.items():
        assert [e.name for e in source.splits()[key].entries] == listed


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


def test_image_listed_twice_in_one_split_is_refused(project):
    root, samples = project
    names = [n for n, _, _ in samples]
    split = root / "split.json"
    split.write_text(json.dumps({"train": names[:8] + [names[3]], "val": names[8:10], "test": names[10:]}))
    with pytest.raises(DataError, match=r"split\.json: split 'train' lists 1 image\(s\) more than once: .*img03"):
        DLCSource(str(root), split_file=str(split))
