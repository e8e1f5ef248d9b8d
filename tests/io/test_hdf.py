"""seqattn.io.hdf: pandas HDF pose tables read like pandas reads them, and never unpickled."""

import pickle

import numpy as np
import pandas as pd
import pytest
from helpers import Payload

from seqattn.data.formats.dlc import DLCSource
from seqattn.errors import DataError
from seqattn.io.hdf import read_pose_table


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
