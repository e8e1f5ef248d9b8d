"""DeepLabCut pose tables, frame-indexed: ``.h5`` (pandas HDF, key df_with_missing) and ``.csv``.

Columns are the three levels scorer / bodyparts / coords with ``x, y, likelihood`` per keypoint;
row i is frame i. DeepLabCut, pandas (``pd.read_hdf(path, "df_with_missing")``,
``pd.read_csv(path, header=[0, 1, 2], index_col=0)``) and movement
(``movement.io.load_poses.from_dlc_file``) read both. Every file is written under a temporary
name and renamed when complete, so an interrupted run never leaves a file that looks whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from seqattn.data.dlc import H5_KEY  # the same key as DeepLabCut's label files


def pose_table(
    scorer: str, names: list[str], coords: np.ndarray, likelihood: np.ndarray, index: list[str] | None = None
) -> pd.DataFrame:
    """coords (N, K, 2) original pixels (NaN: no prediction), likelihood (N, K) -> the DeepLabCut
    table; rows are frames 0..N-1, or the names in ``index`` (image files)."""
    n, k, _ = coords.shape
    columns = pd.MultiIndex.from_product(
        [[scorer], list(names), ["x", "y", "likelihood"]], names=["scorer", "bodyparts", "coords"]
    )
    values = np.concatenate([coords, likelihood[..., None]], axis=-1).reshape(n, 3 * k)  # (N, 3K)
    rows = pd.RangeIndex(n) if index is None else pd.Index(index)
    return pd.DataFrame(values.astype(np.float64), index=rows, columns=columns)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary name beside ``path`` to write to; renamed to ``path`` only if the block completes."""
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        write(tmp)
    return path


def write_pose_files(stem: Path, table: pd.DataFrame) -> dict[str, Path]:
    """``<stem>.h5`` and ``<stem>.csv`` of ``table``, each complete or absent."""
    h5, csv = stem.with_name(f"{stem.name}.h5"), stem.with_name(f"{stem.name}.csv")  # stems may hold dots
    return {
        "h5": write_atomically(h5, lambda p: table.to_hdf(p, key=H5_KEY, mode="w", format="table")),
        "csv": write_atomically(csv, lambda p: table.to_csv(p)),
    }
