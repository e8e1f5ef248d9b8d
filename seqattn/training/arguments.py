"""Checks of train.py's and eval.py's arguments before Hydra starts (and writes a run folder): one
line and exit status 2 for an unknown config name, a missing sweep plugin, a run folder that
cannot be used (held by a live run, under a file, on a read-only file system or without write
permission); ``resume`` expanded (seqattn.training.resume)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from seqattn.errors import ConfigError
from seqattn.io.files import nearest_existing
from seqattn.training import overrides
from seqattn.training.distributed import owns_run_folder
from seqattn.training.lock import in_use_message, live_holder
from seqattn.training.plugins import missing_plugin
from seqattn.training.resume import resume_argv


def cli_argv(argv: list[str], conf_dir: Path) -> list[str]:
    """train.py's arguments, checked (one-line errors, exit 2: unknown config names, missing sweep plugins) and
    with ``resume`` expanded (see seqattn.training.resume)."""
    check_group_choices(argv, conf_dir)
    try:
        if problem := missing_plugin(argv, conf_dir):
            raise ConfigError(problem)
        argv = resume_argv(argv)
        check_run_dir(argv)
        return argv
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


def eval_argv(argv: list[str], conf_dir: Path) -> None:
    """eval.py's arguments, checked before Hydra starts: config names and the run folder (one line, exit 2)."""
    check_group_choices(argv, conf_dir)
    try:
        check_run_dir(argv)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


def check_run_dir(argv: list[str]) -> None:
    """Before Hydra writes into it: a ``hydra.run.dir`` that another live run holds, or that cannot be
    made (a file on its path), is a ConfigError; so is a run folder (``hydra.run.dir``, else the
    configs' default under ``outputs/`` of the working folder) that cannot be written."""
    if any(a in ("-m", "--multirun") for a in argv) or not owns_run_folder():
        return  # a sweep's jobs have folders of their own; DDP's other ranks share rank 0's
    given = overrides.value(argv, "hydra.run.dir")
    folder = Path(given or "outputs")  # conf/train.yaml and eval.yaml: outputs/<date>/<time>
    if given and (holder := live_holder(folder)) is not None:
        raise ConfigError(in_use_message(folder, holder))
    existing = nearest_existing(folder)
    if existing.exists() and not existing.is_dir():
        raise ConfigError(f"hydra.run.dir: cannot make the run folder {folder}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == folder else f" ({existing.absolute()} is not writable)"
        raise ConfigError(
            f"hydra.run.dir: cannot write to run folder {folder}: {_why_unwritable(existing)}{where}"
            + ("" if given else "; set hydra.run.dir to a folder you can write")
        )


def _why_unwritable(folder: Path) -> str:
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    return "read-only file system" if read_only else "permission denied"


def check_group_choices(argv: list[str], conf_dir: Path) -> None:
    """One-line error for ``group=name`` overrides naming no file in ``conf/<group>/`` (before Hydra)."""
    try:
        parsed = list(overrides.parse(argv))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    for override in parsed:
        key = override.key_or_group
        group = conf_dir / key
        if override.is_add() or override.is_delete() or key.startswith("hydra") or "." in key or not group.is_dir():
            continue
        names = sorted(p.stem for p in group.glob("*.yaml") if not p.stem.startswith("_"))
        for name in overrides.choices(override):
            if name not in names and name != "null":
                arg = override.input_line
                print(f"error: unknown {key} '{name}' ({arg}); choose one of: {', '.join(names)}", file=sys.stderr)
                sys.exit(2)
