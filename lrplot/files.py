"""Output files: extension checks, atomic writes, and dispatch to the right writer.

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
        if suffix not in IMAGE_FORMATS + DATA_FORMATS:
            raise UsageError(
                f"cannot tell the format of {path!r} from its extension",
                hint="use one of "
                + " ".join(IMAGE_FORMATS + DATA_FORMATS)
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
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by `with handle`
            "wb" if binary else "w",
            dir=target.parent,
            prefix=".lrplot-",
            suffix=target.suffix,
            delete=False,
            **({} if binary else {"encoding": "utf-8", "newline": ""}),
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


def write_outputs(
    grid: Sequence[Sequence[Schedule]],
    outs: Sequence[str],
    *,
    log: bool = False,
    x: str = "epoch",
    title: str | None = None,
    momentum: bool = False,
    annotations: Sequence[str] = (),
    layout: str = "overlay",
    compare: bool = False,
) -> list[str]:
    """Write every requested output for a schedule, a sweep row/grid or a comparison.

    Returns the paths written (``-`` for stdout).
    """
    flat = [s for row in grid for s in row]
    labels = [s.name for s in flat]
    several = compare or len(flat) > 1
    if x not in ("epoch", "step"):
        raise UsageError(f"--x must be epoch or step, got {x!r}")
    figure = None
    if any(Path(o).suffix.lower() in IMAGE_FORMATS for o in outs if o != "-"):
        figure = _figure(
            grid,
            log=log,
            x=x,
            title=title,
            momentum=momentum,
            annotations=annotations,
            layout=layout,
            labels=labels if several else None,
        )

    def write_csv(f: IO[str]) -> None:
        if several:
            write_compare_csv(flat, labels, f)
        else:
            flat[0].write_csv(f, momentum=momentum or None)

    def write_json(f: IO[str]) -> None:
        if several:
            json.dump([s.to_dict(momentum or None) for s in flat], f, allow_nan=False)
            f.write("\n")
        else:
            flat[0].write_json(f, momentum=momentum or None)

    for out in outs:  # every output is rendered in memory first, then renamed into place
        suffix = Path(out).suffix.lower()
        if out == "-":
            write_csv(sys.stdout)
        elif suffix == ".csv":
            atomic_write(out, write_csv)
        elif suffix == ".json":
            atomic_write(out, write_json)
        else:
            from lrplot import render

            render.save(figure, out)
    return list(outs)


def _figure(grid: Sequence[Sequence[Schedule]], *, labels: list[str] | None, **options: Any) -> Any:
    """Draw the figure of a schedule, a comparison, a sweep row or a sweep grid."""
    from lrplot import render

    if len(grid) > 1 and len(grid[0]) > 1:
        return render.sweep_grid(
            grid,
            row_labels=[r[0].name.split(", ")[0] for r in grid],
            col_labels=[s.name.split(", ")[-1] for s in grid[0]],
            log=options["log"],
            x=options["x"],
            title=options["title"],
        )
    flat = [s for row in grid for s in row]
    return render.plot(flat if labels else flat[0], labels=labels, **options)
