"""Output files: extension checks, atomic writes, CSV and JSON.

Every file is written to a temporary file in the target directory and renamed over
the target only when complete, so an interrupted or failed run never leaves a
truncated file and never replaces a good one.

Example:
    >>> check_outputs(["cosine.png", "-"])
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from lrplot.errors import OutputError, UsageError, printable
from lrplot.schedule import CHUNK_ROWS, Schedule, texts

IMAGE_FORMATS = (".png", ".svg", ".pdf")
DATA_FORMATS = (".csv", ".json")
#: interactive pages (``lrplot.html``).
PAGE_FORMATS = (".html",)
#: the most outputs (``-o``) one run may write.
MAX_OUTPUTS = 16


def default_name(scheduler: str) -> str:
    """Return the default image name for a scheduler (``cosine.png``, ``Name.png``).

    Example:
        >>> default_name("my.mod:WarmupCosine")
        'WarmupCosine.png'
    """
    return scheduler.rpartition(":")[2] + ".png"


def check_outputs(paths: Sequence[str], inputs: Mapping[str, str] | None = None) -> None:
    """Fail early on an unknown extension, a missing directory, or an output that is an input.

    Args:
        paths: the outputs (``-`` is stdout).
        inputs: the files the run reads, each with what it is (``"the metric file"``).

    Raises:
        UsageError: unknown extension, or an output that is one of ``inputs``.
        OutputError: the directory does not exist or is not writable.
    """
    if len(paths) > MAX_OUTPUTS:
        raise UsageError(f"-o is given {len(paths)} times; at most {MAX_OUTPUTS}")
    for path in paths:
        if path == "-":
            continue
        check_not_input(path, inputs or {})
        suffix = Path(path).suffix.lower()
        if suffix not in IMAGE_FORMATS + DATA_FORMATS + PAGE_FORMATS:
            raise UsageError(
                f"cannot tell the format of {path!r} from its extension",
                hint="use one of "
                + " ".join(IMAGE_FORMATS + DATA_FORMATS + PAGE_FORMATS)
                + ", or - for CSV on stdout",
            )
        parent = Path(path).parent
        try:
            if not parent.is_dir():
                raise OutputError(f"cannot write {path!r}: directory '{parent}' does not exist")
            if not os.access(parent, os.W_OK):
                raise OutputError(f"cannot write {path!r}: directory '{parent}' is not writable")
            if Path(path).is_dir():
                raise OutputError(f"cannot write {path!r}: it is a directory")
        except OSError as exc:  # a name or path too long, a loop of links, ...
            raise path_error(path, exc) from None


def path_error(path: str | Path, exc: OSError) -> OutputError:
    """Return the one-line error for an ``OSError`` met while using ``path``."""
    hint = None
    if exc.errno == errno.ENAMETOOLONG:
        hint = "a file name may have at most 255 bytes, and a path 4,096, on most systems"
    return OutputError(f"cannot write {_shown(path)}: {_reason(exc)}", hint=hint)


def check_not_input(path: str | Path, inputs: Mapping[str, str]) -> None:
    """Refuse to write ``path`` when it is (or links to) a file the run reads.

    Raises:
        UsageError: ``path`` is one of ``inputs``.
    """
    for source, what in inputs.items():
        try:
            same = os.path.samefile(path, source)
        except (OSError, ValueError):  # one of them does not exist: not the same file
            continue
        if same:
            raise UsageError(
                f"cannot write {_shown(path)}: it is {what} of this run, and lrplot never "
                "overwrites its inputs",
                hint="write to another file",
            )


def atomic_write(
    path: str | Path, write: Callable[[IO[Any]], None], *, binary: bool = False
) -> None:
    """Write ``path`` via a temporary file and a rename; on failure leave it untouched.

    Example:
        >>> atomic_write("x.csv", lambda f: f.write("a\\n"))  # doctest: +SKIP
    """
    target = Path(path)
    try:
        handle: IO[Any] = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by `with`
            "wb" if binary else "w",
            dir=str(target.parent),
            prefix=".lrplot-",
            suffix=target.suffix,
            delete=False,
            encoding=None if binary else "utf-8",
            newline=None if binary else "",
        )
    except OSError as exc:
        raise path_error(path, exc) from None
    except UnicodeEncodeError as exc:
        raise OutputError(f"cannot write {_shown(path)}: {_reason(exc)}") from None
    try:
        with handle:
            write(handle)
        os.chmod(handle.name, _mode_for(target))
        os.replace(handle.name, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        if isinstance(exc, OSError):
            raise path_error(path, exc) from None
        if isinstance(exc, UnicodeEncodeError):
            raise OutputError(f"cannot write {_shown(path)}: {_reason(exc)}") from None
        raise


def _shown(path: str | Path) -> str:
    """Return a path as printable text (undecodable bytes replaced)."""
    return repr(str(path).encode("utf-8", "surrogatepass").decode("utf-8", "replace"))


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeEncodeError):
        return "it contains characters that cannot be encoded"
    return str(getattr(exc, "strerror", None) or exc)


def _mode_for(target: Path) -> int:
    """Return the mode for a new file: the replaced file's, else 0o666 minus the umask."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def write_compare_csv(schedules: Sequence[Schedule], labels: Sequence[str], out: IO[str]) -> None:
    """Write one lr column per schedule (and group); shorter schedules leave cells empty.

    Written a chunk of rows at a time: memory does not grow with the number of rows.
    """
    n = max(s.n for s in schedules)
    spe = {s.steps_per_epoch for s in schedules}
    header = ["step"] + (["epoch"] if len(spe) == 1 else [])
    columns: list[tuple[np.ndarray, int]] = []
    for schedule, label in zip(schedules, labels, strict=True):
        for g in range(schedule.groups):
            header.append(label if schedule.groups == 1 else f"{label}[{g}]")
            columns.append((schedule.lr, g))
    out.write(",".join(_csv_cell(printable(h, newlines=False)) for h in header) + "\n")
    epoch = spe.pop() if len(spe) == 1 else None
    for a in range(0, n, CHUNK_ROWS):
        b = min(n, a + CHUNK_ROWS)
        step = np.arange(a, b, dtype=np.int64)
        cols = [texts(step)] + ([texts(step / epoch)] if epoch else [])
        for lr, g in columns:
            have = texts(lr[a:b, g]) if a < len(lr) else []
            cols.append(have + [""] * (b - a - len(have)))
        out.write("\n".join(map(",".join, zip(*cols, strict=True))) + "\n")


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def write_data(
    schedules: Sequence[Schedule],
    labels: Sequence[str],
    out: str,
    *,
    several: bool,
    momentum: bool = False,
) -> None:
    """Write the CSV or JSON of one schedule (or of several, side by side) to ``out``.

    ``out`` is a ``.csv`` or ``.json`` path, written atomically, or ``-`` for CSV on stdout.
    """

    def write_csv(f: IO[str]) -> None:
        if several:
            write_compare_csv(schedules, labels, f)
        else:
            schedules[0].write_csv(f, momentum=momentum or None)

    def write_json(f: IO[str]) -> None:
        if several:  # the bytes of json.dump([s.to_dict() ...]), streamed
            f.write("[")
            for i, schedule in enumerate(schedules):
                f.write(", " if i else "")
                schedule.write_json_object(f, momentum=momentum or None)
            f.write("]\n")
        else:
            schedules[0].write_json(f, momentum=momentum or None)

    if out == "-":
        write_csv(sys.stdout)
    elif Path(out).suffix.lower() == ".csv":
        atomic_write(out, write_csv)
    else:
        atomic_write(out, write_json)


def is_page(path: str) -> bool:
    """Return True when ``path`` names an interactive page (``.html``, any case).

    Example:
        >>> is_page("cosine.HTML"), is_page("-")
        (True, False)
    """
    return path != "-" and Path(path).suffix.lower() in PAGE_FORMATS


def is_image(path: str) -> bool:
    """Return True when ``path`` names an image (``.png .svg .pdf``, any case)."""
    return path != "-" and Path(path).suffix.lower() in IMAGE_FORMATS
