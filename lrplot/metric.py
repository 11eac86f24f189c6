"""Metrics for ReduceLROnPlateau: lists, expressions, CSV columns and the synthetic loss.

Example:
    >>> metric_values("1,0.5", 3)
    ([1.0, 0.5, 0.5], 'metric has 2 values for 3 scheduler steps; the last one repeats')
"""

from __future__ import annotations

import csv
import functools
import math
import os
import random
import re
import stat
from typing import Any, NamedTuple

from lrplot import registry
from lrplot.errors import UsageError

#: The default metric for ReduceLROnPlateau: a loss that falls, then plateaus with noise.
SYNTHETIC_METRIC = "0.5 + 2*exp(-epoch/8) + noise(0.02), seed 0"

#: the most values a metric list may have (a CSV file is read only as far as the run needs).
MAX_VALUES = 1_000_000
#: the longest line a metric CSV may have, in characters.
MAX_LINE = 1 << 20


def synthetic_metric(n: int, seed: int = 0) -> list[float]:
    """Return the seeded synthetic loss: ``0.5 + 2 exp(-t/8)`` plus N(0, 0.02) noise.

    Example:
        >>> [round(v, 3) for v in synthetic_metric(2)]
        [2.519, 2.237]
    """
    rng = random.Random(seed)
    return [0.5 + 2.0 * math.exp(-t / 8) + rng.gauss(0.0, 0.02) for t in range(n)]


def metric_values(metric: Any, n: int) -> tuple[list[float], str | None]:
    """Return the ``n`` metric values ReduceLROnPlateau receives, and a note if padded.

    ``metric`` is None (the synthetic loss), a sequence of numbers, a callable of the
    scheduler-step index, or text: a comma list (``1,0.9,0.9``), a single number, an
    expression of ``epoch`` (``1/(1+epoch)``) or ``@file.csv[:column]``. A list shorter
    than the run repeats its last value.

    Example:
        >>> metric_values("1,0.5", 3)
        ([1.0, 0.5, 0.5], 'metric has 2 values for 3 scheduler steps; the last one repeats')
    """
    if metric is None:
        return synthetic_metric(n), None
    if callable(metric):
        values = [float(metric(i)) for i in range(n)]
    elif isinstance(metric, str):
        text = metric.strip()
        if text.startswith("@"):
            values = list(_metric_file(text[1:], max(1, n)).values)
        else:
            if text.count(",") >= MAX_VALUES:
                raise UsageError(
                    f"--metric has {text.count(',') + 1:,} values; at most {MAX_VALUES:,}"
                )
            items = [t.strip() for t in text.split(",")]
            try:
                values = [float(t) for t in items]
            except ValueError:
                if len(items) > 1 and all(_is_number(t) or not t for t in items):
                    raise UsageError(
                        f"--metric {text!r} is neither a number list nor an expression"
                    ) from None
                from lrplot.expr import parse_expression

                expression = parse_expression(text)
                values = [expression(i) for i in range(n)]
    else:
        if hasattr(metric, "__len__") and len(metric) > MAX_VALUES:
            raise UsageError(f"--metric has {len(metric):,} values; at most {MAX_VALUES:,}")
        try:
            values = [float(v) for v in metric]
        except (TypeError, ValueError):
            raise UsageError(f"--metric must be numbers, got {metric!r}") from None
    if not values:
        raise UsageError("--metric has no values")
    bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
    if bad is not None:
        raise UsageError(f"--metric value {values[bad]} at scheduler step {bad} is not finite")
    note = None
    if len(values) < n:
        note = f"metric has {len(values)} values for {n} scheduler steps; the last one repeats"
        values = values + [values[-1]] * (n - len(values))
    return values[:n], note


class MetricFile(NamedTuple):
    """The values of one CSV column, and which column of which file they came from."""

    values: tuple[float, ...]
    path: str
    column: str
    last: bool  # no column was asked for: the last one was taken
    more: bool = False  # the file has rows past the ones read


def metric_length(metric: Any, limit: int = MAX_VALUES) -> int | None:
    """Return how many values a metric given as data holds (None for a function of epoch).

    Data is a sequence of numbers, a comma list with several items, or ``@file.csv[:col]``;
    an expression, a single number, a callable or None (the synthetic loss) has no length.

    Example:
        >>> metric_length("1,0.9,0.8"), metric_length("1/(1+epoch)"), metric_length([3, 2])
        (3, None, 2)
    """
    if metric is None or callable(metric):
        return None
    if isinstance(metric, str):
        text = metric.strip()
        if text.startswith("@"):
            return len(_metric_file(text[1:], limit).values)
        items = text.split(",")
        return len(items) if len(items) > 1 and all(_is_number(t) for t in items) else None
    try:
        return len(metric)
    except TypeError:
        return None


def metric_source(metric: Any, limit: int = MAX_VALUES) -> str | None:
    """Return where a metric given as data comes from, for the summary (None otherwise).

    Example:
        >>> metric_source([1.0, 0.5])
        'metric: 2 values given'
    """
    if isinstance(metric, str) and metric.strip().startswith("@"):
        found = _metric_file(metric.strip()[1:], limit)
        which = f"the last column, {found.column!r}," if found.last else f"column {found.column!r}"
        rows = len(found.values)
        count = f"its first {rows} rows" if found.more else f"{rows} rows"
        return f"metric: {which} of {found.path} ({count})"
    length = metric_length(metric)
    return None if length is None else f"metric: {length} values given"


def metric_name(metric: Any) -> str:
    """Return the metric axis label: the CSV column's name, else ``metric``.

    Example:
        >>> metric_name("1/(1+epoch)")
        'metric'
    """
    if isinstance(metric, str) and metric.strip().startswith("@"):
        found = _metric_file(metric.strip()[1:], 1)
        return found.column if not found.column.isdigit() else f"metric (column {found.column})"
    return "metric"


def metric_file(metric: Any) -> str | None:
    """Return the path of a ``@file.csv[:column]`` metric, else None.

    Example:
        >>> metric_file("@logs/losses.csv:val_loss"), metric_file("1,0.9")
        ('logs/losses.csv', None)
    """
    if not isinstance(metric, str) or not metric.strip().startswith("@"):
        return None
    return _split_ref(metric.strip()[1:])[0]


def _split_ref(ref: str) -> tuple[str, str]:
    path, _, column = ref.partition(":")
    if len(path) == 1 and column and re.match(r"[\\/]", column):  # Windows drive letter
        path, _, column = ref.partition(":")[2].partition(":")
        path = ref[:2] + path
    return path, column


def _metric_file(ref: str, limit: int) -> MetricFile:
    """Return the first ``limit`` values of a CSV column, reading no further than that.

    Only regular files are read (not a device such as /dev/zero, a pipe or a directory),
    no line may be longer than ``MAX_LINE`` characters, and a file read once is not read
    again while it is unchanged.
    """
    path, column = _split_ref(ref)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UsageError(f"--metric cannot read {path!r}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(
                f"--metric {path!r} is not a regular file (a device, a pipe or a directory)",
                hint="give a CSV file",
            )
    finally:
        os.close(fd)
    return _read_metric_file(path, column, limit, info.st_mtime_ns, info.st_size)


@functools.lru_cache(maxsize=16)
def _read_metric_file(path: str, column: str, limit: int, _mtime: int, _size: int) -> MetricFile:
    """Read one column of a CSV file (cached while the file is unchanged)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows, more = _rows(handle, path, limit)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"--metric {path!r} is not a readable CSV: {exc}") from None
    except OSError as exc:
        raise UsageError(f"--metric cannot read {path!r}: {exc.strerror or exc}") from None
    if not rows:
        raise UsageError(f"--metric file {path!r} is empty")
    header = rows[0]
    has_header = any(_not_number(cell) for cell in header)
    body = rows[1:] if has_header else rows
    more = more or len(body) > limit
    body = body[:limit]
    if column:
        if has_header and column in header:
            index = header.index(column)
        elif column.isdigit():
            index = int(column)
        else:
            raise UsageError(
                f"--metric file {path!r} has no column {column!r}",
                hint=registry.suggest(column, header) if has_header else "give a column index",
            )
    else:
        index = len(header) - 1
    name = header[index] if has_header and index < len(header) else str(index)
    try:
        values = tuple(float(row[index]) for row in body)
    except (IndexError, ValueError) as exc:
        raise UsageError(f"--metric file {path!r}, column {index}: {exc}") from None
    return MetricFile(values, os.path.basename(path), name, not column, more)


def _rows(handle: Any, path: str, limit: int) -> tuple[list[list[str]], bool]:
    """Return the non-empty CSV rows of ``handle`` (a header and ``limit`` rows at most),
    and whether the file goes on past them (one more line is looked at, never parsed)."""

    def lines() -> Any:
        number = 0
        while True:
            line = handle.readline(MAX_LINE + 1)
            number += 1
            if not line:
                return
            if len(line) > MAX_LINE:
                raise UsageError(
                    f"--metric file {path!r}: line {number} is longer than {MAX_LINE:,} characters",
                    hint="is it a CSV file?",
                )
            yield line

    rows: list[list[str]] = []
    reader = csv.reader(lines())
    for row in reader:
        if row:
            rows.append(row)
            if len(rows) > limit:
                break
    try:
        more = any(row for row in reader)
    except (UsageError, csv.Error):
        more = True  # something follows, whatever it is
    return rows, more


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _not_number(cell: str) -> bool:
    return not _is_number(cell)
