"""Domain errors: each carries a one-line, user-facing message and an exit code.

The library raises these; only ``cli.py`` turns them into exit codes.

Example:
    >>> str(UsageError("unknown scheduler 'cosin'", hint="did you mean cosine?"))
    "unknown scheduler 'cosin' (did you mean cosine?)"
"""

from __future__ import annotations


class LrplotError(Exception):
    """Base class of every error lrplot reports to a user."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

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
