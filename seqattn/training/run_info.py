"""run_info.json: what is needed to reproduce a run (resolved config, package version, git commit)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import lightning
import torch
from omegaconf import DictConfig, OmegaConf

import seqattn
from seqattn.io.files import write_json

RUN_INFO_FILE = "run_info.json"
_PACKAGE_DIR = Path(seqattn.__file__).resolve().parent


def _git(path: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=True, timeout=10)
    return done.stdout.strip()


def git_commit(path: Path = _PACKAGE_DIR) -> str:
    """The commit checked out at ``path`` (``-dirty`` appended when tracked files differ from it), else "unknown"."""
    try:
        commit = _git(path, "rev-parse", "HEAD")
        dirty = _git(path, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):  # no git, not a checkout (an installed wheel), or a timeout
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def resolved_config(cfg: DictConfig) -> dict[str, Any]:
    """The config as a plain dict, interpolations resolved; values still ``???`` stay as they are."""
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)


def run_info(cfg: DictConfig, ckpt_path: str | None) -> dict[str, Any]:
    return {
        "started": datetime.now().isoformat(timespec="seconds"),
        "seqattn_version": seqattn.__version__,
        "git_commit": git_commit(),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "resumed_from": ckpt_path,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "config": resolved_config(cfg),
    }


def write_run_info(
    output_dir: Path, cfg: DictConfig, ckpt_path: str | None = None, adaptive: dict | None = None
) -> Path:
    """Write ``<output_dir>/run_info.json`` (with the data-derived settings, ``adaptive``, and their
    reasons). A resumed run keeps the earlier starts under ``earlier_starts``."""
    path = output_dir / RUN_INFO_FILE
    info = run_info(cfg, ckpt_path)
    if adaptive is not None:
        info["adaptive"] = adaptive
    if ckpt_path and path.is_file():
        try:
            earlier = json.loads(path.read_text())
        except (OSError, ValueError):  # written by a version that could leave it half-written
            earlier = {"unreadable": str(path)}
        info["earlier_starts"] = [*earlier.pop("earlier_starts", []), earlier]
    return write_json(path, info)  # whole or not at all: a resume reads it back
