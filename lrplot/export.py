"""Output files: extension checks, atomic writes, CSV and JSON.

Every file is written to a temporary file in the target directory and renamed over
the target only when complete, so an interrupted or failed run never leaves a
truncated file and never replaces a good one.

Example:
    >>> check_outputs(["cosine.png", "-"])
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from lrplot.errors import OutputError, UsageError
from lrplot.schedule import Schedule

IMAGE_FORMATS = (".png", ".svg", ".pdf")
DATA_FORMATS = (".csv", ".json")
#: interactive pages (``lrplot.html``).
PAGE_FORMATS = (".html",)


def default_name(scheduler: str) -> str:
    """Return the default image name for a scheduler (``cosine.png``, ``Name.png``).

    Example:
        >>> default_name("my.mod:WarmupCosine")
        'WarmupCosine.png'
    """
    return scheduler.rpartition(":")[2] + ".png"


def check_outputs(paths: Sequence[str]) -> None:
    """Fail early on an unknown extension or a directory that does not exist.

    Raises:
        UsageError: unknown extension.
        OutputError: the directory does not exist or is not writable.
    """
    for path in paths:
        if path == "-":
            continue
        suffix = Path(path).suffix.lower()
        if suffix not in IMAGE_FORMATS + DATA_FORMATS + PAGE_FORMATS:
            raise UsageError(
                f"cannot tell the format of {path!r} from its extension",
                hint="use one of "
                + " ".join(IMAGE_FORMATS + DATA_FORMATS + PAGE_FORMATS)
                + ", or - for CSV on stdout",
            )
        parent = Path(path).parent
        if not parent.is_dir():
            raise OutputError(f"cannot write {path!r}: directory '{parent}' does not exist")
        if not os.access(parent, os.W_OK):
            raise OutputError(f"cannot write {path!r}: directory '{parent}' is not writable")
        if Path(path).is_dir():
            raise OutputError(f"cannot write {path!r}: it is a directory")


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
    except (OSError, UnicodeEncodeError) as exc:
        raise OutputError(f"cannot write {_shown(path)}: {_reason(exc)}") from None
    try:
        with handle:
            write(handle)
        os.chmod(handle.name, _mode_for(target))
        os.replace(handle.name, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        if isinstance(exc, (OSError, UnicodeEncodeError)):
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
    """Write one lr column per schedule (and group); shorter schedules leave cells empty."""
    n = max(s.n for s in schedules)
    spe = {s.steps_per_epoch for s in schedules}
    header = ["step"] + (["epoch"] if len(spe) == 1 else [])
    columns: list[list[str]] = []
    for schedule, label in zip(schedules, labels, strict=True):
        for g in range(schedule.groups):
            header.append(label if schedule.groups == 1 else f"{label}[{g}]")
            values = list(map(repr, schedule.lr[:, g].tolist()))
            columns.append(values + [""] * (n - len(values)))
    out.write(",".join(_csv_cell(h) for h in header) + "\n")
    epoch = spe.pop() if len(spe) == 1 else None
    for i in range(n):
        row = [str(i)] + ([repr(i / epoch)] if epoch else []) + [c[i] for c in columns]
        out.write(",".join(row) + "\n")


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
        if several:
            json.dump([s.to_dict(momentum or None) for s in schedules], f, allow_nan=False)
            f.write("\n")
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
