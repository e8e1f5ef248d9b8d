"""Errors that mean "fix your config or your files", reported as one line, not a traceback."""

from collections.abc import Iterator


class UserError(ValueError):
    """A problem the user can fix; the message names the setting, file, row or key."""


class ConfigError(UserError):
    """A config value is invalid."""


class DataError(UserError):
    """A label file, image or split is invalid."""


class DistributedError(UserError):
    """A multi-process run lost a process or waited too long for one; the message names the rank and the stage."""


def exception_chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and the exceptions behind it (``raise ... from``, or raised while handling)."""
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__
