"""Terminal reports: the run summary, step tables, comparisons and the curve drawn in text.

Every function returns a rich renderable or a string and prints nothing, so the CLI
decides where output goes. Only rich is imported here; uniplot is imported inside
``term_plot``; torch and matplotlib never.

Example:
    >>> from rich.console import Console
    >>> s = Schedule(lr=np.array([0.1, 0.1, 0.05]), name="demo")
    >>> Console(width=80).print(summary(s, outputs=["demo.png"]))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from lrplot.errors import UsageError, printable
from lrplot.spec import DEFAULT, FROM_CONFIG, GIVEN, METRIC

if TYPE_CHECKING:
    import numpy as np

    from lrplot.schedule import Schedule

__all__ = [
    "compare_table",
    "fmt_lr",
    "scheduler_list",
    "summary",
    "table",
    "table_rows",
    "term_plot",
]

#: Mantissas of the "round" strides a thinned table uses (x 10**k), e.g. 4, 25, 1500.
_NICE = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)


def fmt_lr(value: float | None) -> str:
    """Format a number with 4 significant digits ('—' for None).

    Example:
        >>> fmt_lr(0.1), fmt_lr(2.4471742e-05), fmt_lr(None)
        ('0.1', '2.447e-05', '—')
    """
    return "—" if value is None else f"{value:.4g}"


def _fmt6(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.6g}"


def _label(schedule: Schedule, index: int) -> str:
    return schedule.name or f"#{index + 1}"


def summary(
    schedule: Schedule,
    *,
    outputs: Sequence[str] = (),
    diagnostics: Sequence[Any] = (),
    stats: bool = True,
) -> RenderableType:
    """Summarize a run: files written, run size, lr per group, notes and diagnostics.

    Args:
        schedule: the simulated schedule.
        outputs: paths written (``-`` means CSV on stdout).
        diagnostics: objects with ``code``, ``message``, ``fix`` and ``level``.
        stats: show the run size and the lr table (off when a compare table shows them).

    Example:
        >>> s = Schedule(lr=np.array([0.1, 0.1, 0.05]), name="demo")
        >>> isinstance(summary(s, outputs=["demo.png"]), Group)
        True
    """
    parts: list[RenderableType] = []
    if outputs:
        names = [
            "CSV to stdout"
            if o == "-"
            else str(o).encode("utf-8", "surrogatepass").decode("utf-8", "replace")
            for o in outputs
        ]
        parts.append(Text.assemble(("wrote ", "green"), (", ".join(names), "bold")))
    if stats:
        parts += _run_stats(schedule)
    parts.extend(Text(f"note: {note}", "dim") for note in schedule.notes)
    parts += _diagnostic_lines(diagnostics)
    return Group(*parts)


def _n(count: int, word: str) -> str:
    """Return ``1 step`` or ``2 steps``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _run_stats(schedule: Schedule) -> list[RenderableType]:
    parts: list[RenderableType] = []
    epochs = schedule.n / schedule.steps_per_epoch
    size = _n(schedule.n, "step")
    if schedule.stopped:
        size = f"{schedule.n:,} of {_n(schedule.planned_steps or 0, 'planned step')}"
    whole = float(epochs).is_integer()
    size += f" · {_n(int(epochs), 'epoch')}" if whole else f" · {epochs:.6g} epochs"
    if schedule.steps_per_epoch > 1:
        size += f" × {schedule.steps_per_epoch} steps"
    size += f" · {_n(schedule.groups, 'param group')} · scheduler.step() per {schedule.step_per}"
    parts.append(Text(size))
    if schedule.geometry:
        parts.append(Text(schedule.geometry))
    length = _length_line(schedule)
    if length:
        parts.append(Text(length))
    grid = Table.grid(padding=(0, 2))
    grid.add_column()
    for _ in range(4):
        grid.add_column(justify="right")
    grid.add_row(*(Text(h, "dim") for h in ("", "initial", "min", "max", "final")))
    for g in range(schedule.groups):
        st = schedule.stats(g)
        name = "lr" if schedule.groups == 1 else f"lr_{g}"
        grid.add_row(name, *(fmt_lr(st[k]) for k in ("initial", "min", "peak", "final")))
    parts.append(grid)
    return parts


def _length_line(schedule: Schedule) -> str | None:
    """Return where the run length came from when the user did not give it, else None.

    Example:
        >>> _length_line(Schedule(lr=np.ones(20), length_from="T_max=20"))
        'run length: 20 epochs, from T_max=20 (no --epochs given)'
    """
    source = schedule.length_from
    epochs = _n(-(-(schedule.planned_steps or schedule.n) // schedule.steps_per_epoch), "epoch")
    if not source or source == GIVEN:
        return None
    if source == DEFAULT:
        return f"run length: lrplot's default of {epochs} (no --epochs given)"
    if source == METRIC:
        return f"run length: {epochs}, the length of the metric data (no --epochs given)"
    if source.startswith(FROM_CONFIG):
        return f"run length: {epochs}, {source}"
    if source.startswith("--train-steps"):
        return f"run length: {_n(schedule.planned_steps or schedule.n, 'step')}, {source}"
    return f"run length: {epochs}, from {source} (no --epochs given)"


class _Hanging:
    """A line wrapped to the console width, continuation lines indented under its text."""

    def __init__(self, head: Text, body: Text, indent: int) -> None:
        self.head, self.body, self.indent = head, body, indent

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(20, options.max_width - self.indent)
        for i, line in enumerate(self.body.wrap(console, width)):
            line.rstrip()
            yield Text.assemble(self.head if i == 0 else " " * self.indent, line)


def _diagnostic_lines(diagnostics: Sequence[Any]) -> list[RenderableType]:
    """Return each diagnostic as ``⚠ message`` and ``  fix: ...``, wrapped with a hanging indent.

    Example:
        >>> from rich.console import Console
        >>> c = Console(width=40)
        >>> d = type("D", (), {"message": "a " * 30, "fix": "b", "level": "warning"})
        >>> with c.capture() as out:
        ...     c.print(*_diagnostic_lines([d]))
        >>> out.get().splitlines()[:3]
        ['⚠ a a a a a a a a a a a a a a a a a a a', '  a a a a a a a a a a a', '  fix: b']
    """
    parts: list[RenderableType] = []
    for d in diagnostics:
        warn = getattr(d, "level", "warning") == "warning"
        head = Text("⚠ " if warn else "ℹ ", "yellow" if warn else "cyan")
        parts.append(_Hanging(head, Text(str(d.message)), 2))
        if getattr(d, "fix", None):
            parts.append(_Hanging(Text("  fix: ", "dim"), Text(str(d.fix), "dim"), 7))
    return parts


def check_report(command: str, diagnostics: Sequence[Any]) -> RenderableType:
    """Report ``lrplot check``: the command checked, then each diagnostic or "no problems".

    Example:
        >>> isinstance(check_report("lrplot cosine --T_max 150", []), Group)
        True
    """
    head = Text.assemble(("checked ", "dim"), (command, "bold"))
    lines = _diagnostic_lines(diagnostics)
    if not any(getattr(d, "level", "warning") == "warning" for d in diagnostics):
        lines.insert(0, Text("✓ no problems found", "green"))
    return Group(head, *lines)


def resume_report(done: Any) -> RenderableType:
    """Report ``lrplot check --resume-at``: each way of resuming, then the diagnostics.

    The way the script resumes comes first (``✓`` or ``⚠`` with a fix); the other ways
    follow as ``ℹ`` lines (what would happen), and ways that do not apply as ``–``.

    Args:
        done: a ``lrplot.resume.ResumeCheck``.
    """
    points = ", ".join(map(str, done.points))
    head = Text.assemble(("checked ", "dim"), (done.command, "bold"))
    after = _n(done.points[0], "step") if len(done.points) == 1 else f"{points} steps"
    how = f"resumed after {after} from a checkpoint written by torch.save and read by torch.load"
    if done.epochs is not None:
        how += f", with a run length of {_n(done.epochs, 'epoch')}"
        if done.changes:
            how += " (" + ", ".join(map(str, done.changes)) + ")"
    parts: list[RenderableType] = [head, _Hanging(Text(""), Text(how, "dim"), 2)]
    if done.written:
        parts.append(Text.assemble(("wrote ", "green"), (", ".join(done.written), "bold")))
    parts.extend(Text(f"note: {note}", "dim") for note in done.notes)
    mine = [f for f in done.findings if f.selected]
    others = [f for f in done.findings if not f.selected]
    for f in mine:
        parts += _finding_lines(f, "✓ " if f.status == "match" else "⚠ ", mine=True)
    if others:
        parts.append(Text(f"other ways to resume (your script: {done.style}):", "dim"))
        for f in others:
            mark = {"match": "✓ ", "differs": "ℹ ", "skipped": "– "}[f.status]
            parts += _finding_lines(f, mark, mine=False)
    if done.diagnostics:
        parts += _diagnostic_lines(done.diagnostics)
    verdict = (
        Text("✗ the schedule does not survive this resume", "bold red")
        if done.failed
        else Text("✓ the schedule survives the resume", "green")
    )
    parts.append(verdict)
    return Group(*parts)


def _finding_lines(f: Any, mark: str, *, mine: bool) -> list[RenderableType]:
    style = {"✓ ": "green", "⚠ ": "yellow", "ℹ ": "cyan", "– ": "dim"}[mark]
    head = Text(mark, style)
    body = Text.assemble((f"{f.style} at step {f.at}: ", "bold" if mine else ""), f.message)
    lines: list[RenderableType] = [_Hanging(head, body, 2)]
    if f.cause:
        lines.append(_Hanging(Text("  cause: ", "dim"), Text(f.cause, "dim"), 9))
    for note in f.notes:
        if not note.startswith(("built with", "moved as")):
            lines.append(_Hanging(Text("  note: ", "dim"), Text(note, "dim"), 8))
    if f.fix and mine:
        lines.append(_Hanging(Text("  fix: ", "dim"), Text(f.fix, "dim"), 7))
    return lines


def verify_view(
    done: Any, *, table: bool = False, every: int | None = None
) -> list[RenderableType]:
    """Report ``lrplot verify``: what was read, the verdict, its explanation, the checks.

    Args:
        done: a ``lrplot.verify.Verification``.
        table: also show a table of the paired values (about 40 rows; the first
            divergence and its neighbours always).
        every: with ``table``, show every K-th paired value.
    """
    log = done.log
    parts: list[RenderableType] = []
    if table:
        parts.append(verify_table(done, every=every))
    parts.append(Text.assemble(("verified ", "dim"), (done.command, "bold")))
    read = f"{log.path}: {log.source}, {_n(len(log.steps), 'value')}; {log.pairing}"
    read += f"; written by {log.writer}" if log.writer else ""
    parts.append(_Hanging(Text(""), Text(f"against {read}", "dim"), 2))
    if done.written:
        names = ["CSV to stdout" if o == "-" else str(o) for o in done.written]
        parts.append(Text.assemble(("wrote ", "green"), (", ".join(names), "bold")))
    parts.extend(Text(f"note: {note}", "dim") for note in [*done.plan.notes, *done.notes])
    e = done.explanation
    if done.ok:
        parts.append(
            _Hanging(
                Text("✓ ", "green"), Text(f"the run followed the plan: {e.message}", "green"), 2
            )
        )
    else:
        first = done.first
        where = f"step {done.first_step}"
        if first is not None:
            got, want = _apart(float(done.logged[first]), float(done.planned[first]))
            where += f" ({got} logged, {want} planned)"
        parts.append(
            _Hanging(
                Text("✗ ", "bold red"),
                Text(
                    f"the run left the plan at {where}; largest relative error "
                    f"{done.max_rel:.3g} (--rtol {done.rtol:g})",
                    "bold red",
                ),
                2,
            )
        )
        kind = e.kind + ("" if e.exact else ", approximately")
        parts.append(_Hanging(Text("  "), Text.assemble((f"{kind}: ", "yellow"), e.message), 4))
        if not done.written:
            parts.append(Text("  add -o verify.png to see both curves", "dim"))
    parts += _diagnostic_lines(done.diagnostics)
    return parts


def _apart(a: float, b: float) -> tuple[str, str]:
    """Format two numbers with the fewest digits (4 or more) that tell them apart.

    Example:
        >>> _apart(0.1, 0.09999997)
        ('0.1', '0.09999997')
    """
    for digits in range(4, 17):
        x, y = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if x != y or a == b:
            return x, y
    return f"{a!r}", f"{b!r}"


def verify_table(done: Any, *, every: int | None = None, max_rows: int = 40) -> Table:
    """Return a table of the paired values: step, logged step, planned, logged, error.

    Example:
        >>> import numpy as np
        >>> from types import SimpleNamespace as NS
        >>> v = NS(rows=np.arange(3), planned=np.ones(3), logged=np.array([1, 1, 2.0]),
        ...        errors=np.array([0, 0, 1.0]), rtol=1e-5, first=2, log=NS(base=1))
        >>> verify_table(v).row_count
        3
    """
    n = len(done.rows)
    step = every or max(1, math.ceil(n / max(1, max_rows - 4)))
    picked = set(range(0, n, step)) | ({n - 1} if n else set())
    if done.first is not None:
        picked |= {i for i in (done.first - 1, done.first, done.first + 1) if 0 <= i < n}
    rows = sorted(picked)
    caption = f"all {n} logged values" if len(rows) == n else f"{len(rows)} of {n} logged values"
    out = Table(caption=caption, caption_justify="right", min_width=len(caption) + 2)
    base = done.log.base
    names = ["step", *(["logged step"] if base else []), "planned", "logged", "rel. error"]
    for name in names:
        out.add_column(name, justify="right", style="cyan" if name == "logged" else None)
    out.add_column("")
    for i in rows:
        bad = done.errors[i] > done.rtol
        out.add_row(
            str(int(done.rows[i])),
            *([str(int(done.rows[i]) + base)] if base else []),
            _fmt6(float(done.planned[i])),
            _fmt6(float(done.logged[i])),
            f"{float(done.errors[i]):.2g}",
            Text("✗", "red") if bad else Text(""),
        )
    return out


def _nice(x: float) -> int:
    """Return the smallest 'round' integer stride >= x (1, 2, 3, 4, 5, 6, 8, 10, 15...)."""
    if x <= 1:
        return 1
    k = 10 ** math.floor(math.log10(x))
    for m in (*_NICE, 10.0):
        if m * k >= x - 1e-9 and float(m * k).is_integer():
            return int(m * k)
    return int(10 * k)  # pragma: no cover - the loop always returns


def _plan(schedule: Schedule, every: int | None, max_rows: int) -> tuple[list[int], int, bool]:
    import numpy as np

    n = schedule.n
    if n == 0:
        return [], 1, False
    lr = schedule.lr
    changes = np.flatnonzero(np.any(lr[1:] != lr[:-1], axis=1)) + 1
    use_changes = 0 < changes.size <= min(max_rows, n // 2)  # piecewise constant, few jumps
    if every is None:
        budget = max(max_rows - 2 - (changes.size if use_changes else 0), 1)
        need = n / budget
        spe = schedule.steps_per_epoch
        if spe > 1 and need >= spe:
            every = spe * _nice(need / spe)  # whole epochs
        elif spe > 1:  # several rows per epoch: a divisor of it, so every epoch starts a row
            every = min(d for d in range(1, spe + 1) if spe % d == 0 and d >= need)
        else:
            every = _nice(need)
    every = max(int(every), 1)
    rows = {0, n - 1, *range(0, n, every)}
    if use_changes:
        rows.update(changes.tolist())
    return sorted(rows), every, use_changes


def _extremes(schedule: Schedule) -> dict[int, str]:
    """Return the steps where each group's lr peaks and bottoms out (first time), tagged."""
    import numpy as np

    tags: dict[int, list[str]] = {}
    if schedule.n == 0:
        return {}
    for g in range(schedule.groups):
        lr = schedule.lr[:, g]
        if lr.max() == lr.min():
            continue
        many = f" lr_{g}" if schedule.groups > 1 else ""
        for step, word in ((int(np.argmax(lr)), "peak"), (int(np.argmin(lr)), "min")):
            tags.setdefault(step, []).append(word + many)
    return {k: ", ".join(v) for k, v in tags.items()}


def table_rows(schedule: Schedule, *, every: int | None = None, max_rows: int = 40) -> list[int]:
    """Return the step indices ``table`` shows: first, last, lr changes and every K-th.

    With several steps per epoch, rows fall on epoch boundaries.

    Example:
        >>> s = Schedule(lr=np.repeat([0.1, 0.01], 50))
        >>> table_rows(s, every=25)
        [0, 25, 50, 75, 99]
    """
    return _plan(schedule, every, max_rows)[0]


def table(
    schedule: Schedule, *, every: int | None = None, max_rows: int = 40, momentum: bool = False
) -> Table:
    """Build a rich table of thinned steps: step, epoch, lr(s), momentum, metric.

    Rows fall on epoch boundaries; the steps where the lr peaks and bottoms out are
    added and tagged. The momentum (SGD) or beta1 (Adam) column shows when it varies,
    with Adam/AdamW, or with ``momentum``.

    Args:
        schedule: the simulated schedule.
        every: show every K-th step (None: choose K so about ``max_rows`` rows show).
        max_rows: the row budget when ``every`` is None.
        momentum: always show the momentum/beta1 column.

    Example:
        >>> table(Schedule(lr=np.array([0.1, 0.05]))).row_count
        2
    """
    import numpy as np

    rows, every, changes = _plan(schedule, every, max_rows)
    marks = _extremes(schedule)
    rows = sorted({*rows, *marks})
    cols: dict[str, np.ndarray] = {"step": schedule.step, "epoch": schedule.epoch}
    many = schedule.groups > 1
    for g in range(schedule.groups):
        cols[f"lr_{g}" if many else "lr"] = schedule.lr[:, g]
    mom = schedule.momentum
    varies = mom is not None and mom.size and np.ptp(mom, axis=0).max() > 0
    chosen = momentum or schedule.momentum_name == "beta1"
    if mom is not None and mom.size and (varies or chosen):
        for g in range(schedule.groups):
            name = schedule.momentum_name
            cols[f"{name}_{g}" if many else name] = mom[:, g]
    if schedule.metric is not None:
        cols["metric"] = np.asarray(schedule.metric, dtype=np.float64)
    n = schedule.n
    if len(rows) == n:
        caption = f"all {n} steps shown"
    else:
        how = f"changes + every {every}" if changes else f"every {every}"
        how += " + peak and min" if marks else ""
        caption = f"{len(rows)} of {n} steps shown ({how})"
    out = Table(
        title=Text(schedule.name) if schedule.name else None,
        caption=caption,
        caption_justify="right",
        min_width=len(caption) + 2,
    )
    for name in cols:
        out.add_column(name, justify="right", style="cyan" if name.startswith("lr") else None)
    if marks:
        out.add_column("", style="yellow")
    picked = {k: v[rows].tolist() for k, v in cols.items()}
    for i, row in enumerate(rows):
        cells = [str(v[i]) if k == "step" else _fmt6(v[i]) for k, v in picked.items()]
        out.add_row(*cells, *([marks.get(row, "")] if marks else []))
    return out


def short_labels(labels: Sequence[str]) -> list[str]:
    """Return short, still distinct column labels for SPEC strings: drop what they share.

    The scheduler names alone when they differ, else each SPEC without the items every
    SPEC has; the labels unchanged when shortening would make two alike.

    Example:
        >>> short_labels(["cosine:T_max=100", "step:step_size=30,gamma=0.5"])
        ['cosine', 'step']
        >>> short_labels(["cosine:T_max=50,eta_min=0", "cosine:T_max=100,eta_min=0"])
        ['T_max=50', 'T_max=100']
    """
    split = []
    for label in labels:
        name, colon, rest = label.partition(":")
        if not colon or "=" in name:
            return list(labels)
        split.append((name, [p for p in rest.split(",") if p]))
    names = [name for name, _ in split]
    if len(set(names)) == len(names):
        return names
    common = set.intersection(*(set(items) for _, items in split))
    shown = [",".join(i for i in items if i not in common) or name for name, items in split]
    return shown if len(set(shown)) == len(shown) else list(labels)


def compare_table(schedules: Sequence[Schedule], labels: Sequence[str] | None = None) -> Table:
    """Build a side-by-side summary of group 0 of each schedule, one column per schedule.

    Example:
        >>> a, b = Schedule(lr=np.array([0.1, 0.01])), Schedule(lr=np.array([0.2, 0.1]))
        >>> compare_table([a, b], ["a", "b"]).row_count
        9
    """
    names = list(labels) if labels else [_label(s, i) for i, s in enumerate(schedules)]
    short = short_labels(names)
    renamed = [f"{a} = {b}" for a, b in zip(short, names, strict=True) if a != b]
    out = Table(
        title="comparison (group 0)",
        caption="\n".join(renamed) or None,
        caption_justify="left",
    )
    out.add_column("")
    for name in short:  # headers and row titles wrap; numbers stay whole
        out.add_column(Text(name, overflow="fold"), justify="right")
    stats = [s.stats(0) for s in schedules]
    row = out.add_row

    def add(title: str, *cells: str) -> None:
        row(Text(title), *(Text(c, no_wrap=True) for c in cells))

    add("steps", *(str(s.n) for s in schedules))
    for key, title in (
        ("initial", "initial lr"),
        ("peak", "peak lr"),
        ("min", "min lr"),
        ("final", "final lr"),
        ("mean", "mean lr"),
        ("sum", "sum of lr"),
    ):
        add(title, *(fmt_lr(st[key]) for st in stats))
    for key, title in (
        ("peak_step", "peak at step"),
        ("below_10pct_step", "first < 10% of peak"),
    ):
        add(title, *("—" if st[key] is None else str(st[key]) for st in stats))
    sources = [s.length_from for s in schedules]
    if any(src and src != GIVEN for src in sources):  # lrplot chose some run lengths
        add("run length from", *(src if src != GIVEN else "--epochs" for src in sources))
    return out


def compare_rows(schedules: Sequence[Schedule], labels: Sequence[str] | None = None) -> Table:
    """Build the comparison one schedule per row (for a terminal too narrow for columns).

    Example:
        >>> a, b = Schedule(lr=np.array([0.1, 0.01])), Schedule(lr=np.array([0.2, 0.1]))
        >>> compare_rows([a, b], ["a", "b"]).row_count
        2
    """
    names = list(labels) if labels else [_label(s, i) for i, s in enumerate(schedules)]
    out = Table(title="comparison (group 0)")
    out.add_column("", overflow="fold")
    for head in ("steps", "initial", "peak", "min", "final", "mean"):
        out.add_column(head, justify="right", no_wrap=True)
    for name, s in zip(names, schedules, strict=True):
        st = s.stats(0)
        out.add_row(
            Text(name),
            str(s.n),
            *(fmt_lr(st[k]) for k in ("initial", "peak", "min", "final", "mean")),
        )
    return out


class _Fitting:
    """Print ``wide`` when it fits the console's width, else ``narrow``."""

    def __init__(self, wide: Table, narrow: Table) -> None:
        self.wide, self.narrow = wide, narrow

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.measure import Measurement

        need = Measurement.get(console, options.update(max_width=10_000), self.wide).minimum
        yield self.wide if need <= options.max_width else self.narrow


def term_plot(
    schedules: Schedule | Sequence[Schedule],
    *,
    log: bool = False,
    x: str = "epoch",
    width: int | None = None,
    height: int = 15,
    title: str | None = None,
    labels: Sequence[str] | None = None,
    color: bool | None = None,
) -> str:
    """Draw the lr curve(s) in text with uniplot and return the string.

    Args:
        schedules: one schedule or several; every param group is one line.
        log: log-scale lr axis (every lr must be > 0).
        x: ``epoch``, ``step``, ``samples`` or ``tokens``.
        width: total line width (default: the terminal width, clamped to 40-200).
        height: rows of the plotting area.
        title: the title (default: the schedule name(s) and the x axis).
        labels: one legend label per schedule.
        color: ANSI colours (None: only when there are several lines).

    Raises:
        UsageError: ``log`` with an lr <= 0, or an unknown ``x``.

    Example:
        >>> "demo" in term_plot(Schedule(lr=np.array([0.1, 0.05])), title="demo", width=60)
        True
    """
    import numpy as np
    from uniplot import plot_to_string

    from lrplot.schedule import X_UNITS, Schedule, decimate

    items = [schedules] if isinstance(schedules, Schedule) else list(schedules)
    if x not in X_UNITS:
        raise UsageError(f"unknown x axis {x!r}", hint="use " + ", ".join(X_UNITS))
    names = list(labels) if labels else [_label(s, i) for i, s in enumerate(items)]
    if width is None:
        width = shutil.get_terminal_size((100, 24)).columns - 2
    width = min(max(int(width), 40), 200)
    xs: list[list[float]] = []
    ys: list[list[float]] = []
    legend: list[str] = []
    for s, name in zip(items, names, strict=True):
        if s.n == 0:
            continue
        if log:
            s.require_positive()
        xv = s.epoch if x == "epoch" else s.step.astype(np.float64) * s.x_scale(x)
        for g in range(s.groups):
            px, py = decimate(xv, s.lr[:, g], width)
            xs.append(px.tolist())
            ys.append(py.tolist())
            legend.append(name if s.groups == 1 else f"{name} lr_{g}")
    if not ys:
        return "(no steps to plot)"
    if title is None:
        title = f"{', '.join(names)}: lr by {x}" + (" (log)" if log else "")
    kwargs: dict[str, Any] = {
        "lines": True,
        "width": width - 3,
        "line_length_hard_cap": width,
        "height": height,
        "title": title,
        "y_as_log": log,
    }
    if len(ys) > 1:
        kwargs["legend_labels"] = legend
    if color is not None:
        kwargs["color"] = color
    return str(plot_to_string(ys, xs, **kwargs))


def scheduler_list(rows: Sequence[tuple[str, str, str, str]]) -> RenderableType:
    """Build the ``lrplot list`` table: alias, class, required kwargs, what it does.

    Under 100 columns the torch class moves under the description, so that column keeps
    room to be read (at 80 columns it gets about 45 characters).

    Example:
        >>> from rich.console import Console
        >>> c = Console(width=80)
        >>> with c.capture() as out:
        ...     c.print(scheduler_list([("cosine", "CosineAnnealingLR", "--T_max", "Cosine.")]))
        >>> "Cosine. (CosineAnnealingLR)" in out.get()
        True
    """
    return _SchedulerList(list(rows))


class _SchedulerList:
    """The scheduler table, laid out for the console's width when it is printed."""

    def __init__(self, rows: list[tuple[str, str, str, str]]) -> None:
        self.rows = rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        wide = options.max_width >= 100
        out = Table(title="schedulers", box=box.SIMPLE_HEAD)
        out.add_column("name", style="bold cyan", no_wrap=True)
        if wide:
            out.add_column("torch class", no_wrap=True)
        out.add_column("required", style="yellow", no_wrap=True)
        out.add_column("what it does", ratio=1)
        for alias, cls, required, what in self.rows:
            names = Text(alias.replace(", ", "\n"))
            needs = Text((required or "—").replace(" ", "\n"))
            if wide:
                out.add_row(names, Text(cls), needs, Text(what))
            else:
                out.add_row(names, needs, Text.assemble(what, " ", (f"({cls})", "dim")))
        yield out


def notes_view(notes: Sequence[str]) -> RenderableType:
    """Return what lrplot resolved to build a request (a training config's numbers).

    Example:
        >>> isinstance(notes_view(["steps per epoch: 16"]), Group)
        True
    """
    return Group(*(_Hanging(Text("• ", "cyan"), Text(note), 2) for note in notes))


def result_view(result: Any) -> list[RenderableType]:
    """Return what a command prints for a pipeline result: tables, curve, summary.

    Args:
        result: a ``lrplot.pipeline.Result``.
    """
    display = result.request.display
    flat = result.flat
    parts: list[RenderableType] = []
    if getattr(result.request, "notes", None):
        parts.append(notes_view(result.request.notes))
    if display.table:
        parts += [table(s, every=display.every, momentum=display.momentum) for s in flat]
    if display.term:
        from lrplot.schedule import wants_log

        log = wants_log(flat) if display.log is None else display.log
        curve = term_plot(flat, log=log, x=display.x, title=display.title)
        parts.append(Text.from_ansi(curve))
    if len(flat) > 1:
        parts.append(_Fitting(compare_table(flat), compare_rows(flat)))
    parts.append(
        summary(
            flat[0], outputs=result.written, diagnostics=result.diagnostics, stats=len(flat) == 1
        )
    )
    return parts


# --------------------------------------------------------------------------- console

#: runs of at least this many steps (about a second of stepping) show a progress bar.
PROGRESS_FROM = 300_000


def console(stderr: bool = False) -> Any:
    r"""Return a rich console for lrplot's output (no highlighting, soft wrapping).

    User text (a scheduler name, a label, a title, a file name) is shown, never obeyed:
    control characters in it are printed as escapes (``\x1b``), so text such as
    ``\x1b[2J`` cannot clear or rewrite the terminal. rich's own styles and cursor
    moves (progress bars) are not text and pass as they are.

    Example:
        >>> import io
        >>> c = console()
        >>> c.file = io.StringIO()
        >>> c.print("name: a\x1b[2Jb")
        >>> c.file.getvalue()
        'name: a\\x1b[2Jb\n'
    """
    from rich.console import Console
    from rich.segment import Segment

    class _Shown(Console):
        def render(self, renderable: Any, options: Any = None) -> Any:
            for segment in super().render(renderable, options):
                if segment.control or not segment.text:
                    yield segment
                else:
                    yield Segment(printable(segment.text), segment.style, segment.control)

    return _Shown(stderr=stderr, highlight=False, soft_wrap=True)


def error_lines(message: str, hint: str | None = None) -> RenderableType:
    """Return an error message (and its hint) as printed on stderr.

    Example:
        >>> isinstance(error_lines("unknown scheduler", "did you mean cosine?"), Group)
        True
    """
    parts: list[RenderableType] = [Text.assemble(("error:", "bold red"), " ", message)]
    if hint:
        parts.append(Text.assemble("  ", ("hint:", "dim"), " ", hint))
    return Group(*parts)


def interrupted(terminated: bool = False) -> RenderableType:
    """Return the message printed when a run is interrupted (Ctrl-C) or terminated (SIGTERM)."""
    what = "terminated (SIGTERM)" if terminated else "interrupted"
    return Text.assemble((what, "bold red"), ": no partial file was left behind")


def explore_banner(url: str, opened: bool, max_steps: int) -> RenderableType:
    """Return what ``lrplot explore`` prints once it listens."""
    return Group(
        Text.assemble(("lrplot explore", "bold"), " is serving ", (url, "bold cyan")),
        Text(
            ("opened it in your browser; " if opened else "open it in a browser; ")
            + f"runs of up to {max_steps:,} steps (--max-steps). Ctrl-C stops it.",
            "dim",
        ),
    )


def explore_stopped() -> RenderableType:
    """Return the line printed when the explorer stops."""
    return Text("explorer stopped", "dim")


def progress_bar(out: Any) -> Any:
    """Return a ``pipeline.Progress`` factory drawing a bar on ``out`` for long runs."""
    import contextlib

    @contextlib.contextmanager
    def factory(total: int) -> Any:
        if total < PROGRESS_FROM:
            yield None
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("simulating"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} steps"),
            TimeRemainingColumn(),
            console=out,
            transient=True,
        ) as bar:
            task = bar.add_task("sim", total=total)
            yield lambda done, _total: bar.update(task, completed=done)

    return factory


def gallery_progress(out: Any) -> Any:
    """Return a context manager yielding ``progress(done, total, name)`` for a gallery."""
    import contextlib

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    @contextlib.contextmanager
    def bar() -> Any:
        columns = (
            TextColumn("rendering"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
        )
        with Progress(
            *columns, console=out, transient=True, disable=not out.is_terminal
        ) as progress:
            task = progress.add_task("", total=None)
            yield lambda done, total, name: progress.update(
                task, completed=done, total=total, description=name
            )

    return bar()


def gallery_report(run: Any) -> RenderableType:
    """Report a gallery run: problems, failures, files written or stale, the outcome.

    Args:
        run: a ``lrplot.gallery.GalleryRun``.
    """
    parts: list[RenderableType] = [
        Text.assemble(("error: ", "bold red"), message)
        for message in [*run.problems, *run.failures]
    ]
    parts += [Text.assemble(("skipped: ", "yellow"), message) for message in run.skipped]
    if run.check:
        current = not run.stale and not run.missing and not run.foreign
        if current and (run.failures or run.problems):  # DIR as a whole cannot be current
            if run.produced:
                parts.append(Text(f"the {run.produced} files of the other entries match"))
        elif current:
            parts.append(Text(f"{run.out_dir} is up to date ({run.produced} files match)", "green"))
        else:
            parts += [
                Text.assemble(("stale:   ", "yellow"), str(run.out_dir / n)) for n in run.stale
            ]
            parts += [
                Text.assemble(("missing: ", "red"), str(run.out_dir / n)) for n in run.missing
            ]
            parts += [
                Text.assemble(
                    ("left over: ", "yellow"), str(run.out_dir / n), " (no entry makes it)"
                )
                for n in run.foreign
            ]
            if run.drawn_with:
                parts.append(Text(f"note: {run.drawn_with}", "yellow"))
            over = f", {len(run.foreign)} left over" if run.foreign else ""
            parts.append(
                Text(
                    f"{len(run.stale)} stale and {len(run.missing)} missing of {run.produced} "
                    f"files{over}; regenerate with: {run.regenerate}"
                    + (" (and delete the left-over files)" if run.foreign else ""),
                    "bold red",
                )
            )
    else:
        written = len(run.written)
        parts.append(
            Text(
                f"wrote {written} file{'s' if written != 1 else ''} to {run.out_dir}"
                + (f" ({run.unchanged} unchanged)" if run.unchanged else "")
            )
        )
        if run.foreign:
            parts.append(
                Text(
                    f"note: {len(run.foreign)} image(s) in {run.out_dir} are not from this config "
                    f"and were left alone: {', '.join(run.foreign)}",
                    "dim",
                )
            )
    bad = run.total - run.rendered
    summary = f"rendered {run.rendered} of {run.total} entries" + (f"; {bad} failed" if bad else "")
    summary += f"; {len(run.skipped)} skipped" if run.skipped else ""
    parts.append(Text(summary, "bold red" if bad else "bold green"))
    return Group(*parts)
