"""Pose tables from pandas HDF files (DeepLabCut's ``.h5``), read without unpickling anything.

``pd.read_hdf`` unpickles parts of the file: object columns of the "fixed" format are stored as
pickles, and the "table" format keeps its column names (``non_index_axes``, ``info``,
``values_block_0_kind``, ...) in pickled attributes. A crafted file would run code on read. This
reader uses h5py for the numeric arrays and the string or integer labels, and parses the few
pickled attributes it needs with an unpickler that refuses every global (so only lists, tuples,
dicts, strings and numbers can come out). Anything else is refused with one line naming the file.

Both layouts pandas writes are read: "fixed" (``df.to_hdf(path, key=...)``: ``axis0`` columns,
``axis1`` rows, ``block{i}_items`` / ``block{i}_values``; a MultiIndex axis is stored as
``{axis}_level{j}`` values and ``{axis}_label{j}`` codes) and "table" (``format="table"``: a
compound dataset ``table`` with fields ``index`` and ``values_block_{i}``). Rows are strings,
tuples of strings (DeepLabCut 2.2+'s (labeled-data, video, file) MultiIndex) or integers
(a RangeIndex, as in prediction tables); columns are tuples of strings, e.g. (scorer, bodypart, coord).
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqattn.errors import DataError

H5_KEY = "df_with_missing"  # DeepLabCut's key, for labels and predictions

Label = str | int | tuple[str, ...]


@dataclass
class PoseTable:
    """A numeric table: ``values[i, j]`` is row ``index[i]``, column ``columns[j]``; NaN is missing."""

    columns: list[tuple[str, ...]]  # one tuple per column, one string per level: (scorer, bodyparts, coords)
    column_names: list[str | None]  # the column levels' names: ["scorer", "bodyparts", "coords"]
    index: list[Label]  # str, tuple of str (a MultiIndex), or int
    index_names: list[str | None]  # one per index level
    values: np.ndarray  # (N, C) float64


class _NotUnderstood(Exception):
    """The file holds something this reader does not read (the message says what)."""


class _Pickled(_NotUnderstood):
    """The file holds pickled Python objects, which could run code when loaded."""


class _NoGlobals(pickle.Unpickler):
    """Unpickles plain data only: a reference to any class or function is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise _Pickled(f"a pickle refers to {module}.{name}")


_PLAIN = (list, tuple, dict, str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """``value`` if it is built of lists, tuples, dicts, strings and numbers only."""
    if not isinstance(value, _PLAIN):
        raise _Pickled(f"a pickle holds a {type(value).__name__}")
    items = value.items() if isinstance(value, dict) else value if isinstance(value, list | tuple) else ()
    for item in items:
        _plain(item)
    return value


def _attr(node: Any, name: str, default: Any = None) -> Any:
    """An attribute as PyTables would return it, without unpickling: bytes ending in "." are
    parsed as a plain-data pickle (PyTables' rule) and kept as text when they are not one."""
    if name not in node.attrs:
        return default
    value = node.attrs[name]
    if isinstance(value, bytes | np.bytes_):
        raw = bytes(value)
        if raw.endswith(b".") and raw not in (b"0", b"0."):
            try:
                return _plain(_NoGlobals(io.BytesIO(raw)).load())
            except _Pickled:
                raise _Pickled(f"attribute '{name}' of {node.name} is a pickle of Python objects") from None
            except Exception:  # noqa: BLE001 - not a pickle at all: PyTables keeps the text too
                pass
        return raw.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _text(raw: bytes, encoding: str) -> str:
    return raw.decode(encoding) if isinstance(raw, bytes) else str(raw)


def _labels(dataset: Any, kind: Any, encoding: str) -> list[str | int]:
    """The values of an index array of kind "string" or "integer"."""
    if kind == "object" or dataset.dtype.kind == "O":
        raise _Pickled(f"{dataset.name} holds pickled Python objects")
    shape = _attr(dataset, "shape")
    data = np.empty(0) if shape is not None and int(np.prod(shape)) == 0 else dataset[()]
    if kind == "string" and data.dtype.kind in "SU":
        return [_text(v, encoding) for v in data.tolist()]
    if kind == "integer" and data.dtype.kind in "iu":
        return [int(v) for v in data.tolist()]
    raise _NotUnderstood(f"{dataset.name} has labels of kind {kind!r} ({data.dtype}); strings or integers expected")


def _axis(group: Any, key: str, encoding: str) -> tuple[list[Label], list[str | None]]:
    """An axis of the fixed format -> (labels, level names); a MultiIndex gives tuples."""
    variety = _attr(group, f"{key}_variety")
    if variety == "regular":
        node = _dataset(group, key)
        return _labels(node, _attr(node, "kind"), encoding), [_attr(node, "name")]
    if variety != "multi":
        raise _NotUnderstood(f"axis '{key}' is of variety {variety!r}")
    levels, names = [], []
    for j in range(int(_attr(group, f"{key}_nlevels", 0))):
        node = _dataset(group, f"{key}_level{j}")
        values = _labels(node, _attr(node, "kind"), encoding)
        codes = _dataset(group, f"{key}_label{j}")[()]
        if codes.dtype.kind not in "iu" or (codes.size and (codes.min() < 0 or codes.max() >= len(values))):
            raise _NotUnderstood(f"{key}_label{j} holds codes outside its level (missing labels are not read)")
        levels.append([values[c] for c in codes.tolist()])
        names.append(_attr(node, "name"))
    if not levels:
        raise _NotUnderstood(f"axis '{key}' has no levels")
    return [tuple(str(v) for v in row) for row in zip(*levels, strict=True)], names


def _dataset(group: Any, name: str) -> Any:
    import h5py

    node = group.get(name)
    if not isinstance(node, h5py.Dataset):
        raise _NotUnderstood(f"no array '{name}'")
    return node


def _numeric(values: np.ndarray, where: str) -> np.ndarray:
    if values.dtype.kind == "O" or values.dtype.kind == "V":
        raise _Pickled(f"{where} holds pickled Python objects")
    if values.dtype.kind not in "fiub":
        raise _NotUnderstood(f"{where} holds {values.dtype} values; numbers expected")
    return values.astype(np.float64)


def _columns(labels: list[Label]) -> list[tuple[str, ...]]:
    return [tuple(str(v) for v in c) if isinstance(c, tuple) else (str(c),) for c in labels]


def _assemble(
    columns: list[tuple[str, ...]], n: int, blocks: list[tuple[list[tuple[str, ...]], np.ndarray]]
) -> np.ndarray:
    """(N, C) values in ``columns`` order from blocks of (their columns, (N, their C) values)."""
    position = {c: j for j, c in enumerate(columns)}
    if len(position) != len(columns):
        raise _NotUnderstood("column labels repeat")
    values = np.full((n, len(columns)), np.nan)
    filled = 0
    for items, block in blocks:
        if block.shape != (n, len(items)):
            raise _NotUnderstood(f"a block of {block.shape} values does not match {n} rows x {len(items)} columns")
        for j, item in enumerate(items):
            if item not in position:
                raise _NotUnderstood(f"block column {item} is not among the columns")
            values[:, position[item]] = block[:, j]
            filled += 1
    if filled != len(columns):
        raise _NotUnderstood(f"the blocks hold {filled} columns, the table {len(columns)}")
    return values


def _read_fixed(group: Any, encoding: str) -> PoseTable:
    """pandas' "fixed" frame: axis0 = columns, axis1 = rows, block{i}_values stored transposed."""
    if _attr(group, "ndim", 2) != 2:
        raise _NotUnderstood(f"a frame of {_attr(group, 'ndim')} dimensions")
    column_labels, column_names = _axis(group, "axis0", encoding)
    index, index_names = _axis(group, "axis1", encoding)
    columns = _columns(column_labels)
    blocks = []
    for b in range(int(_attr(group, "nblocks", 0))):
        items, _ = _axis(group, f"block{b}_items", encoding)
        node = group.get(f"block{b}_values")
        if node is None:
            raise _NotUnderstood(f"no array 'block{b}_values'")
        if _attr(node, "CLASS") == "VLARRAY" or not hasattr(node, "dtype"):
            raise _Pickled(f"{node.name} holds pickled Python objects")
        shape = _attr(node, "shape")
        data = np.zeros(shape) if shape is not None and int(np.prod(shape)) == 0 else node[()]
        data = _numeric(np.asarray(data), node.name)
        if data.ndim != 2:
            raise _NotUnderstood(f"{node.name} has {data.ndim} dimensions")
        blocks.append((_columns(items), data if _attr(node, "transposed") else data.T))
    return PoseTable(columns, column_names, index, index_names, _assemble(columns, len(index), blocks))


def _read_table(group: Any, encoding: str) -> PoseTable:
    """pandas' "table" frame: a compound dataset ``table`` with fields ``index`` and ``values_block_{i}``."""
    table = _dataset(group, "table")
    if _attr(group, "index_cols") != [(0, "index")] or _attr(group, "data_columns", []) != []:
        raise _NotUnderstood("a table with data columns or several index columns")
    axes = _attr(group, "non_index_axes")
    if not (isinstance(axes, list) and len(axes) == 1 and isinstance(axes[0], tuple) and axes[0][0] == 1):
        raise _NotUnderstood("attribute 'non_index_axes' is not one list of columns")
    columns = _columns(list(axes[0][1]))
    blocks_names = _attr(group, "values_cols")
    fields = table.dtype.names or ()
    if not isinstance(blocks_names, list) or set(fields) != {"index", *blocks_names}:
        raise _NotUnderstood(f"table fields {list(fields)} are not index + {blocks_names}")
    data = table[()]
    index: list[Label] = _labels_of_field(data["index"], _attr(table, "index_kind"), encoding)
    blocks = []
    for name in blocks_names:
        items = _attr(table, f"{name}_kind")
        if not isinstance(items, list):
            raise _NotUnderstood(f"attribute '{name}_kind' is not a list of columns")
        block = _numeric(data[name], f"{table.name} field {name}")
        blocks.append((_columns(items), block.reshape(len(index), -1)))
    info = _attr(group, "info", {})
    names = info.get(1, {}).get("names") if isinstance(info, dict) and isinstance(info.get(1), dict) else None
    column_names = list(names) if isinstance(names, list) else [None] * len(columns[0] if columns else 1)
    return PoseTable(columns, column_names, index, [None], _assemble(columns, len(index), blocks))


def _labels_of_field(values: np.ndarray, kind: Any, encoding: str) -> list[Label]:
    if kind == "string" and values.dtype.kind == "S":
        return [_text(v, encoding) for v in values.tolist()]
    if kind == "integer" and values.dtype.kind in "iu":
        return [int(v) for v in values.tolist()]
    if values.dtype.kind == "O":
        raise _Pickled("the table index holds pickled Python objects")
    raise _NotUnderstood(f"the table index is of kind {kind!r} ({values.dtype}); strings or integers expected")


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
                raise _NotUnderstood(f"no group '{key}'")
            encoding = _attr(group, "encoding", "UTF-8")
            pandas_type = _attr(group, "pandas_type")
            if pandas_type == "frame":
                return _read_fixed(group, encoding)
            if pandas_type == "frame_table":
                return _read_table(group, encoding)
            raise _NotUnderstood(f"pandas_type {pandas_type!r} is not a data frame")
    except _Pickled as exc:
        raise DataError(f"{path}: refused: {exc}, which could run code when read (key '{key}')") from None
    except (_NotUnderstood, OSError, KeyError, ValueError, TypeError, IndexError, LookupError) as exc:
        raise DataError(f"{path}: not a {what} with key '{key}' ({exc})") from None
