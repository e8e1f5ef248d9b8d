"""Pose tables from pandas HDF files (DeepLabCut's ``.h5``), read without unpickling anything.

``pd.read_hdf`` unpickles parts of the file: object columns of the "fixed" format are stored as
pickles, and the "table" format keeps its column names (``non_index_axes``, ``info``,
``values_block_0_kind``, ...) in pickled attributes. A crafted file would run code on read. This
reader uses h5py for the numeric arrays and the string or integer labels, and parses the few
pickled attributes it needs with an unpickler that refuses every global (so only lists, tuples,
dicts, strings and numbers can come out). Anything else is refused with one line naming the file.

Both layouts pandas writes are read (:mod:`seqattn.io.hdf_layouts`): "fixed"
(``df.to_hdf(path, key=...)``) and "table" (``format="table"``), through the attribute and
array readers of :mod:`seqattn.io.hdf_nodes`. Rows are strings,
tuples of strings (DeepLabCut 2.2+'s (labeled-data, video, file) MultiIndex) or integers
(a RangeIndex, as in prediction tables); columns are tuples of strings, e.g. (scorer, bodypart, coord).
"""

from __future__ import annotations

from pathlib import Path

from seqattn.errors import DataError
from seqattn.io.hdf_layouts import PoseTable, read_fixed, read_table
from seqattn.io.hdf_nodes import NotUnderstood, Pickled, read_attr

H5_KEY = "df_with_missing"  # DeepLabCut's key, for labels and predictions


def read_pose_table(path: str | Path, key: str = H5_KEY, what: str = "pandas pose table") -> PoseTable:
    """The table under ``key`` in the pandas HDF file ``path``, "fixed" or "table" format.

    Never unpickles file content: a pickled block or attribute holding Python objects, and any
    layout this reader does not understand, is a DataError naming the file (``what`` names the
    kind of file expected in that message).
    """
    path = Path(path)
    try:
        import h5py
    except ImportError as exc:
        raise DataError(f"{path}: reading .h5 tables needs h5py: pip install h5py") from exc
    try:
        with h5py.File(path, "r") as f:
            group = f.get(key)
            if not isinstance(group, h5py.Group):
                raise NotUnderstood(f"no group '{key}'")
            encoding = read_attr(group, "encoding", "UTF-8")
            pandas_type = read_attr(group, "pandas_type")
            if pandas_type == "frame":
                return read_fixed(group, encoding)
            if pandas_type == "frame_table":
                return read_table(group, encoding)
            raise NotUnderstood(f"pandas_type {pandas_type!r} is not a data frame")
    except Pickled as exc:
        raise DataError(f"{path}: refused: {exc}, which could run code when read (key '{key}')") from None
    except (NotUnderstood, OSError, KeyError, ValueError, TypeError, IndexError, LookupError) as exc:
        raise DataError(f"{path}: not a {what} with key '{key}' ({exc})") from None
