"""Command-line overrides read with Hydra's own parser: one grammar (quotes, sweeps, ``+``/``++``/``~``)
for every check train.py and eval.py make before Hydra starts, and for reading a run's saved overrides."""

from __future__ import annotations

from collections.abc import Iterator

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override

from seqattn.errors import ConfigError

_PARSER = OverridesParser.create()


def is_override(arg: str) -> bool:
    """An override (``a=1``, ``~a``), not a flag (``-m``, ``--config-name=x``) or a flag's value."""
    return ("=" in arg or arg.startswith("~")) and not arg.startswith("-")


def parse_one(arg: str) -> Override:
    """``arg`` parsed by Hydra; a ConfigError naming it if Hydra cannot read it."""
    try:
        return _PARSER.parse_override(arg)
    except Exception as exc:  # noqa: BLE001 - Hydra's OverrideParseException and grammar errors
        raise ConfigError(f"cannot read the override {arg!r}: {str(exc).splitlines()[0]}") from None


def parse(argv: list[str]) -> Iterator[Override]:
    """The overrides among ``argv``, parsed, in order."""
    return (parse_one(a) for a in argv if is_override(a))


def key(arg: str) -> str:
    """The config key or group an override sets: ``+a.b=1`` -> ``a.b``; ``~a`` -> ``a``."""
    return parse_one(arg).key_or_group


def choices(override: Override) -> list[str]:
    """The values an override gives, as written: several for a sweep (``a=x,y``), else one."""
    if override.is_sweep_override():
        return [str(v) for v in override.sweep_string_iterator()]
    return [] if override.value() is None and override.is_delete() else [override.get_value_element_as_str()]


def value(argv: list[str], name: str) -> str | None:
    """The value the last override of ``name`` in ``argv`` gives (unquoted), if any."""
    found = [o for o in parse(argv) if o.key_or_group == name and not o.is_delete()]
    return None if not found or found[-1].value() is None else str(found[-1].value())


def merge(*lists: list[str]) -> list[str]:
    """Concatenate override lists; of several overrides of one key the last wins (and moves there)."""
    merged: dict[str, str] = {}
    for override in (o for overrides in lists for o in overrides):
        merged.pop(key(override), None)
        merged[key(override)] = override
    return list(merged.values())
