"""One live run per run folder: ``<run>/.lock``, held with an exclusive ``flock`` by the run using it.

Two runs given the same folder (one ``hydra.run.dir``, or a ``resume=`` of a run still going)
would interleave their checkpoints and summaries; the second is refused in one line naming the
first (its process id, host and start, which the lock file records). The operating system
releases the lock when its process ends, however it ends (a kill, a crash, a node lost), so a
lock file left behind is simply taken over: there is no stale lock to clear by hand.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import datetime
from pathlib import Path

from seqattn.errors import ConfigError

LOCK_FILE = ".lock"


def _record(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # being written this instant
        data = None
    return data if isinstance(data, dict) else {"pid": "?", "host": "?", "started": "?"}


def live_holder(folder: Path) -> dict | None:
    """The record of the run holding ``folder``'s lock now, or None if no live process holds it."""
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _record(path)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def in_use_message(folder: Path, holder: dict) -> str:
    return (
        f"run folder {folder} is in use by process {holder.get('pid')} on {holder.get('host')} (since"
        f" {holder.get('started')}): wait for that run to end, or give another folder"
    )


class RunLock:
    """``with RunLock(folder):`` holds ``folder`` for this process; a ConfigError if a live run holds it."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_FILE
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise ConfigError(in_use_message(self.path.parent, _record(self.path))) from None
            try:  # the file we locked may have been removed by the run that just let go: then retry
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            record = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": datetime.now().isoformat("T", "seconds"),
            }
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps(record) + "\n").encode())
            self.fd = fd
            return self
        raise ConfigError(f"could not take the lock {self.path}: other runs keep taking it")

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # while still held: the next run finds no file, or makes its own
            os.close(self.fd)
            self.fd = None
