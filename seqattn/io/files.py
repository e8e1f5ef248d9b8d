"""Writing files whole or not at all: a temporary name beside the target, then one rename.

The temporary lies in the target's own folder, so the rename never crosses a file system (a move
across file systems is a copy, and a full disk then leaves a truncated file under the final name).
Its name is ``.<name>.partial-<pid><suffix>``; a write that fails or is interrupted
removes it, and :func:`remove_stale_partials` clears those a killed process left behind.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PARTIAL = ".partial-"


def printable(name: str | os.PathLike) -> str:
    """A file name or path as text any encoder takes: bytes that are not UTF-8 (kept by
    ``os.fsdecode`` as surrogate escapes) become ``\\xff`` escapes."""
    return os.fsdecode(name).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def partial_name(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place: hidden, beside it, ending in its
    suffix (writers that pick the format by suffix still do), UTF-8 whatever the target's name."""
    return path.with_name(f".{printable(path.name)}{PARTIAL}{os.getpid()}{path.suffix}")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary name beside ``path`` to write to; flushed to disk and renamed to ``path`` only if
    the block completes, removed otherwise (any exception, KeyboardInterrupt and SystemExit too)."""
    path = Path(path)
    tmp = partial_name(path)
    try:
        yield tmp
        fsync(tmp)
        os.replace(tmp, path)
    except OSError as exc:  # name the file being written, whichever call failed (write, fsync, rename)
        if exc.filename is not None and exc.filename != str(tmp):
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
    finally:
        tmp.unlink(missing_ok=True)


def fsync(path: Path) -> None:
    """Flush ``path``'s data to the disk: a full disk is an error here, not a short file later."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` to a temporary beside ``path``, then rename it to ``path``; returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        write(tmp)
    return path


def write_text(path: Path, text: str) -> Path:
    """``path`` holds ``text`` (UTF-8), whole, or is left as it was."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, data: Any) -> Path:
    """``path`` holds ``data`` as indented JSON, whole, or is left as it was."""
    return write_text(path, json.dumps(data, indent=2) + "\n")


def remove_stale_partials(folder: Path) -> list[Path]:
    """Remove the temporaries in ``folder`` that processes no longer running left behind (a kill
    during a write); returns them. Those of live processes (a run still writing) stay."""
    removed = []
    if not folder.is_dir():
        return removed
    for tmp in folder.glob(f".*{PARTIAL}*"):
        pid = re.match(r"\d+", tmp.name.rsplit(PARTIAL, 1)[1])
        if pid and not process_alive(int(pid.group())):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def process_alive(pid: int) -> bool:
    """True if a process with this id runs on this machine (ours or another user's)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def write_csv(path: Path, rows: Iterable[Sequence[Any]]) -> Path:
    """``path`` holds ``rows`` (the first one a header, if wanted) as CSV, whole, or is left as it was."""

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)

    return write_atomically(path, write)


def save_figure(fig: Any, path: Path, **savefig: Any) -> Path:
    """A matplotlib figure saved to ``path`` (format from its suffix), whole, or not at all."""
    path = Path(path)
    kind = path.suffix.lstrip(".").lower() or "png"
    return write_atomically(path, lambda tmp: fig.savefig(tmp, format=kind, **savefig))


def nearest_existing(path: Path) -> Path:
    """``path`` itself if it exists, else its nearest parent that does (the root at worst)."""
    return next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
