"""The two layouts pandas writes a data frame in, read into a ``PoseTable`` (see :mod:`seqattn.io.hdf`).

"fixed": ``axis0`` columns, ``axis1`` rows, ``block{i}_items`` / ``block{i}_values``; a
MultiIndex axis is stored as ``{axis}_level{j}`` values and ``{axis}_label{j}`` codes.
"table": a compound dataset ``table`` with fields ``index`` and ``values_block_{i}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seqattn.io.hdf_nodes import (
    NotUnderstood,
    Pickled,
    decode_text,
    get_dataset,
    index_labels,
    numeric_values,
    read_attr,
)

Label = str | int | tuple[str, ...]


@dataclass
class PoseTable:
    """A numeric table: ``values[i, j]`` is row ``index[i]``, column ``columns[j]``; NaN is missing."""

    columns: list[tuple[str, ...]]  # one tuple per column, one string per level: (scorer, bodyparts, coords)
    column_names: list[str | None]  # the column levels' names: ["scorer", "bodyparts", "coords"]
    index: list[Label]  # str, tuple of str (a MultiIndex), or int
    index_names: list[str | None]  # one per index level
    values: np.ndarray  # (N, C) float64


def _axis(group: Any, key: str, encoding: str) -> tuple[list[Label], list[str | None]]:
    """An axis of the fixed format -> (labels, level names); a MultiIndex gives tuples."""
    variety = read_attr(group, f"{key}_variety")
    if variety == "regular":
        node = get_dataset(group, key)
        return index_labels(node, read_attr(node, "kind"), encoding), [read_attr(node, "name")]
    if variety != "multi":
        raise NotUnderstood(f"axis '{key}' is of variety {variety!r}")
    levels, names = [], []
    for j in range(int(read_attr(group, f"{key}_nlevels", 0))):
        node = get_dataset(group, f"{key}_level{j}")
        values = index_labels(node, read_attr(node, "kind"), encoding)
        codes = get_dataset(group, f"{key}_label{j}")[()]
        if codes.dtype.kind not in "iu" or (codes.size and (codes.min() < 0 or codes.max() >= len(values))):
            raise NotUnderstood(f"{key}_label{j} holds codes outside its level (missing labels are not read)")
        levels.append([values[c] for c in codes.tolist()])
        names.append(read_attr(node, "name"))
    if not levels:
        raise NotUnderstood(f"axis '{key}' has no levels")
    return [tuple(str(v) for v in row) for row in zip(*levels, strict=True)], names


def _columns(labels: list[Label]) -> list[tuple[str, ...]]:
    """Column labels as tuples of strings, one string per level."""
    return [tuple(str(v) for v in c) if isinstance(c, tuple) else (str(c),) for c in labels]


def _assemble(
    columns: list[tuple[str, ...]], n: int, blocks: list[tuple[list[tuple[str, ...]], np.ndarray]]
) -> np.ndarray:
    """(N, C) values in ``columns`` order from blocks of (their columns, (N, their C) values)."""
    position = {c: j for j, c in enumerate(columns)}
    if len(position) != len(columns):
        raise NotUnderstood("column labels repeat")
    values = np.full((n, len(columns)), np.nan)
    filled = 0
    for items, block in blocks:
        if block.shape != (n, len(items)):
            raise NotUnderstood(f"a block of {block.shape} values does not match {n} rows x {len(items)} columns")
        for j, item in enumerate(items):
            if item not in position:
                raise NotUnderstood(f"block column {item} is not among the columns")
            values[:, position[item]] = block[:, j]
            filled += 1
    if filled != len(columns):
        raise NotUnderstood(f"the blocks hold {filled} columns, the table {len(columns)}")
    return values


def read_fixed(group: Any, encoding: str) -> PoseTable:
    """pandas' "fixed" frame: axis0 = columns, axis1 = rows, block{i}_values stored transposed."""
    if read_attr(group, "ndim", 2) != 2:
        raise NotUnderstood(f"a frame of {read_attr(group, 'ndim')} dimensions")
    column_labels, column_names = _axis(group, "axis0", encoding)
    index, index_names = _axis(group, "axis1", encoding)
    columns = _columns(column_labels)
    blocks = []
    for b in range(int(read_attr(group, "nblocks", 0))):
        items, _ = _axis(group, f"block{b}_items", encoding)
        node = group.get(f"block{b}_values")
        if node is None:
            raise NotUnderstood(f"no array 'block{b}_values'")
        if read_attr(node, "CLASS") == "VLARRAY" or not hasattr(node, "dtype"):
            raise Pickled(f"{node.name} holds pickled Python objects")
        shape = read_attr(node, "shape")
        data = np.zeros(shape) if shape is not None and int(np.prod(shape)) == 0 else node[()]
        data = numeric_values(np.asarray(data), node.name)
        if data.ndim != 2:
            raise NotUnderstood(f"{node.name} has {data.ndim} dimensions")
        blocks.append((_columns(items), data if read_attr(node, "transposed") else data.T))
    return PoseTable(columns, column_names, index, index_names, _assemble(columns, len(index), blocks))


def read_table(group: Any, encoding: str) -> PoseTable:
    """pandas' "table" frame: a compound dataset ``table`` with fields ``index`` and ``values_block_{i}``."""
    table = get_dataset(group, "table")
    if read_attr(group, "index_cols") != [(0, "index")] or read_attr(group, "data_columns", []) != []:
        raise NotUnderstood("a table with data columns or several index columns")
    axes = read_attr(group, "non_index_axes")
    if not (isinstance(axes, list) and len(axes) == 1 and isinstance(axes[0], tuple) and axes[0][0] == 1):
        raise NotUnderstood("attribute 'non_index_axes' is not one list of columns")
    columns = _columns(list(axes[0][1]))
    blocks_names = read_attr(group, "values_cols")
    fields = table.dtype.names or ()
    if not isinstance(blocks_names, list) or set(fields) != {"index", *blocks_names}:
        raise NotUnderstood(f"table fields {list(fields)} are not index + {blocks_names}")
    data = table[()]
    index: list[Label] = _labels_of_field(data["index"], read_attr(table, "index_kind"), encoding)
    blocks = []
    for name in blocks_names:
        items = read_attr(table, f"{name}_kind")
        if not isinstance(items, list):
            raise NotUnderstood(f"attribute '{name}_kind' is not a list of columns")
        block = numeric_values(data[name], f"{table.name} field {name}")
        blocks.append((_columns(items), block.reshape(len(index), -1)))
    info = read_attr(group, "info", {})
    names = info.get(1, {}).get("names") if isinstance(info, dict) and isinstance(info.get(1), dict) else None
    column_names = list(names) if isinstance(names, list) else [None] * len(columns[0] if columns else 1)
    return PoseTable(columns, column_names, index, [None], _assemble(columns, len(index), blocks))


def _labels_of_field(values: np.ndarray, kind: Any, encoding: str) -> list[Label]:
    """The labels in the ``index`` field of a "table" frame: strings or integers."""
    if kind == "string" and values.dtype.kind == "S":
        return [decode_text(v, encoding) for v in values.tolist()]
    if kind == "integer" and values.dtype.kind in "iu":
        return [int(v) for v in values.tolist()]
    if values.dtype.kind == "O":
        raise Pickled("the table index holds pickled Python objects")
    raise NotUnderstood(f"the table index is of kind {kind!r} ({values.dtype}); strings or integers expected")
