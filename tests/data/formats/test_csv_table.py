"""seqattn.data.formats.csv_table: plain CSV label tables."""

import pytest
from helpers import edit_lines, write_plain

from seqattn.data.formats.csv_table import CSVSource
from seqattn.errors import DataError


def test_headerless_csv_names_keypoints_by_position(project):
    root, samples = project
    write_plain(root / "bare.csv", samples, header=False)
    bare = CSVSource(str(root / "bare.csv"))
    assert bare.keypoint_names == ["kp0", "kp1", "kp2", "kp3"]
    assert bare.flip_pairs is None  # unknown: flips are switched off
    assert CSVSource(str(root / "bare.csv"), flip_pairs=[["kp1", "kp2"]]).flip_pairs == [(1, 2)]


def test_non_numeric_cell(project):
    root, _ = project
    edit_lines(
        root / "labels.csv",
        lambda ls: ls.__setitem__(3, ls[3].split(",")[0] + ",abc" + ls[3][ls[3].index(",", ls[3].index(",") + 1) :]),
    )
    with pytest.raises(DataError, match=r"labels\.csv: row 4, column 2: not a number: 'abc'"):
        CSVSource(str(root / "labels.csv"))


def test_plain_csv_with_a_repeated_keypoint_name_is_refused(project):
    root, _ = project
    rows = (root / "labels.csv").read_text().splitlines()
    rows[0] = rows[0].replace("left_ear", "snout")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"labels\.csv: header row: keypoint name\(s\) 'snout' name several columns"):
        CSVSource(str(root / "labels.csv"))
