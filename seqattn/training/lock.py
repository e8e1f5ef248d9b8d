"""One live run per run folder: ``<run>/.lock`` holds the process id and host of the run using it.

Two runs given the same folder (one ``hydra.run.dir``, or a ``resume=`` of a run still going)
would interleave their checkpoints and summaries; the second is refused in one line. A lock left
by a process that no longer runs on this host (killed, crashed) is taken over; so is one from
another host when this job is a cluster's restart of the job that held it.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime
from pathlib import Path

from seqattn.errors import ConfigError
from seqattn.files import process_alive

LOCK_FILE = ".lock"


def _holder(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # gone meanwhile, or half-written by a process killed while writing it
        return None
    return data if isinstance(data, dict) else None


def live_holder(folder: Path, take_over_other_host: bool = False) -> dict | None:
    """Who holds ``folder``'s lock, if a live process (or another host's) does; None if free or stale."""
    holder = _holder(Path(folder) / LOCK_FILE)
    if holder is None or holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        return None
    if holder.get("host") != socket.gethostname():
        return None if take_over_other_host else holder
    return holder if process_alive(int(holder.get("pid", 0))) else None


def in_use_message(folder: Path, holder: dict) -> str:
    return (
        f"run folder {folder} is in use by process {holder.get('pid')} on {holder.get('host')} (since"
        f" {holder.get('started')}): wait for that run to end, or give another folder; if no run is using"
        f" it, delete {Path(folder) / LOCK_FILE}"
    )


class RunLock:
    """``with RunLock(folder):`` holds ``folder`` for this process; a ConfigError if another holds it."""

    def __init__(self, folder: Path, take_over_other_host: bool = False) -> None:
        self.path = Path(folder) / LOCK_FILE
        self.take_over_other_host = take_over_other_host
        self.held = False

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": datetime.now().isoformat("T", "seconds")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = live_holder(self.path.parent, self.take_over_other_host)
                if holder is not None:
                    raise ConfigError(in_use_message(self.path.parent, holder)) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(record) + "\n")
            self.held = True
            return self
        raise ConfigError(f"could not take the lock {self.path}: another run keeps taking it")

    def __exit__(self, *exc: object) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
