"""The jobs of a multirun folder, read into rows: a job is a folder holding ``.hydra/overrides.yaml``
(its overrides, written by Hydra) and ``summary.json`` (written by train.py; for a crashed job it
holds the error). A job whose files cannot be read (half-written, damaged) is a row with status
``unreadable`` naming the file."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from seqattn.training import overrides

TEST_KEY = "test/epe_px"


@dataclass
class JobRow:
    job: str  # the job folder, relative to the sweep folder
    folder: Path
    overrides: dict[str, str]  # key -> value as given to Hydra
    status: str  # ok | error | missing | unreadable
    error: str = ""
    monitor: str = "val/epe_px"
    best_val: float | None = None
    best_epoch: int | None = None
    stop_epoch: int | None = None
    test_epe: float | None = None
    wall_time_s: float | None = None


def _natural(path: Path) -> list[Any]:
    """Sort key: job folders 2 before 10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.as_posix())]


def job_folders(sweep_dir: Path) -> list[Path]:
    return sorted((p.parent.parent for p in sweep_dir.glob("**/.hydra/overrides.yaml")), key=_natural)


def split_override(override: str) -> tuple[str, str]:
    """(key, value as written) of a saved override."""
    return overrides.key(override), override.partition("=")[2]


class _Unreadable(Exception):
    """A job's file that is not what Hydra or train.py write (half-written, damaged)."""


def _load(path: Path, parse: Any, kind: type) -> Any:
    """``parse(text of path)``, which must be a ``kind``; an _Unreadable naming the file otherwise."""
    try:
        value = parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:  # JSONDecodeError is a ValueError
        detail = " ".join(str(getattr(exc, "problem", None) or exc).split())  # YAML's: without its excerpt
        raise _Unreadable(f"{path}: unreadable, half-written or damaged ({type(exc).__name__}: {detail})") from exc
    if not isinstance(value, kind):
        raise _Unreadable(f"{path}: unreadable, holds a {type(value).__name__}, not a {kind.__name__}")
    return value


def read_job(folder: Path, sweep_dir: Path) -> JobRow:
    job = folder.relative_to(sweep_dir).as_posix()
    try:
        saved = _load(folder / ".hydra/overrides.yaml", lambda text: yaml.safe_load(text) or [], list)
    except _Unreadable as exc:
        return JobRow(job=job, folder=folder, overrides={}, status="unreadable", error=str(exc))
    overrides = dict(split_override(str(o)) for o in saved)
    row = JobRow(job=job, folder=folder, overrides=overrides, status="ok")
    summary_file = folder / "summary.json"
    if not summary_file.is_file():
        row.status, row.error = "missing", "no summary.json: the job was killed, or is still running"
        return row
    try:
        summary = _load(summary_file, json.loads, dict)
    except _Unreadable as exc:
        row.status, row.error = "unreadable", str(exc)
        return row
    row.wall_time_s = summary.get("wall_time_s")
    if "error" in summary:
        row.status, row.error = "error", summary["error"]
        return row
    row.monitor = summary.get("monitor", row.monitor)
    row.best_val, row.best_epoch = summary.get("best_score"), summary.get("best_epoch")
    row.stop_epoch = summary.get("last_epoch")
    row.test_epe = (summary.get("test_metrics") or {}).get(TEST_KEY)
    return row


def _with_overrides(rows: list[JobRow]) -> list[JobRow]:
    """The jobs whose overrides were read (not those with an unreadable overrides.yaml)."""
    return [r for r in rows if r.overrides or r.status != "unreadable"]


def swept_keys(rows: list[JobRow]) -> list[str]:
    """Override keys whose value is not the same in every job, in order of first appearance."""
    rows = _with_overrides(rows)
    keys = list(dict.fromkeys(k for r in rows for k in r.overrides))
    return [k for k in keys if len({r.overrides.get(k) for r in rows}) > 1]


def common_overrides(rows: list[JobRow]) -> list[str]:
    swept, rows = set(swept_keys(rows)), _with_overrides(rows)
    return [f"{k}={v}" for k, v in rows[0].overrides.items() if k not in swept] if rows else []
