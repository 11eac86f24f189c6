"""Draw schedules with matplotlib: curves, comparisons, sweeps and contact sheets.

The only home of matplotlib (DESIGN §3). It is imported inside the functions, and every
figure is a ``matplotlib.figure.Figure`` on an explicit Agg canvas (never pyplot, never
``matplotlib.use``), so importing this module stays cheap and touches no global state.
Long runs are decimated per pixel column (``decimate``), so drawing cost does not grow
with the number of steps.

Drawn lines carry a ``gid``: ``"lr"``, ``"momentum"``, ``"metric"`` or ``"event:<kind>"``
(the dashed markers of decays, restarts, phase changes, reductions and early stops); the
shaded span where a metric given as data has run out is ``"metric-padded"``.

What the pictures promise: the lr (and momentum) is drawn held over each optimizer step
(``steps-post``, ending at the end of the run), as the training loop holds it; a linear lr
axis starts at 0; the lr axis is logarithmic by default when a curve spends 15% of the
run two decades below its peak (``wants_log``); legends, diagnostics and labels sit
outside the data.

Example:
    >>> from lrplot.engine import simulate
    >>> fig = plot(simulate("multistep:milestones=[30,80]"), "multistep.png")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import math
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, cast

import numpy as np

from lrplot.errors import OutputError, UsageError, printable
from lrplot.export import atomic_write, path_error
from lrplot.schedule import X_LABELS, X_UNITS, Schedule, decimate, decimate_indices, wants_log

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "contact_sheet",
    "decimate",
    "plot",
    "resume_plot",
    "save",
    "save_thumbnail",
    "sweep_grid",
    "verify_plot",
    "versions",
]

_TAB10 = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_EVENT_COLORS = {
    "decay": "#9467bd",
    "restart": "#2ca02c",
    "phase": "#ff7f0e",
    "reduce": "#8c564b",
    "stop": "#d62728",
}
_MAX_EVENT_LABELS = 12
_EVENT_FONT = 7.0
_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
#: Drop every time stamp (and the version-bearing PNG "Software" key): same figure, same bytes.
_METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "svg": {"Date": None},
    "pdf": {"CreationDate": None, "ModDate": None},
}
_SAVE_RC = {"svg.hashsalt": "lrplot", "svg.fonttype": "path", "savefig.bbox": "standard"}


def versions() -> dict[str, str]:
    """Return the versions of matplotlib and FreeType that draw the images (pixels differ).

    Example:
        >>> sorted(versions())
        ['freetype', 'matplotlib']
    """
    import matplotlib
    from matplotlib import ft2font

    return {"matplotlib": matplotlib.__version__, "freetype": ft2font.__freetype_version__}


class _Entry(NamedTuple):
    schedule: Schedule
    name: str


def plot(
    schedules: Schedule | Sequence[Schedule],
    path: str | Path | None = None,
    *,
    log: bool | None = None,
    x: Literal["epoch", "step", "samples", "tokens"] = "epoch",
    title: str | None = None,
    momentum: bool = False,
    labels: Sequence[str] | None = None,
    layout: Literal["overlay", "grid"] = "overlay",
    annotations: Sequence[str] = (),
    width_px: int = 1600,
    dpi: int = 200,
) -> Figure:
    """Draw one schedule, or several to compare, and save the figure when given a path.

    Args:
        schedules: one ``Schedule`` (one line per param group) or several (compare).
        path: where to save (``.png``, ``.svg`` or ``.pdf``); None only returns the figure.
        log: draw the lr on a log axis (every lr must be > 0); None chooses (``wants_log``).
        x: the x axis, ``"epoch"`` (fractional), optimizer ``"step"``, ``"samples"`` or
            ``"tokens"`` (these need the schedule's ``samples_per_step``, ``seq_len``).
        title: the title; default the schedule's command line (or "lrplot compare ...").
        momentum: add a panel below with the momentum (SGD) or beta1 (Adam) curve.
        labels: legend names of several schedules; default their names.
        layout: ``"overlay"`` (one axes) or ``"grid"`` (one axes per schedule).
        annotations: short warnings drawn in a box below the axes.
        width_px: the image width in pixels; also the decimation width.
        dpi: dots per inch of the saved image.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        UsageError: a bad option, or ``log`` with an lr that is not > 0.
        OutputError: the file could not be written.

    Example:
        >>> from lrplot.engine import simulate
        >>> fig = plot(simulate("cosine:T_max=10"))
        >>> [round(float(v), 3) for v in fig.axes[0].get_lines()[0].get_ydata()[:3]]
        [0.1, 0.098, 0.09]
    """
    entries = _entries(schedules, labels)
    _check_choice("x", x, X_UNITS)
    _check_choice("layout", layout, ("overlay", "grid"))
    if log is None:
        log = wants_log([e.schedule for e in entries])
    if log:
        _check_log(entries)
    grid = layout == "grid" and len(entries) > 1
    cols = math.ceil(math.sqrt(len(entries))) if grid else 1
    rows = math.ceil(len(entries) / cols) if grid else 1
    w = width_px / dpi
    h = (max(w * 9 / 16, w * 0.62 * rows / cols) if grid else w * 9 / 16) * (
        1.35 if momentum else 1.0
    )
    if title is None:
        many = len(entries) > 1
        title = (
            "lrplot compare: " + ", ".join(e.name for e in entries)
            if many
            else entries[0].schedule.title or entries[0].schedule.name
        )
    with _style():
        fig = _figure(w, h, dpi)
        cells = _cells(fig, rows, cols, len(entries) if grid else 1, momentum)
        groups = [[e] for e in entries] if grid else [entries]
        color, band, xlim, exp = 0, [], _x_range(entries, x), _lr_exponent(entries, log)
        handles: list[Any] = []
        for (ax, mom), group in zip(cells, groups, strict=True):
            panel_band, panel_handles = _draw_panel(
                ax,
                mom,
                group,
                color0=color,
                x=x,
                log=log,
                xlim=xlim,
                exp=exp,
                width=max(64, width_px // cols),
                named=len(group) > 1,
            )
            band += panel_band
            handles += panel_handles
            color += sum(e.schedule.groups for e in group)
            if grid:
                ax.set_title(_wrap(group[0].name, w / cols, 9), fontsize=9)
        if not log:
            _floor_at_zero([ax for ax, _ in cells])
        _headroom(band)
        _label_cells(cells, cols, x, _lr_label(exp), _momentum_name(entries))
        beside = _legend(fig, handles)
        if grid:
            fig.suptitle(_wrap(title, w - beside, 11), fontsize=11)
        elif title:  # over the axes, clear of a legend beside them
            cells[0][0].set_title(_wrap(title, w - beside - 0.9, 10), fontsize=10)
        if annotations:
            _annotate(fig, annotations, w)
    if path is not None:
        save(fig, path)
    return fig


def sweep_grid(
    rows: Sequence[Sequence[Schedule]],
    path: str | Path | None = None,
    *,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    log: bool | None = None,
    x: Literal["epoch", "step", "samples", "tokens"] = "epoch",
    title: str | None = None,
) -> Figure:
    """Draw a two-kwarg sweep: one small axes per cell, shared x and y axes.

    Args:
        rows: the schedules, ``rows[i][j]`` for the i-th value of one kwarg and the j-th
            value of the other.
        path: where to save (``.png``, ``.svg`` or ``.pdf``); None only returns the figure.
        row_labels: one label per row (e.g. ``"T_max=50"``).
        col_labels: one label per column (e.g. ``"eta_min=0"``).
        log: draw the lr on a log axis (every lr must be > 0); None chooses (``wants_log``).
        x: the x axis: ``"epoch"``, ``"step"``, ``"samples"`` or ``"tokens"``.
        title: the figure title; default "lrplot sweep".

    Returns:
        The matplotlib ``Figure``.

    Example:
        >>> from lrplot.engine import simulate
        >>> cells = [[simulate(f"cosine:T_max={t},eta_min={m}", epochs=100) for m in (0, 0.01)]
        ...          for t in (50, 100)]
        >>> fig = sweep_grid(cells, row_labels=["T_max=50", "T_max=100"],
        ...                  col_labels=["eta_min=0", "eta_min=0.01"])
        >>> len(fig.axes)
        4
    """
    if not rows or len(row_labels) != len(rows):
        raise UsageError(f"a sweep needs one label per row: {len(row_labels)} for {len(rows)}")
    ncols = len(col_labels)
    if any(len(r) != ncols for r in rows) or not ncols:
        raise UsageError(f"every sweep row needs {ncols} schedules, one per column label")
    entries = [
        _Entry(s, f"{rl}, {cl}")
        for r, rl in zip(rows, row_labels, strict=True)
        for s, cl in zip(r, col_labels, strict=True)
    ]
    _check_choice("x", x, X_UNITS)
    if log is None:
        log = wants_log([e.schedule for e in entries])
    if log:
        _check_log(entries)
    w, h = max(8.0, 2.6 * ncols + 1), max(4.5, 1.9 * len(rows) + 1)
    with _style():
        fig = _figure(w, h, 200)
        cells = _cells(fig, len(rows), ncols, len(entries), False)
        xlim, exp = _x_range(entries, x), _lr_exponent(entries, log)
        for i, ((ax, _), e) in enumerate(zip(cells, entries, strict=True)):
            r, c = divmod(i, ncols)
            _draw_panel(
                ax,
                None,
                [e],
                color0=0,
                x=x,
                log=log,
                xlim=xlim,
                exp=exp,
                width=400,
                named=False,
                event_labels=False,
            )
            if r == 0:
                ax.set_title(printable(col_labels[c]), fontsize=9)
            if c == 0:
                ax.set_ylabel(printable(row_labels[r]), fontsize=9)
            ax.tick_params(labelsize=7, labelbottom=r == len(rows) - 1, labelleft=c == 0)
            _big_ticks(ax)
        if not log:
            _floor_at_zero([ax for ax, _ in cells])
        fig.supylabel(_lr_label(exp), fontsize=10)
        fig.supxlabel(X_LABELS[x], fontsize=10)
        fig.suptitle(_wrap(title or "lrplot sweep", w, 11), fontsize=11)
    if path is not None:
        save(fig, path)
    return fig


def resume_plot(
    reference: Schedule,
    resumed: Sequence[tuple[str, int, np.ndarray]],
    *,
    marks: Sequence[tuple[int, str]] = (),
    reference_label: str = "uninterrupted",
    selected: Sequence[str] | None = None,
    history: np.ndarray | None = None,
    title: str | None = None,
    x: Literal["epoch", "step"] = "epoch",
    log: bool | None = None,
    width_px: int = 1600,
    dpi: int = 200,
) -> Figure:
    """Draw the uninterrupted run and each resumed run from its resume point on.

    Args:
        reference: the uninterrupted run (its first param group is drawn).
        resumed: ``(label, resume step, rows)`` of each resumed run; drawn dashed from the
            resume step, which gets a dotted line (gid ``"event:resume"``).
        marks: ``(step, label)`` of the first step where a resumed run differs, drawn as
            an ``x`` on that run (gid ``"diverge"``).
        reference_label: the legend label of the reference.
        selected: labels of the runs drawn bold (the way the script resumes); the others
            are drawn thin. Default: all bold.
        history: rows of the run before the resume when they are not the reference's
            (a resume with a changed run length), drawn thin and grey.
        title: the title; default the reference's command line.
        x: the x axis, ``"epoch"`` or optimizer ``"step"``.
        log: log lr axis; None chooses (``wants_log``).

    Example:
        >>> from lrplot.engine import simulate
        >>> ref = simulate("step:step_size=4,gamma=0.5", epochs=12)
        >>> late = ref.lr.copy()
        >>> late[4:] *= 0.5
        >>> fig = resume_plot(ref, [("last-epoch@4", 4, late)], marks=[(4, "last-epoch@4")])
        >>> [line.get_gid() for line in fig.axes[0].get_lines()]
        ['lr', 'resumed', 'diverge', 'event:resume']
    """
    bold = set(selected) if selected is not None else {label for label, _, _ in resumed}
    curves = [
        (
            label,
            np.arange(at, len(rows)),
            np.asarray(rows)[at:, 0],
            "resumed" if label in bold else "other",
        )
        for label, at, rows in resumed
    ]
    if history is not None and len(resumed):
        at = min(at for _, at, _ in resumed)
        curves.insert(
            0, ("before the resume", np.arange(at), np.asarray(history)[:at, 0], "history")
        )
    by_label = {label: np.asarray(rows)[:, 0] for label, _, rows in resumed}
    points = []
    for step, label in marks:
        values = by_label[label]
        if 0 <= step < len(values):
            points.append((step, float(values[step]), label))
    lines = sorted({(at, f"resume at {at}") for _, at, _ in resumed})
    return _overlay(
        reference,
        reference_label,
        curves,
        lines,
        points,
        title=title,
        x=x,
        log=log,
        width_px=width_px,
        dpi=dpi,
    )


def verify_plot(
    plan: Schedule,
    rows: np.ndarray,
    values: np.ndarray,
    *,
    label: str = "logged",
    first: int | None = None,
    title: str | None = None,
    x: Literal["epoch", "step"] = "epoch",
    width_px: int = 1600,
    dpi: int = 200,
) -> Figure:
    """Draw the planned schedule and the lr a training log recorded, divergence marked.

    Args:
        plan: the planned schedule (its first param group is drawn).
        rows: the optimizer step (0-based row of the plan) of each logged value.
        values: the logged lr values.
        label: the legend label of the logged curve (its column or tag).
        first: the first row where the log leaves the plan (a dashed line, gid
            ``"event:diverge"``), or None.
        title: the title; default the plan's command line.
        x: the x axis, ``"epoch"`` or optimizer ``"step"``.

    Example:
        >>> from lrplot.engine import simulate
        >>> plan = simulate("cosine:T_max=10")
        >>> fig = verify_plot(plan, np.arange(10), plan.lr[:, 0] * 1.0, first=None)
        >>> [line.get_gid() for line in fig.axes[0].get_lines()]
        ['lr', 'logged']
        >>> fig = verify_plot(plan, np.arange(10), plan.lr[:, 0] * 2, first=0)
        >>> [line.get_gid() for line in fig.axes[0].get_lines()]
        ['lr', 'logged', 'diverge', 'event:diverge']
    """
    rows, values = np.asarray(rows), np.asarray(values, dtype=float)
    curves = [(label, rows, values, "logged")]
    lines = [] if first is None else [(first, f"first divergence: step {first}")]
    at = np.flatnonzero(rows == first) if first is not None else np.empty(0, dtype=int)
    points = [(first, float(values[at[0]]), label)] if first is not None and at.size else []
    return _overlay(
        plan,
        "planned",
        curves,
        lines,
        points,
        title=title,
        x=x,
        log=None,
        width_px=width_px,
        dpi=dpi,
        line_gid="event:diverge",
    )


def _overlay(
    reference: Schedule,
    ref_label: str,
    curves: Sequence[tuple[str, np.ndarray, np.ndarray, str]],
    lines: Sequence[tuple[int, str]],
    points: Sequence[tuple[int, float, str]],
    *,
    title: str | None,
    x: Literal["epoch", "step"],
    log: bool | None,
    width_px: int,
    dpi: int,
    line_gid: str = "event:resume",
) -> Figure:
    """Draw a reference schedule with other curves over it, marked steps and points."""
    _check_choice("x", x, ("epoch", "step"))
    values = [c[2] for c in curves]
    if log is None:
        log = wants_log([reference]) and all(bool(np.all(v > 0)) for v in values)
    if log:
        reference.require_positive()
    w = width_px / dpi
    xs = _XMap(reference, x)
    with _style():
        fig = _figure(w, w * 9 / 16, dpi)
        ax = fig.add_subplot()
        handles = [_line(ax, xs, reference.lr[:, 0], width_px, _TAB10[0], 1.8, ref_label, "lr")]
        for i, (label, steps, ys, style) in enumerate(curves):
            color = _TAB10[(i + 1) % len(_TAB10)]
            px = np.asarray(_xvalues(reference, x, steps), dtype=float)
            if style == "history":
                color = "0.45"
            if style in ("resumed", "other", "history"):
                if len(ys):
                    px = np.append(px, xs.at(int(steps[-1]) + 1))
                    ys = np.append(ys, ys[-1])
                (line,) = ax.plot(
                    px,
                    ys,
                    color=color,
                    linewidth=1.6 if style == "resumed" else 0.9,
                    alpha=1.0 if style == "resumed" else 0.8,
                    linestyle="-" if style == "history" else (0, (5, 3)),
                    drawstyle="steps-post",
                    label=label,
                    gid="resumed",
                )
            else:
                few = len(ys) <= 200
                (line,) = ax.plot(
                    px,
                    ys,
                    color=color,
                    linewidth=0.9,
                    marker="o" if few else None,
                    markersize=3.2,
                    drawstyle="steps-post",
                    label=label,
                    gid="logged",
                )
            handles.append(line)
        for step, value, _label in points:
            ax.plot(
                [float(_xvalues(reference, x, step))],
                [value],
                marker="x",
                color="#d62728",
                markersize=8,
                markeredgewidth=2,
                linestyle="none",
                gid="diverge",
            )
        marks = [
            (float(_xvalues(reference, x, step)), "phase", text, "0.35") for step, text in lines
        ]
        for a in (ax,):
            a.grid(True, color="0.88", linewidth=0.6)
            a.set_axisbelow(True)
        if log:
            ax.set_yscale("log")
        else:
            ax.ticklabel_format(axis="y", style="plain", useOffset=False)
        hi = max(
            [float(xs.at(reference.n))]
            + [float(_xvalues(reference, x, int(c[1][-1]) + 1)) for c in curves if len(c[1])]
        )
        ax.set_xlim(0.0, hi)
        _draw_events(ax, None, sorted(marks), True)
        for line in ax.get_lines():
            if line.get_gid() == "event:phase":
                line.set_gid(line_gid)
                line.set_linestyle((0, (1, 2)))
        if not log:
            _floor_at_zero([ax])
        _headroom([ax])
        _big_ticks(ax)
        ax.set_xlabel("epoch" if x == "epoch" else "optimizer step")
        ax.set_ylabel("learning rate")
        beside = _legend(fig, handles)
        ax.set_title(
            _wrap(title or reference.title or reference.name, w - beside - 0.9, 10), fontsize=10
        )
    return fig


def save(fig: Figure, path: str | Path) -> None:
    """Write a figure atomically, in the format its extension names, reproducibly.

    The image goes to a temporary file in the target's directory that then replaces
    the target, so a failed save leaves an existing file untouched. Saving the same
    figure twice gives byte-identical files (no dates, fixed SVG ids).

    Args:
        fig: the figure to write.
        path: the target, ending in ``.png``, ``.svg`` or ``.pdf`` (any case).

    Raises:
        OutputError: unknown extension, missing directory, or the file cannot be written.

    Example:
        >>> save(plot(simulate("cosine:T_max=150")), "cosine.svg")  # doctest: +SKIP
    """
    import matplotlib

    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(
            f"cannot write {path}: unknown image format '{path.suffix}'",
            hint="use .png, .svg or .pdf",
        )
    parent = path.parent
    try:
        if not parent.is_dir():
            raise OutputError(f"cannot write {path}: directory {parent} does not exist")
        if path.is_dir():
            raise OutputError(f"cannot write {path}: it is a directory")
    except OSError as exc:
        raise path_error(path, exc) from None

    def write(handle: Any) -> None:
        with _style(), matplotlib.rc_context(cast(Any, _SAVE_RC)):
            fig.savefig(handle, format=fmt, dpi="figure", metadata=_METADATA[fmt])

    try:
        atomic_write(path, write, binary=True)
    except OutputError:
        raise
    except Exception as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc


def save_thumbnail(fig: Figure, path: str | Path, width_px: int) -> None:
    """Save ``fig`` drawn small (not a full image scaled down), at a 16:9 shape.

    The figure is resized in place, so call this after every full-size save. Thumbnails
    of one shape keep a contact sheet's rows even.

    Example:
        >>> save_thumbnail(plot(simulate("cosine:T_max=10")), "cell.png", 480)  # doctest: +SKIP
    """
    width = fig.get_figwidth()
    fig.set_size_inches(width, width * 9 / 16)
    fig.set_dpi(width_px / width)
    save(fig, path)


def contact_sheet(
    images: Sequence[tuple[str, str | Path]], path: str | Path, columns: int = 4
) -> None:
    """Compose rendered PNG files into one titled grid image.

    Args:
        images: ``(title, png_path)`` pairs, in reading order.
        path: the sheet to write (``.png``, ``.svg`` or ``.pdf``).
        columns: images per row.

    Raises:
        OutputError: no images, an image cannot be read, or the sheet cannot be written.

    Example:
        >>> contact_sheet([("cosine", "cosine.png"), ("step", "step.png")],
        ...               "sheet.png")  # doctest: +SKIP
    """
    import matplotlib.image

    if not images:
        raise OutputError(f"cannot write {path}: no images for the contact sheet")
    cols = max(1, min(columns, len(images)))
    rows = math.ceil(len(images) / cols)
    cell_w, dpi = 3.2, 150
    pictures = []
    for name, src in images:
        try:
            img = matplotlib.image.imread(src)
        except (OSError, ValueError, SyntaxError) as exc:
            raise OutputError(f"cannot read {src} for the contact sheet: {exc}") from exc
        pictures.append((name, _shrink(img, int(cell_w * dpi))))
    aspect = max(p.shape[0] / p.shape[1] for _, p in pictures)
    with _style():
        fig = _figure(cell_w * cols, (cell_w * aspect + 0.35) * rows, dpi)
        for i, ax in enumerate(fig.subplots(rows, cols, squeeze=False).flat):
            ax.set_axis_off()
            if i < len(pictures):
                name, img = pictures[i]
                ax.imshow(img, interpolation="antialiased")
                ax.set_title(_wrap(name, cell_w, 8), fontsize=8)
    save(fig, path)


# -- drawing helpers ---------------------------------------------------------------------


def _draw_panel(
    ax: Axes,
    mom: Axes | None,
    entries: list[_Entry],
    *,
    color0: int,
    x: str,
    log: bool,
    xlim: tuple[float, float],
    exp: int,
    width: int,
    named: bool,
    event_labels: bool = True,
) -> tuple[list[Axes], list[Any]]:
    """Draw the lr lines (and momentum, metric, events) of some schedules on one panel.

    Returns the y axes that need a band at the top for event labels, and the legend
    handles when the panel holds more than one lr line (none otherwise: the axis labels
    name a single line and its metric).
    """
    handles, twin, color = [], None, color0
    events: dict[tuple[float, str, str], str | None] = {}
    several = len(entries) > 1
    for entry in entries:
        s = entry.schedule
        xs = _XMap(s, x)
        first = _TAB10[color % len(_TAB10)]
        for g in range(s.groups):
            c = _TAB10[color % len(_TAB10)]
            color += 1
            label = _line_label(entry.name if named else "", s, g)
            handles.append(_line(ax, xs, s.lr[:, g], width, c, 1.6, label, "lr"))
            if mom is not None and s.momentum is not None:
                _line(mom, xs, s.momentum[:, g], width, c, 1.4, label, "momentum")
        if s.metric is not None:
            if twin is None:
                twin = _metric_axes(ax, s if not several else None)
            mc = "0.5" if not several else first
            label = f"{entry.name} {s.metric_name}" if named else s.metric_name
            line = _line(
                twin,
                xs,
                np.asarray(s.metric, dtype=float),
                width,
                mc,
                0.9 if not several else 0.7,
                label,
                "metric",
            )
            handles.append(line)
            _shadow(ax, line)
            if s.metric_given is not None:
                ax.axvspan(
                    float(xs.at(s.metric_given)),
                    float(xs.at(s.n)),
                    color="0.55",
                    alpha=0.13,
                    linewidth=0,
                    zorder=0,
                    gid="metric-padded",
                )
        for e in s.events:  # on a shared panel, each curve's markers take its colour
            events.setdefault((float(_xvalues(s, x, e.step)), e.kind, e.label), first * several)
    for a in (ax, mom):
        if a is not None:
            a.grid(True, color="0.88", linewidth=0.6)
            a.set_axisbelow(True)
            if a is mom or not (log or exp):
                a.ticklabel_format(axis="y", style="plain", useOffset=False)
            _big_ticks(a)
    if exp and not log:
        from matplotlib.ticker import FuncFormatter

        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 10.0**exp:g}"))
    if log:
        from matplotlib.ticker import LogFormatterSciNotation

        ax.set_yscale("log")  # label 2 and 5 between the decades when there are few
        ax.yaxis.set_minor_formatter(
            LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=(2, 0.5))
        )
    if xlim[1] > xlim[0]:
        ax.set_xlim(*xlim)
    if mom is not None and not any(e.schedule.momentum is not None for e in entries):
        mom.text(
            0.5,
            0.5,
            "no momentum recorded",
            transform=mom.transAxes,
            ha="center",
            va="center",
            color="0.5",
            fontsize=8,
        )
    marks = sorted((xv, kind, label, c or None) for (xv, kind, label), c in events.items())
    labelled = _draw_events(ax, mom, marks, event_labels)
    lr_lines = sum(1 for h in handles if h.get_gid() == "lr")
    band = [a for a in (ax, twin) if a is not None] if labelled else []
    return band, handles if lr_lines > 1 else []


def _legend(fig: Figure, handles: list[Any]) -> float:
    """Put the legend beside the axes, right of the figure (never on a curve).

    Returns about how many inches it takes, so a title can be wrapped clear of it.
    """
    seen: dict[str, Any] = {}
    for h in handles:
        seen.setdefault(h.get_label(), h)
    if len(seen) < 2:
        return 0.0
    cols = 2 if len(seen) > 16 else 1
    fig.legend(
        handles=list(seen.values()),
        loc="outside right upper",
        fontsize=8,
        frameon=False,
        ncols=cols,
    )
    longest = max(len(label) for label in seen)
    return cols * (longest * 0.6 * 8 / 72 + 0.5)


def _floor_at_zero(axes: list[Axes]) -> None:
    """Start each linear lr axis at 0, so a x2 change never looks like x10."""
    for ax in axes:
        ax.autoscale_view()
        bottom, top = ax.get_ylim()
        if bottom > 0:
            ax.set_ylim(0, top)


def _big_ticks(ax: Axes) -> None:
    """Label a long x axis 0, 500k, 1M (never with a ``1e6`` offset)."""
    from matplotlib.ticker import FuncFormatter

    if max(abs(v) for v in ax.get_xlim()) < 10_000:
        return
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _si(v)))


def _si(value: float) -> str:
    """Return ``500k``, ``1.5M``, ``2G`` or the plain number below 1000.

    Example:
        >>> _si(0), _si(500_000), _si(1_500_000), _si(750)
        ('0', '500k', '1.5M', '750')
    """
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


class _XMap(NamedTuple):
    """The x values of a schedule, computed only for the points actually drawn."""

    schedule: Schedule
    x: str

    def __call__(self, idx: np.ndarray | None) -> np.ndarray:
        steps = self.schedule.step if idx is None else idx
        return np.asarray(_xvalues(self.schedule, self.x, steps), dtype=float)

    def at(self, step: int) -> float:
        """Return the x value of one optimizer step (``n``: the end of the run)."""
        return float(_xvalues(self.schedule, self.x, step))


def _line(
    ax: Axes, xs: _XMap, ys: np.ndarray, width: int, color: str, lw: float, label: str, gid: str
) -> Any:
    """Plot one decimated line and return it.

    The lr and momentum are held over each optimizer step, so they are drawn as steps
    (``steps-post``) up to the end of the last step: a restart or a decay is a vertical
    edge at its step, never a slope over the step before it. Decimation keeps every jump,
    so this stays exact for long runs. The metric is a value per step, drawn as a line.
    """
    held = gid in ("lr", "momentum")
    style = "steps-post" if held else "default"
    idx = decimate_indices(ys, width)
    dx, dy = xs(idx), (ys if idx is None else ys[idx])
    if held and len(ys):  # the last step lasts until the end of the run
        dx, dy = np.append(dx, xs.at(len(ys))), np.append(dy, ys[-1])
    (line,) = ax.plot(dx, dy, color=color, linewidth=lw, label=label, gid=gid, drawstyle=style)
    return line


def _shadow(ax: Axes, line: Any) -> None:
    """Add an invisible copy of a twin-axes line so ``ax``'s legend avoids it too."""
    from matplotlib.lines import Line2D

    ghost = Line2D(
        line.get_xdata(),
        line.get_ydata(),
        transform=line.get_transform(),
        visible=False,
        gid="legend-avoid",
    )
    ax.add_artist(ghost)  # add_artist: neither drawn nor counted in the data limits


def _metric_axes(ax: Axes, schedule: Schedule | None) -> Axes:
    """Return a twin y axis for the plateau metric, drawn under the lr lines.

    With one schedule the axis is labelled with the metric's name (its CSV column) and
    says when the shaded end of the run repeats the metric's last value.
    """
    twin = ax.twinx()
    name = schedule.metric_name if schedule is not None else "metric"
    if schedule is not None and schedule.metric_given is not None:
        name += " (shaded: last value repeated)"
    twin.set_ylabel(name, color="0.4")
    twin.tick_params(axis="y", colors="0.4", labelsize=8)
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    return twin


def _draw_events(
    ax: Axes, mom: Axes | None, events: list[tuple[float, str, str, str | None]], labelled: bool
) -> bool:
    """Draw dashed event lines and, unless crowded, short labels; return True if labelled.

    Each event is ``(x, kind, label, colour)``: the colour of its curve on a shared panel,
    else None (the kind's colour). A label is skipped where it would overlap the last.
    """
    from matplotlib.transforms import offset_copy

    labelled = labelled and len(events) <= _MAX_EVENT_LABELS
    lo, hi = ax.get_xlim()
    fig = cast("Figure", ax.get_figure())
    points = ax.get_position().width * fig.get_figwidth() * 72  # about the axes width
    per_point = (hi - lo) / points if hi > lo else 0.0
    free_from, drawn = -math.inf, False
    for xv, kind, label, own in events:
        color = own or _EVENT_COLORS.get(kind, "0.45")
        for a in (ax, mom):
            if a is not None:
                a.axvline(
                    xv,
                    color=color,
                    linewidth=0.9,
                    linestyle=(0, (4, 3)),
                    alpha=0.85,
                    zorder=1.5,
                    gid=f"event:{kind}",
                )
        text = "stopped" if kind == "stop" else label
        size = (len(text) * 0.62 * _EVENT_FONT + 4) * per_point
        right = xv + size <= hi  # the label fits right of its line
        if not (kind == "stop" or (labelled and (xv if right else xv - size) >= free_from)):
            continue
        trans = offset_copy(ax.get_xaxis_transform(), fig=fig, x=2 if right else -2, units="points")
        ax.text(
            xv,
            0.985,
            text,
            transform=trans,
            ha="left" if right else "right",
            va="top",
            fontsize=_EVENT_FONT,
            color=color,
            zorder=4,
        )
        free_from, drawn = xv + size if right else xv + 4 * per_point, True
    return drawn


def _headroom(axes: list[Axes]) -> None:
    """Raise the top of each y axis (once per shared group) to make a band for labels."""
    done: set[int] = set()
    for a in axes:
        siblings = a.get_shared_y_axes().get_siblings(a)
        if any(id(s) in done for s in siblings):
            continue
        done.update(id(s) for s in siblings)
        a.autoscale_view()
        bottom, top = a.get_ylim()
        if a.get_yscale() == "log" and bottom > 0:
            a.set_ylim(bottom, top * (top / bottom) ** 0.09)
        else:
            a.set_ylim(bottom, top + 0.09 * (top - bottom))


def _annotate(fig: Figure, notes: Sequence[str], fig_width: float) -> None:
    """Draw diagnostic notes in a box below the axes (constrained layout makes room)."""
    text = "\n".join(_wrap(f"! {n}", fig_width * 0.95, 7.5) for n in notes)
    fig.supxlabel(
        text,
        x=0.01,
        ha="left",
        multialignment="left",
        fontsize=7.5,
        bbox={"boxstyle": "round,pad=0.4", "fc": "#fff8e1", "ec": "#e0a800"},
    )


def _cells(
    fig: Figure, rows: int, cols: int, count: int, momentum: bool
) -> list[tuple[Axes, Axes | None]]:
    """Return (lr axes, momentum axes or None) for each cell, sharing x and y."""
    gs = fig.add_gridspec(
        rows * (2 if momentum else 1), cols, height_ratios=[3, 1] * rows if momentum else None
    )
    cells: list[tuple[Axes, Axes | None]] = []
    for i in range(count):
        r, c = divmod(i, cols)
        first, first_mom = cells[0] if cells else (None, None)
        ax = fig.add_subplot(gs[r * 2 if momentum else r, c], sharex=first, sharey=first)
        mom = fig.add_subplot(gs[r * 2 + 1, c], sharex=ax, sharey=first_mom) if momentum else None
        cells.append((ax, mom))
    return cells


def _label_cells(
    cells: list[tuple[Axes, Axes | None]], cols: int, x: str, lr_label: str, momentum_name: str
) -> None:
    """Put axis labels on the outer cells only and hide the inner tick labels."""
    for i, (ax, mom) in enumerate(cells):
        bottom = mom if mom is not None else ax
        if mom is not None:
            ax.tick_params(labelbottom=False)
        if i + cols < len(cells):
            bottom.tick_params(labelbottom=False)
        else:
            bottom.set_xlabel(X_LABELS[x])
        if i % cols:
            for a in (ax, mom):
                if a is not None:
                    a.tick_params(labelleft=False)
        else:
            ax.set_ylabel(lr_label)
            if mom is not None:
                mom.set_ylabel(momentum_name)


# -- small helpers -------------------------------------------------------------------------


def _entries(
    schedules: Schedule | Sequence[Schedule], labels: Sequence[str] | None
) -> list[_Entry]:
    """Pair each schedule with its display name; make duplicate names distinct."""
    items = [schedules] if isinstance(schedules, Schedule) else list(schedules)
    if not items:
        raise UsageError("nothing to plot: no schedules given")
    if labels is not None:
        if len(labels) != len(items):
            raise UsageError(f"{len(labels)} labels for {len(items)} schedules")
        return [
            _Entry(s, printable(str(n), newlines=False)) for s, n in zip(items, labels, strict=True)
        ]
    names = [s.name or f"schedule {i}" for i, s in enumerate(items)]
    for name in set(names):
        same = [i for i, n in enumerate(names) if n == name]
        if len(same) > 1:
            for i, short in zip(same, _distinct([items[i].title for i in same]), strict=True):
                names[i] = short or f"{name} #{same.index(i) + 1}"
    return [_Entry(s, printable(n, newlines=False)) for s, n in zip(items, names, strict=True)]


def _distinct(titles: list[str]) -> list[str]:
    """Shorten command lines to the scheduler and the flags in which they differ."""
    split = [t.removeprefix("lrplot ").split(" --") for t in titles]
    common = set.intersection(*(set(parts[1:]) for parts in split))
    short = [" --".join([p[0], *(f for f in p[1:] if f not in common)]) for p in split]
    return short if len(set(short)) == len(short) else [""] * len(titles)


def _line_label(name: str, s: Schedule, g: int) -> str:
    """Return the legend label of group ``g`` of a schedule."""
    group = f"group {g} (lr {s.lr[0, g]:g})" if s.groups > 1 and s.n else ""
    name = printable(name, newlines=False)
    if name:
        return f"{name} · {group}" if group else name
    return group or "learning rate"


def _lr_exponent(entries: list[_Entry], log: bool) -> int:
    """Return the power of ten to factor out of linear lr tick labels (0 for none)."""
    tops = [  # the largest magnitude, without a copy of a long curve
        max(abs(float(e.schedule.lr.max())), abs(float(e.schedule.lr.min())))
        for e in entries
        if e.schedule.n
    ]
    top = max(tops, default=0.0)
    if log or not math.isfinite(top) or top == 0 or 1e-2 <= top < 1e4:
        return 0
    return math.floor(math.log10(top))


def _lr_label(exp: int) -> str:
    """Return the lr axis label, with the factored-out power of ten if any."""
    return f"learning rate ($\\times 10^{{{exp}}}$)" if exp else "learning rate"


def _momentum_name(entries: list[_Entry]) -> str:
    """Return the momentum panel's y label: momentum, beta1, or both."""
    names = sorted({e.schedule.momentum_name for e in entries if e.schedule.momentum is not None})
    return " / ".join(names) or "momentum"


def _xvalues(s: Schedule, x: str, steps: Any) -> Any:
    """Convert optimizer steps to the x axis unit."""
    if x == "epoch":
        return steps / s.steps_per_epoch
    return np.asarray(steps, dtype=float) * s.x_scale(x)


def _x_range(entries: list[_Entry], x: str) -> tuple[float, float]:
    """Return the x limits: the data range, up to the planned end when a run stopped."""
    ends = [max(e.schedule.n, e.schedule.planned_steps or 0) for e in entries]
    hi = max(float(_xvalues(e.schedule, x, end)) for e, end in zip(entries, ends, strict=True))
    return 0.0, hi


def _check_log(entries: list[_Entry]) -> None:
    """Raise UsageError when a log axis cannot show some lr (not > 0)."""
    for e in entries:
        e.schedule.require_positive()


def _check_choice(option: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise UsageError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise UsageError(f"{option} must be one of {', '.join(choices)}, not '{value}'")


def _wrap(text: str, width_in: float, fontsize: float) -> str:
    """Wrap text to fit about ``width_in`` inches at ``fontsize`` points."""
    chars = max(12, int(width_in * 72 / (0.6 * fontsize)))
    text = printable(text).replace("\t", " ")
    return textwrap.fill(text, chars, break_on_hyphens=False, break_long_words=False)


def _shrink(img: np.ndarray, target: int) -> np.ndarray:
    """Average pixel blocks so an image is about ``target`` pixels wide (saves memory)."""
    k = img.shape[1] // target
    if k < 2:
        return img
    h, w = (img.shape[0] // k) * k, (img.shape[1] // k) * k
    blocks = img[:h, :w].reshape(h // k, k, w // k, k, *img.shape[2:])
    return blocks.mean(axis=(1, 3), dtype=np.float32)


@contextlib.contextmanager
def _style() -> Iterator[None]:
    """Use matplotlib's default style, whatever the user's matplotlibrc says.

    A character the font lacks (from a user's title or label) is drawn as a box, without
    matplotlib's warning about it on the terminal.
    """
    import warnings

    import matplotlib.style

    with matplotlib.style.context("default"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        yield


def _figure(w: float, h: float, dpi: int) -> Figure:
    """Return a constrained-layout figure on its own Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig
