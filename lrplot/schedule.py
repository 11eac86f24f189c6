"""``Schedule``: the simulated curve as numpy arrays, its summary and its CSV/JSON forms.

Row ``i`` is the learning rate that optimizer step ``i`` uses (DESIGN §1).

Example:
    >>> import numpy as np
    >>> s = Schedule(lr=np.array([[0.1], [0.05]]), steps_per_epoch=1, name="demo")
    >>> s.to_csv_text().splitlines()
    ['step,epoch,lr', '0,0.0,0.1', '1,1.0,0.05']
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from lrplot.errors import UsageError

#: the x-axis units (``--x``) and their axis labels.
X_UNITS: tuple[str, ...] = ("epoch", "step", "samples", "tokens")
X_LABELS = {"epoch": "epoch", "step": "optimizer step", "samples": "samples", "tokens": "tokens"}


@dataclass(frozen=True)
class Event:
    """Something worth marking on a plot: a decay, a restart, a phase change."""

    step: int
    kind: str
    label: str


@dataclass
class Schedule:
    """A simulated schedule: one lr column per param group, plus optional extras.

    Attributes:
        lr: shape (steps, groups), the lr each optimizer step uses.
        steps_per_epoch: optimizer steps per epoch (``epoch = step / steps_per_epoch``).
        momentum: shape (steps, groups), SGD momentum or Adam beta1, when recorded.
        metric: shape (steps,), the metric given to ReduceLROnPlateau at the end of the
            epoch (or step) that row belongs to.
        planned_steps: the steps asked for; more than ``len(lr)`` when stepping stopped.
        length_from: where the run length came from (``--epochs``, ``T_max=100``,
            ``metric length``, ``default``); empty when unknown.
        metric_name: the metric's name (its CSV column), for the axis label.
        metric_given: rows of the run covered by a metric given as data, when it is shorter
            than the run (the rest repeats its last value); None otherwise.
        horizon: the optimizer step where the scheduler's own schedule ends, as the built
            object reports it (a framework's ``num_training_steps``, ``total_num_steps``,
            ``get_cycle_length()``, ``end``); None when it does not say.
        samples_per_step: samples of one optimizer step over all processes (batch size x
            accumulation x world size), for ``--x samples``/``tokens``; None when unknown.
        geometry: how the optimizer steps per epoch were counted from the dataset size,
            with the trainer's rule; empty when ``--steps-per-epoch`` gave them.
        seq_len: tokens per sample, for ``--x tokens``.
    """

    lr: np.ndarray
    steps_per_epoch: int = 1
    momentum: np.ndarray | None = None
    metric: np.ndarray | None = None
    name: str = ""
    title: str = ""
    momentum_name: str = "momentum"
    step_per: str = "epoch"
    planned_steps: int | None = None
    events: list[Event] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    length_from: str = ""
    metric_name: str = "metric"
    metric_given: int | None = None
    horizon: int | None = None
    samples_per_step: int | None = None
    geometry: str = ""
    seq_len: int | None = None

    def __post_init__(self) -> None:
        self.lr = np.asarray(self.lr, dtype=np.float64)
        if self.lr.ndim == 1:
            self.lr = self.lr[:, None]
        if self.momentum is not None:
            self.momentum = np.asarray(self.momentum, dtype=np.float64)
            if self.momentum.shape != self.lr.shape:
                self.momentum = self.momentum.reshape(self.lr.shape)
        if self.planned_steps is None:
            self.planned_steps = len(self.lr)

    @property
    def n(self) -> int:
        """Return the number of rows (optimizer steps simulated)."""
        return int(self.lr.shape[0])

    @property
    def groups(self) -> int:
        """Return the number of param groups."""
        return int(self.lr.shape[1])

    @property
    def stopped(self) -> bool:
        """Return True when the scheduler stopped before the planned run ended."""
        return self.n < (self.planned_steps or 0)

    @property
    def step(self) -> np.ndarray:
        """Return the 0-based optimizer step of each row."""
        return np.arange(self.n, dtype=np.int64)

    def x_scale(self, x: str) -> float:
        """Return the x-axis units of one optimizer step (``x``: epoch/step/samples/tokens).

        Raises:
            UsageError: ``samples`` without a batch size, ``tokens`` without ``--seq-len``.

        Example:
            >>> Schedule(lr=np.ones(4), steps_per_epoch=4, samples_per_step=32).x_scale("samples")
            32.0
        """
        if x == "epoch":
            return 1 / self.steps_per_epoch
        if x == "step":
            return 1.0
        if x not in X_UNITS:
            raise UsageError(f"--x must be one of {', '.join(X_UNITS)}, got {x!r}", key="x")
        if self.samples_per_step is None:
            raise UsageError(
                f"--x {x} needs --batch-size (a step's samples are batch x accumulation x "
                "world size)",
                key="x",
            )
        if x == "samples":
            return float(self.samples_per_step)
        if self.seq_len is None:
            raise UsageError("--x tokens needs --seq-len (tokens per sample)", key="seq_len")
        return float(self.samples_per_step * self.seq_len)

    @property
    def epoch(self) -> np.ndarray:
        """Return the (fractional) epoch of each row."""
        return self.step / self.steps_per_epoch

    def stats(self, group: int = 0) -> dict[str, float | int | None]:
        """Return summary numbers of one group's curve.

        Keys: initial, peak, min, final, mean, sum, peak_step, below_10pct_step (the
        first step after the peak whose lr is under 10% of the peak, or None).
        """
        lr = self.lr[:, group]
        if lr.size == 0:
            return dict.fromkeys(
                ("initial", "peak", "min", "final", "mean", "sum", "peak_step", "below_10pct_step")
            )
        peak_step = int(np.argmax(lr))
        peak = float(lr[peak_step])
        under = lr[peak_step:] < 0.1 * peak  # argmax finds the first one without a copy
        below = int(np.argmax(under)) if under.any() else None
        return {
            "initial": float(lr[0]),
            "peak": peak,
            "min": float(lr.min()),
            "final": float(lr[-1]),
            "mean": float(lr.mean()),
            "sum": float(lr.sum()),
            "peak_step": peak_step,
            "below_10pct_step": None if below is None else below + peak_step,
        }

    @property
    def momentum_varies(self) -> bool:
        """Return True when momentum/beta1 changes during the run (CyclicLR, OneCycleLR)."""
        m = self.momentum
        return m is not None and m.size > 0 and bool(np.any(m != m[0]))

    def columns(self, momentum: bool | None = None) -> dict[str, np.ndarray]:
        """Return the output columns in CSV order: step, epoch, lr(s), momentum, metric.

        Args:
            momentum: include momentum/beta1 columns; None means only when it varies.
        """
        cols: dict[str, np.ndarray] = {"step": self.step, "epoch": self.epoch}
        many = self.groups > 1
        for g in range(self.groups):
            cols[f"lr_{g}" if many else "lr"] = self.lr[:, g]
        if momentum is None:
            momentum = self.momentum_varies
        if momentum and self.momentum is not None:
            for g in range(self.groups):
                cols[f"{self.momentum_name}_{g}" if many else self.momentum_name] = self.momentum[
                    :, g
                ]
        if self.metric is not None:
            cols["metric"] = np.asarray(self.metric, dtype=np.float64)
        return cols

    def require_positive(self, option: str = "--log") -> None:
        """Raise UsageError naming the first step whose lr is not > 0 (a log axis cannot show it).

        Example:
            >>> Schedule(lr=np.array([0.1, 0.0]), name="poly").require_positive()
            Traceback (most recent call last):
            ...
            lrplot.errors.UsageError: --log needs every lr > 0; poly reaches 0 at step 1 (...)
        """
        bad = np.flatnonzero(~np.all(self.lr > 0, axis=1))
        if bad.size:
            row = self.lr[bad[0]]
            value = row[~(row > 0)][0]
            raise UsageError(
                f"{option} needs every lr > 0; {self.name} reaches {value:g} at step {bad[0]}",
                hint=f"drop {option} or keep the lr positive (e.g. eta_min or min_lr > 0)",
            )

    def column_names(self, momentum: bool | None = None) -> list[str]:
        """Return the output column names in CSV order (see ``columns``)."""
        many = self.groups > 1
        names = ["step", "epoch"] + [f"lr_{g}" if many else "lr" for g in range(self.groups)]
        if self._with_momentum(momentum):
            name = self.momentum_name
            names += [f"{name}_{g}" if many else name for g in range(self.groups)]
        return names + ["metric"] * (self.metric is not None)

    def _with_momentum(self, momentum: bool | None) -> bool:
        wanted = self.momentum_varies if momentum is None else momentum
        return bool(wanted) and self.momentum is not None

    def column_sources(
        self, momentum: bool | None = None
    ) -> list[Callable[[int, int], np.ndarray]]:
        """Return, per output column, a function giving its rows ``start:stop``.

        The step and epoch columns are made for the rows asked for, the others are views:
        writing a column a chunk at a time needs memory for one chunk, whatever the rows.
        """
        spe = self.steps_per_epoch

        def step(a: int, b: int) -> np.ndarray:
            return np.arange(a, b, dtype=np.int64)

        def epoch(a: int, b: int) -> np.ndarray:
            return np.arange(a, b, dtype=np.int64) / spe

        def view(array: np.ndarray, g: int | None) -> Callable[[int, int], np.ndarray]:
            return lambda a, b: array[a:b] if g is None else array[a:b, g]

        sources = [step, epoch] + [view(self.lr, g) for g in range(self.groups)]
        if self._with_momentum(momentum):
            assert self.momentum is not None
            sources += [view(self.momentum, g) for g in range(self.groups)]
        if self.metric is not None:
            sources.append(view(np.asarray(self.metric, dtype=np.float64), None))
        return sources

    def _chunks(self) -> Iterator[tuple[int, int]]:
        for start in range(0, self.n, CHUNK_ROWS):
            yield start, min(self.n, start + CHUNK_ROWS)

    def write_csv(self, out: IO[str], *, momentum: bool | None = None) -> None:
        """Write the CSV (header + one row per step) with round-trip float precision.

        Written a chunk of rows at a time: memory does not grow with the number of rows.
        """
        out.write(",".join(self.column_names(momentum)) + "\n")
        sources = self.column_sources(momentum)
        for a, b in self._chunks():
            cols = [texts(source(a, b)) for source in sources]
            out.write("\n".join(map(",".join, zip(*cols, strict=True))) + "\n")

    def to_csv_text(self) -> str:
        """Return the CSV as a string."""
        buf = io.StringIO()
        self.write_csv(buf)
        return buf.getvalue()

    def _meta(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "steps_per_epoch": self.steps_per_epoch,
            "step_per": self.step_per,
            "steps": self.n,
            "planned_steps": self.planned_steps,
            "length_from": self.length_from,
            "groups": self.groups,
            "stats": [self.stats(g) for g in range(self.groups)],
            "events": [{"step": e.step, "kind": e.kind, "label": e.label} for e in self.events],
            "notes": list(self.notes),
        }

    def to_dict(self, momentum: bool | None = None) -> dict[str, Any]:
        """Return a JSON-ready dict: metadata, summary, events, notes and columns.

        The columns are Python lists (about 30 bytes a value): ``write_json`` streams
        the same JSON without building them.
        """
        names, sources = self.column_names(momentum), self.column_sources(momentum)
        columns = {n: get(0, self.n).tolist() for n, get in zip(names, sources, strict=True)}
        return {**self._meta(), "columns": columns}

    def write_json(self, out: IO[str], *, momentum: bool | None = None) -> None:
        """Write the JSON form (floats round-trip exactly), a chunk of rows at a time.

        The bytes are those of ``json.dump(self.to_dict(momentum), out)`` plus a newline.
        """
        self.write_json_object(out, momentum=momentum)
        out.write("\n")

    def write_json_object(self, out: IO[str], *, momentum: bool | None = None) -> None:
        """Write the JSON object of ``to_dict`` (no newline), streaming its columns."""
        head = json.dumps(self._meta(), allow_nan=False)
        out.write(head[:-1] + ', "columns": {')
        names, sources = self.column_names(momentum), self.column_sources(momentum)
        for i, (name, source) in enumerate(zip(names, sources, strict=True)):
            out.write((", " if i else "") + json.dumps(name) + ": [")
            for a, b in self._chunks():
                col = source(a, b)
                if col.dtype.kind == "f" and not np.isfinite(col).all():
                    raise ValueError("Out of range float values are not JSON compliant")
                out.write((", " if a else "") + ", ".join(texts(col)))
            out.write("]")
        out.write("}}")


#: rows per chunk when writing CSV and JSON.
CHUNK_ROWS = 1 << 14


def texts(column: np.ndarray) -> list[str]:
    """Return a column as CSV/JSON text: ``str`` of ints, ``repr`` (round trip) of floats.

    A constant column (a broadcast view, such as an unchanging momentum) is converted once.

    Example:
        >>> texts(np.array([0.1, 1e-05, 2.0])), texts(np.arange(3))
        (['0.1', '1e-05', '2.0'], ['0', '1', '2'])
    """
    convert = str if column.dtype.kind in "iu" else repr
    if column.ndim == 1 and column.strides == (0,) and column.size:
        return [convert(column[:1].tolist()[0])] * column.size
    return list(map(convert, column.tolist()))


#: ``wants_log``: a curve with this share of its steps ...
LOG_SHARE = 0.15
#: ... below this fraction of its peak (two decades) is drawn on a log axis by default.
LOG_DEPTH = 0.01


def wants_log(schedules: list[Schedule]) -> bool:
    """Return True when a log lr axis shows these curves better than a linear one.

    Every lr must be > 0, and some group of some schedule must spend at least 15% of its
    steps more than two decades below its own peak (a plateau cut three times, an
    exponential decay with gamma 0.9): on a linear axis those steps would all sit on 0.
    A cosine or one-cycle tail (about 5% of the run) stays on a linear axis.

    Example:
        >>> wants_log([Schedule(lr=np.array([1.0, 0.1, 0.001, 0.0001]))])
        True
        >>> wants_log([Schedule(lr=np.array([1.0, 0.5, 0.25, 0.0]))])
        False
    """
    found = False
    for s in schedules:
        lr = s.lr
        if lr.size == 0:
            continue
        if not np.all(lr > 0) or not np.all(np.isfinite(lr)):
            return False
        low = np.mean(lr < LOG_DEPTH * lr.max(axis=0), axis=0)
        found = found or bool(np.any(low >= LOG_SHARE))
    return found


def decimate(x: np.ndarray, y: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first, min, max and last point of each of ``width`` index buckets (M4).

    Each bucket stands for one pixel column, so the drawn line is the same: every level
    and every jump of a piecewise-constant curve and every peak and trough of a cyclic
    one survive. Points keep their original order; inputs of at most ``4 * width``
    points are returned unchanged.

    Args:
        x: the x values, 1-D.
        y: the y values, same length as ``x``.
        width: the number of buckets (pixel columns); at most ``4 * width`` points remain.

    Returns:
        The kept ``(x, y)`` points.

    Example:
        >>> xs = np.arange(100_000.0)
        >>> dx, dy = decimate(xs, np.sin(xs / 500), 100)
        >>> len(dx) <= 400, bool(dy.max() == np.sin(xs / 500).max())
        (True, True)
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError("x and y must be 1-D arrays of the same length")
    idx = decimate_indices(y, width)
    return (x, y) if idx is None else (x[idx], y[idx])


def decimate_indices(y: np.ndarray, width: int) -> np.ndarray | None:
    """Return the indices ``decimate`` keeps, or None when it keeps every point.

    Works on views of ``y`` (no copy of a long curve), so a 10-million-step run can be
    drawn without materializing its x values.

    Example:
        >>> decimate_indices(np.array([0.0, 1.0, 0.0, 5.0, 0.0]), 1).tolist()
        [0, 3, 4]
    """
    if width < 1:
        raise ValueError(f"width must be at least 1, not {width}")
    n = len(y)
    if n <= 4 * width:
        return None
    size = -(-n // width)  # points per bucket; the last bucket may be short
    full = n // size
    starts = np.arange(full) * size
    if y.strides == (0,):  # a constant broadcast view: its first point is min and max
        lows = highs = np.zeros(full, dtype=np.intp)
    else:  # bounded memory: argmin copies a view that is not contiguous, so go by slabs
        block = y[: full * size].reshape(full, size)
        rows = max(1, (1 << 20) // size)
        lows = np.concatenate(
            [np.argmin(block[r : r + rows], axis=1) for r in range(0, full, rows)]
        )
        highs = np.concatenate(
            [np.argmax(block[r : r + rows], axis=1) for r in range(0, full, rows)]
        )
    keep = [starts, starts + lows, starts + highs, starts + size - 1]
    if full * size < n:  # the short last bucket
        tail = y[full * size :]
        base = full * size
        keep.append(
            np.array([base, base + int(np.argmin(tail)), base + int(np.argmax(tail)), n - 1])
        )
    return np.unique(np.concatenate(keep))
