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
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lrplot.errors import UsageError, printable

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


def _run_stats(schedule: Schedule) -> list[RenderableType]:
    parts: list[RenderableType] = []
    epochs = schedule.n / schedule.steps_per_epoch
    size = f"{schedule.n:,} steps"
    if schedule.stopped:
        size = f"{schedule.n:,} of {schedule.planned_steps:,} planned steps"
    whole = float(epochs).is_integer()
    size += f" · {int(epochs):,} epochs" if whole else f" · {epochs:.6g} epochs"
    if schedule.steps_per_epoch > 1:
        size += f" × {schedule.steps_per_epoch} steps"
    groups = "group" if schedule.groups == 1 else "groups"
    size += f" · {schedule.groups} param {groups} · scheduler.step() per {schedule.step_per}"
    parts.append(Text(size))
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


def _diagnostic_lines(diagnostics: Sequence[Any]) -> list[RenderableType]:
    parts: list[RenderableType] = []
    for d in diagnostics:
        warn = getattr(d, "level", "warning") == "warning"
        line = Text("⚠ " if warn else "ℹ ", "yellow" if warn else "cyan")
        line.append(str(d.message))
        parts.append(line)
        if getattr(d, "fix", None):
            parts.append(Text(f"  fix: {d.fix}", "dim"))
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
        every = spe * _nice(need / spe) if spe > 1 and need >= spe else _nice(need)
    every = max(int(every), 1)
    rows = {0, n - 1, *range(0, n, every)}
    if use_changes:
        rows.update(changes.tolist())
    return sorted(rows), every, use_changes


def table_rows(schedule: Schedule, *, every: int | None = None, max_rows: int = 40) -> list[int]:
    """Return the step indices ``table`` shows: first, last, lr changes and every K-th.

    Example:
        >>> s = Schedule(lr=np.repeat([0.1, 0.01], 50))
        >>> table_rows(s, every=25)
        [0, 25, 50, 75, 99]
    """
    return _plan(schedule, every, max_rows)[0]


def table(schedule: Schedule, *, every: int | None = None, max_rows: int = 40) -> Table:
    """Build a rich table of thinned steps: step, epoch, lr(s), momentum, metric.

    Args:
        schedule: the simulated schedule.
        every: show every K-th step (None: choose K so about ``max_rows`` rows show).
        max_rows: the row budget when ``every`` is None.

    Example:
        >>> table(Schedule(lr=np.array([0.1, 0.05]))).row_count
        2
    """
    import numpy as np

    rows, every, changes = _plan(schedule, every, max_rows)
    cols: dict[str, np.ndarray] = {"step": schedule.step, "epoch": schedule.epoch}
    many = schedule.groups > 1
    for g in range(schedule.groups):
        cols[f"lr_{g}" if many else "lr"] = schedule.lr[:, g]
    mom = schedule.momentum
    if mom is not None and mom.size and np.ptp(mom, axis=0).max() > 0:
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
        caption = f"{len(rows)} of {n} steps shown ({how})"
    out = Table(
        title=Text(schedule.name) if schedule.name else None,
        caption=caption,
        caption_justify="right",
        min_width=len(caption) + 2,
    )
    for name in cols:
        out.add_column(name, justify="right", style="cyan" if name.startswith("lr") else None)
    picked = {k: v[rows].tolist() for k, v in cols.items()}
    for i in range(len(rows)):
        out.add_row(*(str(v[i]) if k == "step" else _fmt6(v[i]) for k, v in picked.items()))
    return out


def compare_table(schedules: Sequence[Schedule], labels: Sequence[str] | None = None) -> Table:
    """Build a side-by-side summary of group 0 of each schedule, one column per schedule.

    Example:
        >>> a, b = Schedule(lr=np.array([0.1, 0.01])), Schedule(lr=np.array([0.2, 0.1]))
        >>> compare_table([a, b], ["a", "b"]).row_count
        9
    """
    names = list(labels) if labels else [_label(s, i) for i, s in enumerate(schedules)]
    out = Table(title="comparison (group 0)")
    out.add_column("")
    for name in names:
        out.add_column(Text(name), justify="right")
    stats = [s.stats(0) for s in schedules]
    out.add_row("steps", *(str(s.n) for s in schedules))
    for key, title in (
        ("initial", "initial lr"),
        ("peak", "peak lr"),
        ("min", "min lr"),
        ("final", "final lr"),
        ("mean", "mean lr"),
        ("sum", "sum of lr"),
    ):
        out.add_row(title, *(fmt_lr(st[key]) for st in stats))
    for key, title in (
        ("peak_step", "peak at step"),
        ("below_10pct_step", "first step < 10% of peak"),
    ):
        out.add_row(title, *("—" if st[key] is None else str(st[key]) for st in stats))
    return out


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
        x: ``epoch`` or ``step``.
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

    from lrplot.schedule import Schedule, decimate

    items = [schedules] if isinstance(schedules, Schedule) else list(schedules)
    if x not in ("epoch", "step"):
        raise UsageError(f"unknown x axis {x!r}", hint="use epoch or step")
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
        xv = s.epoch if x == "epoch" else s.step.astype(np.float64)
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


def scheduler_list(rows: Sequence[tuple[str, str, str, str]]) -> Table:
    """Build the ``lrplot list`` table: alias, class, required kwargs, what it does.

    Example:
        >>> scheduler_list([("cosine", "CosineAnnealingLR", "T_max", "cosine decay")]).row_count
        1
    """
    out = Table(title="schedulers", box=box.SIMPLE_HEAD)
    out.add_column("name", style="bold cyan", no_wrap=True)
    out.add_column("torch class", no_wrap=True)
    out.add_column("required", style="yellow", no_wrap=True)
    out.add_column("what it does", ratio=1)
    for alias, cls, required, what in rows:
        out.add_row(
            *(
                Text(c)
                for c in (
                    alias.replace(", ", "\n"),
                    cls,
                    (required or "—").replace(" ", "\n"),
                    what,
                )
            )
        )
    return out


def result_view(result: Any) -> list[RenderableType]:
    """Return what a command prints for a pipeline result: tables, curve, summary.

    Args:
        result: a ``lrplot.pipeline.Result``.
    """
    display = result.request.display
    flat = result.flat
    parts: list[RenderableType] = []
    if display.table:
        parts += [table(s, every=display.every) for s in flat]
    if display.term:
        curve = term_plot(flat, log=display.log, x=display.x, title=display.title)
        parts.append(Text.from_ansi(curve))
    if len(flat) > 1:
        parts.append(compare_table(flat))
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
    if run.check:
        if not run.stale and not run.missing:
            parts.append(Text(f"{run.out_dir} is up to date ({run.produced} files match)", "green"))
        else:
            parts += [
                Text.assemble(("stale:   ", "yellow"), str(run.out_dir / n)) for n in run.stale
            ]
            parts += [
                Text.assemble(("missing: ", "red"), str(run.out_dir / n)) for n in run.missing
            ]
            parts.append(
                Text(
                    f"{len(run.stale)} stale and {len(run.missing)} missing of {run.produced} "
                    f"files; regenerate with: {run.regenerate}",
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
    parts.append(Text(summary, "bold red" if bad else "bold green"))
    return Group(*parts)
