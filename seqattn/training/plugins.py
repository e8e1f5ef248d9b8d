"""Optional Hydra plugins (the ``sweep`` extra): a one-line error when a config needs one that is not installed.

Without the plugin Hydra's own message names a missing config or class ("Error locating target
'optuna.samplers.TPESampler'"), not the package to install. train.py checks before Hydra starts.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

from seqattn.training import overrides

INSTALL = 'pip install -e ".[sweep]"'
# Plugin config name (in hydra/sweeper or hydra/launcher) -> (module that registers it, PyPI package).
PLUGINS = {
    "optuna": ("hydra_plugins.hydra_optuna_sweeper", "hydra-optuna-sweeper"),
    "joblib": ("hydra_plugins.hydra_joblib_launcher", "hydra-joblib-launcher"),
    "submitit_local": ("hydra_plugins.hydra_submitit_launcher", "hydra-submitit-launcher"),
    "submitit_slurm": ("hydra_plugins.hydra_submitit_launcher", "hydra-submitit-launcher"),
}
_GROUPS = ("hydra/sweeper", "hydra/launcher")


def is_installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package (hydra_plugins) is missing too
        return False


def _defaults(path: Path) -> list:
    return (yaml.safe_load(path.read_text()) or {}).get("defaults", []) if path.is_file() else []


def _overridden_groups(path: Path) -> Iterator[tuple[str, str]]:
    """(group, name) of each ``override /hydra/...: name`` entry in a config's defaults list."""
    for entry in _defaults(path):
        for key, name in entry.items() if isinstance(entry, dict) else ():
            group = key.removeprefix("override").strip().lstrip("/")
            if group in _GROUPS:
                yield group, str(name)


def _requested(argv: list[str], conf_dir: Path) -> Iterator[tuple[str, str, str]]:
    """(argument, group, config name) for each sweeper or launcher the arguments select."""
    for override in overrides.parse(argv):
        key = override.key_or_group
        for name in overrides.choices(override):
            if key in _GROUPS:
                yield override.input_line, key, name
            elif key == "experiment":
                experiment = conf_dir / "experiment" / f"{name}.yaml"
                yield from ((override.input_line, g, n) for g, n in _overridden_groups(experiment))


def missing_plugin(argv: list[str], conf_dir: Path, installed: Callable[[str], bool] = is_installed) -> str | None:
    """The error for the first selected sweeper/launcher whose plugin is not installed, else None.

    Our own configs in ``conf/hydra/<group>/`` (``parallel``, ``slurm``) name the plugin's config in
    their defaults list; those are followed one level.
    """
    for arg, group, name in _requested(argv, conf_dir):
        wrapped = [e for e in _defaults(conf_dir / group / f"{name}.yaml") if isinstance(e, str)]
        for plugin in (name, *wrapped):
            if plugin in PLUGINS and not installed(PLUGINS[plugin][0]):
                package = PLUGINS[plugin][1]
                return f"{arg} needs the Hydra plugin {package}, not installed: {INSTALL} (or pip install {package})"
    return None
