"""HDF nodes and attributes as PyTables would give them, without unpickling anything.

Attributes PyTables stores pickled are parsed with an unpickler that refuses every global, so
only lists, tuples, dicts, strings and numbers can come out. What :mod:`seqattn.io.hdf` does
not read raises ``NotUnderstood``; pickled Python objects raise ``Pickled`` (a kind of it).
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np


class NotUnderstood(Exception):
    """The file holds something this reader does not read (the message says what)."""


class Pickled(NotUnderstood):
    """The file holds pickled Python objects, which could run code when loaded."""


class _NoGlobals(pickle.Unpickler):
    """Unpickles plain data only: a reference to any class or function is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise Pickled(f"a pickle refers to {module}.{name}")


_PLAIN = (list, tuple, dict, str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """``value`` if it is built of lists, tuples, dicts, strings and numbers only."""
    if not isinstance(value, _PLAIN):
        raise Pickled(f"a pickle holds a {type(value).__name__}")
    items = value.items() if isinstance(value, dict) else value if isinstance(value, list | tuple) else ()
    for item in items:
        _plain(item)
    return value


def read_attr(node: Any, name: str, default: Any = None) -> Any:
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
            except Pickled:
                raise Pickled(f"attribute '{name}' of {node.name} is a pickle of Python objects") from None
            except Exception:  # noqa: BLE001 - not a pickle at all: PyTables keeps the text too
                pass
        return raw.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode_text(raw: bytes, encoding: str) -> str:
    """A stored label as text: bytes decoded with the file's encoding."""
    return raw.decode(encoding) if isinstance(raw, bytes) else str(raw)


def index_labels(dataset: Any, kind: Any, encoding: str) -> list[str | int]:
    """The values of an index array of kind "string" or "integer"."""
    if kind == "object" or dataset.dtype.kind == "O":
        raise Pickled(f"{dataset.name} holds pickled Python objects")
    shape = read_attr(dataset, "shape")
    data = np.empty(0) if shape is not None and int(np.prod(shape)) == 0 else dataset[()]
    if kind == "string" and data.dtype.kind in "SU":
        return [decode_text(v, encoding) for v in data.tolist()]
    if kind == "integer" and data.dtype.kind in "iu":
        return [int(v) for v in data.tolist()]
    raise NotUnderstood(f"{dataset.name} has labels of kind {kind!r} ({data.dtype}); strings or integers expected")


def get_dataset(group: Any, name: str) -> Any:
    """The array ``name`` of ``group``; NotUnderstood when there is none."""
    import h5py

    node = group.get(name)
    if not isinstance(node, h5py.Dataset):
        raise NotUnderstood(f"no array '{name}'")
    return node


def numeric_values(values: np.ndarray, where: str) -> np.ndarray:
    """``values`` as float64; pickled objects or non-numbers (``where`` names them) are refused."""
    if values.dtype.kind == "O" or values.dtype.kind == "V":
        raise Pickled(f"{where} holds pickled Python objects")
    if values.dtype.kind not in "fiub":
        raise NotUnderstood(f"{where} holds {values.dtype} values; numbers expected")
    return values.astype(np.float64)
