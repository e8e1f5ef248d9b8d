"""The wrapper around a Hydra job (train.py, eval.py): problems the user can fix end in one line
``error: ...`` and exit status 2; in a sweep a failed job is recorded and the others go on.
A log file that cannot be written (Hydra's ``<run>/<job>.log`` on a full disk) prints no
traceback of logging's own: the console shows every line still."""

from __future__ import annotations

import errno
import logging
import math
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from seqattn.errors import UserError, exception_chain
from seqattn.io.files import write_json
from seqattn.training.distributed import is_rank_zero

log = logging.getLogger("seqattn")


def run_task(work: Callable[[], float], output_dir: Path) -> float:
    """``work()``'s result; a user error or a file that cannot be written is one line and exit 2
    (a run folder that holds only Hydra's files is removed). In a sweep (Hydra multirun) a failed
    job writes its error to ``summary.json`` and returns +inf, so the sweep goes on."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    started = time.perf_counter()
    with quiet_log_files():
        return _run(work, output_dir, multirun, started)


def _run(work: Callable[[], float], output_dir: Path, multirun: bool, started: float) -> float:
    try:
        return work()
    except Exception as exc:  # noqa: BLE001 - user errors may arrive wrapped by hydra.instantiate
        user_error, write_error = find_user_error(exc), write_failure(exc)
        if user_error is None and write_error is None and not multirun:
            raise
        message = str(user_error or write_error or f"{type(exc).__name__}: {exc}")
        if not multirun:
            if user_error:
                _discard_unused_run_dir(output_dir)
            print(f"error: {message}", file=sys.stderr)
            sys.exit(2)
        # One failed job must not stop the others: its folder and overrides stay, for the sweep summary.
        log.exception(f"job failed: {message}")
        if is_rank_zero():
            write_json(output_dir / "summary.json", {"error": message, "wall_time_s": time.perf_counter() - started})
        return math.inf


@contextmanager
def quiet_log_files() -> Iterator[None]:
    """While inside: a log file handler whose write fails (a full disk, a quota) drops the line
    instead of printing logging's "--- Logging error ---" and a traceback; on leaving, the handlers
    are as they were. The console handler keeps every line, and a write of the run itself that fails
    is the task's one-line error."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    handlers = [
        h
        for lg in loggers
        if isinstance(lg, logging.Logger)
        for h in lg.handlers
        if isinstance(h, logging.FileHandler) and "handleError" not in vars(h)
    ]
    for handler in handlers:
        handler.handleError = _drop  # the instance's own, in place of Handler.handleError
    try:
        yield
    finally:
        for handler in handlers:
            vars(handler).pop("handleError", None)


def _drop(record: logging.LogRecord) -> None:
    """A log line that could not be written to its file: dropped without a word."""


def _discard_unused_run_dir(output_dir: Path) -> None:
    """Remove a run folder that holds only what Hydra wrote (``.hydra/``, the job's log): the run never
    started. A folder without ``.hydra/`` (not made by Hydra for this job) is left alone."""
    names = {p.name for p in output_dir.iterdir()} if output_dir.is_dir() else set()
    if ".hydra" in names and all(n == ".hydra" or n.endswith(".log") for n in names):
        shutil.rmtree(output_dir, ignore_errors=True)
        for parent in (output_dir.parent, output_dir.parent.parent):  # outputs/<date>, if left empty
            if parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()


# A file could not be written: the disk is full, the folder read-only or a file, a size limit reached.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.ENOTDIR}


def write_failure(exc: BaseException) -> str | None:
    """One line for an OSError behind ``exc`` that means "cannot write this file", if any."""
    for e in exception_chain(exc):
        if isinstance(e, OSError) and e.errno in _WRITE_ERRNOS:
            where = e.filename or "a file of the run"
            return f"cannot write {where}: {e.strerror or e} (free space or fix the folder's permissions)"
    return None


def find_user_error(exc: BaseException) -> UserError | None:
    """The UserError behind ``exc`` (hydra.instantiate wraps errors raised in constructors), if any."""
    return next((e for e in exception_chain(exc) if isinstance(e, UserError)), None)
