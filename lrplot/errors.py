"""Domain errors: each carries a one-line, user-facing message, an exit code and what it is about.

The library raises these; only ``cli.py`` turns them into exit codes. An error may name
the ``key`` it is about (a kwarg such as ``T_max``, a run option such as ``epochs``, or a
config field), the offending ``value`` and a ``where`` path inside a config (keys and list
indices), so a client can point at the right place without reading the message.

Example:
    >>> str(UsageError("unknown scheduler 'cosin'", hint="did you mean cosine?"))
    "unknown scheduler 'cosin' (did you mean cosine?)"
    >>> UsageError("T_max expects an integer", key="T_max").key
    'T_max'
"""

from __future__ import annotations

from typing import Any

#: A place inside a config: mapping keys and list indices, outermost first.
Where = tuple[str | int, ...]


class LrplotError(Exception):
    """Base class of every error lrplot reports to a user."""

    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        key: str | None = None,
        value: Any = None,
        where: Where = (),
        at_key: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.key = key
        self.value = value
        self.where = where
        #: the error is about the key itself (unknown, repeated), not about its value.
        self.at_key = at_key

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(LrplotError):
    """The command line, a spec or a config asked for something invalid (exit 2)."""

    exit_code = 2


class ExpressionError(UsageError):
    """An expression (lr_lambda, metric) is not allowed or failed to evaluate."""


class ConfigError(UsageError):
    """A gallery/YAML config is malformed; the message carries file:line:col."""


class SimulationError(LrplotError):
    """The scheduler failed or produced unusable values while stepping (exit 1)."""


class OutputError(LrplotError):
    """An output file could not be written (exit 1)."""
