"""DeepLabCut pose tables, frame-indexed: ``.h5`` (pandas HDF, key df_with_missing) and ``.csv``;
writing files so that a run that stops (an error, a full disk, Ctrl+C, SIGTERM) leaves none half done.

Columns are the three levels scorer / bodyparts / coords with ``x, y, likelihood`` per keypoint
(several animals: four, scorer / individuals / bodyparts / coords, as multi-animal DeepLabCut
writes its predictions); row i is frame i. DeepLabCut, pandas (``pd.read_hdf(path, "df_with_missing")``,
``pd.read_csv(path, header=[0, 1, 2], index_col=0)``) and movement
(``movement.io.load_poses.from_dlc_file``) read both. Every file is written under a temporary
name beside its target (``.<name>.partial-<pid><suffix>``) and renamed when complete; an
``OutputSet`` renames a group of files (a video's tables, JSON and labelled video) only once all
of them are complete, so an interrupted run never leaves a file, or a set of files, that looks whole.
A failed write (``OSError``: disk full, no permission) is a ``DataError`` naming the file.

File names that are not valid UTF-8 (bytes kept as surrogate escapes by ``os.fsdecode``) are
written into tables and JSON with ``printable``: the odd bytes as ``\\xff`` escapes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from seqattn.data.formats.dlc import H5_KEY  # the same key as DeepLabCut's label files
from seqattn.errors import DataError
from seqattn.io.files import atomic_path, fsync, partial_name, printable

__all__ = ["H5_KEY", "OutputSet", "atomic_path", "output_set", "pose_table", "printable", "write_output"]


def pose_table(
    scorer: str,
    names: list[str],
    coords: np.ndarray,
    likelihood: np.ndarray,
    index: list[str] | None = None,
    individuals: list[str] | None = None,
) -> pd.DataFrame:
    """coords (F, K, 2) original pixels (NaN: no prediction), likelihood (F, K) -> the DeepLabCut
    table; rows are frames 0..F-1, or the names in ``index`` (image files). With ``individuals``
    (N names): coords (F, N, K, 2), likelihood (F, N, K) -> multi-animal DeepLabCut's four levels
    scorer / individuals / bodyparts / coords, one ``x, y, likelihood`` triple per animal and keypoint."""
    levels, level_names = [[scorer], list(names), ["x", "y", "likelihood"]], ["scorer", "bodyparts", "coords"]
    if individuals is not None:
        levels.insert(1, list(individuals))
        level_names.insert(1, "individuals")
    columns = pd.MultiIndex.from_product(levels, names=level_names)
    f = coords.shape[0]
    values = np.concatenate([coords, likelihood[..., None]], axis=-1).reshape(f, len(columns))  # (F, [N] K 3)
    rows = pd.RangeIndex(f) if index is None else pd.Index([printable(i) for i in index])
    return pd.DataFrame(values.astype(np.float64), index=rows, columns=columns)


def _write(path: Path, tmp: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)``; a failed write (disk full, no permission, a name the writer cannot encode)
    is a DataError naming ``path``."""
    try:
        write(tmp)
    except (OSError, UnicodeError) as exc:
        raise DataError(f"{printable(path)}: could not be written ({_reason(exc)})") from exc


def _reason(exc: BaseException) -> str:
    """The operating system's words for a failed write, else the exception's last line."""
    return getattr(exc, "strerror", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[-1]


def ensure_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents); a DataError naming it if that fails."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{printable(folder)}: could not create the folder ({_reason(exc)})") from exc


def write_output(path: Path, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` to a temporary name beside ``path``, renamed to ``path`` when complete; a
    failure is a DataError naming ``path`` (seqattn.io.files.write_output, for predictions)."""
    ensure_folder(path.parent)
    with atomic_path(path) as tmp:
        _write(path, tmp, write)
    return path


class OutputSet:
    """Files written under temporary names and renamed to their targets together by ``commit``;
    ``discard`` removes whatever is not yet renamed."""

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []  # (temporary, target)

    def reserve(self, path: Path) -> Path:
        """The temporary name to write ``path`` to (for writers that open the file themselves)."""
        ensure_folder(path.parent)
        tmp = partial_name(path)
        self.pending.append((tmp, path))
        return tmp

    def write(self, path: Path, write: Callable[[Path], object]) -> Path:
        """``write(tmp)`` now; ``path`` appears when the set is committed."""
        _write(path, self.reserve(path), write)
        return path

    def commit(self) -> None:
        for tmp, path in self.pending:  # every file on the disk before the first rename
            try:
                fsync(tmp)
            except OSError as exc:
                raise DataError(f"{printable(path)}: could not be written ({_reason(exc)})") from exc
        while self.pending:
            tmp, path = self.pending[0]
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise DataError(f"{printable(path)}: could not be written ({_reason(exc)})") from exc
            self.pending.pop(0)

    def discard(self) -> None:
        for tmp, _ in self.pending:
            tmp.unlink(missing_ok=True)
        self.pending.clear()


@contextmanager
def output_set() -> Iterator[OutputSet]:
    """An OutputSet committed if the block completes; on any exception (Ctrl+C included) its
    temporary files are removed and no target is touched."""
    files = OutputSet()
    try:
        yield files
        files.commit()
    finally:
        files.discard()


def write_h5(table: pd.DataFrame, path: Path) -> None:
    """``table`` as a pandas HDF file (key ``df_with_missing``, table format). Built in memory and
    written by Python: HDF5's own writes ignore a full disk (the file is cut short silently), and
    it cannot open names that are not UTF-8."""
    with pd.HDFStore("in-memory.h5", mode="w", driver="H5FD_CORE", driver_core_backing_store=0) as store:
        store.put(H5_KEY, table, format="table")
        store._handle.flush()
        image = store._handle.get_file_image()  # PyTables' File: the whole file, as bytes
    path.write_bytes(image)


def write_pose_files(stem: Path, table: pd.DataFrame, files: OutputSet | None = None) -> dict[str, Path]:
    """``<stem>.h5`` and ``<stem>.csv`` of ``table``, each complete or absent (renamed with ``files``
    when given, else at once)."""
    h5, csv = stem.with_name(f"{stem.name}.h5"), stem.with_name(f"{stem.name}.csv")  # stems may hold dots
    write = files.write if files is not None else write_output
    return {
        "h5": write(h5, lambda p: write_h5(table, p)),
        "csv": write(csv, lambda p: table.to_csv(p)),
    }
