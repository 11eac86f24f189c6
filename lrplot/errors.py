r"""Domain errors: each carries a one-line, user-facing message, an exit code and what it is about.

The library raises these; only ``cli.py`` turns them into exit codes. An error may name
the ``key`` it is about (a kwarg such as ``T_max``, a run option such as ``epochs``, or a
config field), the offending ``value`` and a ``where`` path inside a config (keys and list
indices), so a client can point at the right place without reading the message.

User text inside a message is shown, never obeyed: ``printable`` turns control
characters (a terminal escape, a carriage return, a bidi override) into visible escapes.
Every error message and hint passes through it, and so does everything lrplot prints or
writes into a README, an HTML page, an image title or a CSV header.

Example:
    >>> str(UsageError("unknown scheduler 'cosin'", hint="did you mean cosine?"))
    "unknown scheduler 'cosin' (did you mean cosine?)"
    >>> UsageError("T_max expects an integer", key="T_max").key
    'T_max'
    >>> print(UsageError("unknown scheduler 'a\x1b[2Jb'"))
    unknown scheduler 'a\x1b[2Jb'
"""

from __future__ import annotations

import re
from typing import Any

#: C0 and C1 controls (tab and newline aside), DEL, line and paragraph separators, bidi
#: embeddings, overrides and isolates, and lone surrogates (undecodable command-line bytes).
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, newlines: bool = True) -> str:
    r"""Return ``text`` with control characters shown as escapes (``\x1b``), never obeyed.

    Idempotent: an escape is made of plain characters. ``newlines=False`` escapes line
    breaks too (for one-line places: a title, a table cell, a CSV header).

    Example:
        >>> print(printable("a\x1b[2Jb\rc\u202ed"))
        a\x1b[2Jb\x0dc\u202ed
    """
    out = _UNPRINTABLE.sub(_escape, text)
    return out if newlines else out.replace("\n", "\\x0a")


#: the longest line of an error message; a longer one (a huge value quoted) is cut.
MAX_LINE = 1000


def _clip(text: str) -> str:
    """Cut the middle out of lines longer than ``MAX_LINE`` characters."""
    return "\n".join(
        line
        if len(line) <= MAX_LINE
        else f"{line[: MAX_LINE // 2]} …({len(line) - MAX_LINE:,} characters)… "
        f"{line[-MAX_LINE // 2 :]}"
        for line in text.split("\n")
    )


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
        message = _clip(printable(message))
        hint = _clip(printable(hint)) if hint is not None else None
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
