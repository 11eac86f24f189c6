"""The one pipeline: specs -> schedules -> diagnostics -> figure -> files -> result.

Every client (the scheduler commands, ``check``, ``compare``, the gallery) builds a
``Request`` and calls ``run`` once; it gets back a ``Result`` to format. Nothing here
prints: progress is a callback and the summary is data.

Example:
    >>> from lrplot.spec import make_spec
    >>> result = run(Request([[make_spec("cosine", {"T_max": 20}, epochs=150)]]))
    >>> [d.code for d in result.diagnostics]
    ['cosine-short-tmax']
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from lrplot import export, registry
from lrplot.diagnose import Diagnostic, diagnose
from lrplot.errors import UsageError
from lrplot.options import DEFAULT_MAX_STEPS, RUN, DisplayOptions, RunOptions, run_options
from lrplot.schedule import X_UNITS, Schedule, wants_log
from lrplot.spec import (
    Axis,
    ScheduleSpec,
    check_steps,
    display_value,
    parse_spec,
    parse_sweeps,
    quote_words,
    sweep_grid,
    sweep_text,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Kind = Literal["schedule", "compare", "sweep"]
#: ``progress(total)`` returns a context whose value is ``update(done, total)`` or None.
Progress = Callable[[int], AbstractContextManager[Callable[[int, int], None] | None]]
#: how many diagnostics an image shows before "and N more".
ANNOTATE_MAX = 4
#: the most schedules one comparison may hold.
MAX_COMPARE = 12


@dataclass
class Request:
    """What to simulate and what to produce.

    Attributes:
        grid: the specs, ``[[spec]]`` for one schedule, one row for a comparison or a
            one-kwarg sweep, rows x columns for a two-kwarg sweep.
        display: what to draw and write (``display.out`` lists the outputs).
        kind: a single schedule, a comparison or a sweep.
        layout: ``overlay`` or ``grid`` (one panel per curve) for several curves.
        command: the command line that reproduces the request, drawing flags included
            (a sweep's default title).
        max_steps: the most optimizer steps all curves together may take.
        default_out: the output when ``display.out`` is empty (None: no file).
        thumbnail: ``(path, width in pixels)`` of a small copy of the image.
        axes: a sweep's ``(key, values)``, rows then columns.
        more: the words after "and N more" when the image shows only some diagnostics.
        check: ``lrplot check``: what lrplot assumed (the run length) is a warning.
        notes: what lrplot read or resolved to build the specs (a training config's
            numbers), shown before the summary.
        page_library: the script an ``.html`` output loads from its own directory (a
            gallery's shared ``lrplot.html.LIBRARY_FILE``); None inlines it.
        inputs: files the request was read from besides those its specs name (a training
            config), each with what it is: no output may replace them.
    """

    grid: list[list[ScheduleSpec]]
    display: DisplayOptions = field(default_factory=DisplayOptions)
    kind: Kind = "schedule"
    layout: Literal["overlay", "grid"] = "overlay"
    command: str = ""
    max_steps: int = DEFAULT_MAX_STEPS
    default_out: str | None = None
    thumbnail: tuple[str, int] | None = None
    more: str = "see the summary"
    axes: list[Axis] = field(default_factory=list)
    check: bool = False
    notes: list[str] = field(default_factory=list)
    page_library: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)

    @property
    def row_labels(self) -> list[str]:
        """Return the labels of a two-kwarg sweep's rows (``T_max=50``), else []."""
        return _labels(self.axes[0]) if len(self.axes) == 2 else []

    @property
    def col_labels(self) -> list[str]:
        """Return the labels of a sweep's columns, else []."""
        return _labels(self.axes[-1]) if self.axes else []

    @property
    def specs(self) -> list[ScheduleSpec]:
        """Return every spec, row by row."""
        return [s for row in self.grid for s in row]

    @property
    def several(self) -> bool:
        """Return True when the request draws several curves (labelled, one CSV column each)."""
        return self.kind == "compare" or len(self.specs) > 1

    @property
    def outputs(self) -> list[str]:
        """Return the outputs to write: ``display.out``, else the default output."""
        outs = list(self.display.out or [])
        return outs or ([self.default_out] if self.default_out else [])


def _labels(axis: Axis) -> list[str]:
    return [f"{axis[0]}={display_value(v)}" for v in axis[1]]


@dataclass
class Result:
    """What ``run`` produced: schedules, diagnostics, files written, and the figure."""

    request: Request
    schedules: list[list[Schedule]]
    diagnostics: list[Diagnostic]
    written: list[str] = field(default_factory=list)
    figure: Figure | None = None

    @property
    def flat(self) -> list[Schedule]:
        """Return every schedule, row by row."""
        return [s for row in self.schedules for s in row]

    @property
    def warnings(self) -> list[Diagnostic]:
        """Return the diagnostics of level ``warning`` (``lrplot check`` fails on any)."""
        return [d for d in self.diagnostics if d.level == "warning"]


def run(request: Request, *, progress: Progress | None = None, write: bool = True) -> Result:
    """Simulate every spec, diagnose, draw and write the outputs; return the result.

    Args:
        request: the specs and options.
        progress: a factory of progress callbacks (see ``Progress``).
        write: False simulates and diagnoses only (``lrplot check``).

    Raises:
        UsageError: the run is too long, an output has an unknown extension, ``--log``
            meets an lr that is not > 0.
        SimulationError: a scheduler failed while stepping.
        OutputError: a file could not be written.
    """
    from lrplot.engine import resolve, simulate

    resolved = [[resolve(spec) for spec in row] for row in request.grid]
    total = check_steps([s for row in resolved for s in row], request.max_steps)
    outs = request.outputs if write else []
    export.check_outputs(outs, request_inputs(request))
    display = request.display
    if display.x not in X_UNITS:
        raise UsageError(f"--x must be one of {', '.join(X_UNITS)}, got {display.x!r}", key="x")
    with progress(total) if progress else contextlib.nullcontext() as update:
        schedules = _simulate_all(request.grid, simulate, update, total)
    for schedule in (s for row in schedules for s in row):
        schedule.seq_len = display.seq_len
        if write and (display.term or any(export.is_image(o) for o in outs)):
            schedule.x_scale(display.x)  # refuse samples/tokens without their sizes
    result = Result(request, schedules, _diagnose(request, resolved, schedules))
    if not write:
        return result
    if display.log and (display.term or any(export.is_image(o) for o in outs)):
        for schedule in result.flat:  # refuse before any file is written
            schedule.require_positive()
    if any(export.is_image(o) for o in outs) or request.thumbnail:
        result.figure = _figure(result)
    flat = result.flat
    labels = [s.name for s in flat]
    for out in outs:  # each output is rendered in full, then renamed into place
        if export.is_image(out):
            from lrplot import render

            assert result.figure is not None
            render.save(result.figure, out)
        elif export.is_page(out):
            _write_page(result, out)
        else:
            export.write_data(flat, labels, out, several=request.several, momentum=display.momentum)
        result.written.append(out)
    if request.thumbnail and result.figure is not None:
        from lrplot import render

        render.save_thumbnail(result.figure, *request.thumbnail)
    return result


def request_inputs(request: Request) -> dict[str, str]:
    """Return every file a request reads (its specs' and its own), each with what it is."""
    return {**input_files(request.specs), **request.inputs}


def input_files(specs: Sequence[ScheduleSpec]) -> dict[str, str]:
    """Return the files a run reads (metric CSVs, plug-in modules) and what each one is.

    Example:
        >>> from lrplot.spec import make_spec
        >>> input_files([make_spec("plateau", metric="@losses.csv:val")])
        {'losses.csv': 'the metric file'}
    """
    import sys

    from lrplot.metric import metric_file

    found: dict[str, str] = {}

    def walk(spec: ScheduleSpec) -> None:
        path = metric_file(spec.metric)
        if path:
            found[path] = "the metric file"
        if registry.is_plugin(spec.scheduler):
            module = sys.modules.get(spec.scheduler.partition(":")[0])
            source = getattr(module, "__file__", None)
            if source:
                found[source] = f"the plug-in's module ({spec.scheduler})"
        for sub in spec.subs:
            walk(sub)

    for spec in specs:
        walk(spec)
    return found


def _simulate_all(
    grid: list[list[ScheduleSpec]],
    simulate: Any,
    update: Callable[[int, int], None] | None,
    total: int,
) -> list[list[Schedule]]:
    done = 0

    def each(spec: ScheduleSpec) -> Schedule:
        nonlocal done
        if update is None:
            schedule = simulate(spec)
        else:
            offset = done
            schedule = simulate(spec, progress=lambda d, _t: update(offset + d, total))
        done += schedule.planned_steps or schedule.n
        return schedule

    return [[each(spec) for spec in row] for row in grid]


def _diagnose(
    request: Request, grid: list[list[ScheduleSpec]], schedules: list[list[Schedule]]
) -> list[Diagnostic]:
    """Diagnose every curve; with several, each message starts with its curve's label."""
    found = []
    for spec_row, row in zip(grid, schedules, strict=True):
        for spec, schedule in zip(spec_row, row, strict=True):
            for d in diagnose(spec.resolved(), schedule, check=request.check):
                if request.several and not d.message.startswith(f"{spec.label} "):
                    d = Diagnostic(d.code, d.level, f"{spec.label}: {d.message}", d.fix)
                found.append(d)
    return found


def _write_page(result: Result, out: str) -> None:
    """Write the interactive page of a result (``-o x.html``)."""
    from lrplot import html

    request, display = result.request, result.request.display
    command = page_command(request)
    html.write(
        out,
        result.flat,
        [s.name for s in result.flat],
        title=display.title or command,
        command=command,
        several=request.several,
        momentum=display.momentum,
        log=wants_log(result.flat) if display.log is None else display.log,
        x=display.x,
        notes=[(d.level, d.message, d.fix) for d in result.diagnostics],
        library=request.page_library,
    )


def _figure(result: Result) -> Figure:
    """Draw the figure of a schedule, a comparison, a sweep row or a sweep grid."""
    from lrplot import render

    request, display = result.request, result.request.display
    grid = result.schedules
    title = display.title or (request.command if request.kind == "sweep" else None)
    if request.kind == "sweep" and len(grid) > 1:
        return render.sweep_grid(
            grid,
            row_labels=request.row_labels,
            col_labels=request.col_labels,
            log=display.log,
            x=display.x,  # type: ignore[arg-type]
            title=title,
        )
    notes = [d.message for d in result.diagnostics] if display.annotate else []
    if len(notes) > ANNOTATE_MAX:
        notes = [
            *notes[: ANNOTATE_MAX - 1],
            f"and {len(notes) - ANNOTATE_MAX + 1} more ({request.more})",
        ]
    flat = result.flat
    return render.plot(
        flat if request.several else flat[0],
        log=display.log,
        x=display.x,  # type: ignore[arg-type]
        title=title,
        momentum=display.momentum,
        labels=[s.name for s in flat] if request.several else None,
        layout=request.layout,
        annotations=notes,
    )


# --------------------------------------------------------------------------- command lines


def display_flags(display: DisplayOptions) -> list[str]:
    """Return the drawing options that change an image, as command-line words.

    Example:
        >>> display_flags(DisplayOptions(log=True, x="step"))
        ['--log', '--x', 'step']
    """
    words = {True: ["--log"], False: ["--no-log"], None: []}[display.log]
    words += ["--x", display.x] * (display.x != "epoch")
    words += ["--seq-len", str(display.seq_len)] * (display.seq_len is not None)
    words += ["--momentum"] * display.momentum
    return words + ["--title", display.title or ""] * bool(display.title)


def sweep_command(base: ScheduleSpec, axes: Sequence[Axis], display: DisplayOptions) -> str:
    """Return the command line of a sweep: the base spec, ``--sweep`` per axis, draw flags.

    Example:
        >>> from lrplot.spec import make_spec
        >>> sweep_command(make_spec("linear", epochs=150), [("end_factor", [0.1, 0.5])],
        ...               DisplayOptions())
        'lrplot linear --epochs 150 --sweep end_factor=0.1,0.5'
    """
    words = [w for axis in axes for w in ("--sweep", sweep_text(axis))]
    return " ".join([base.to_command(), quote_words([*words, *display_flags(display)])]).strip()


def run_flags(run: RunOptions) -> list[str]:
    """Return the run options that differ from their defaults, as command-line words.

    Example:
        >>> run_flags(RunOptions(epochs=20, steps_per_epoch=10, drop_last=True))
        ['--epochs', '20', '--steps-per-epoch', '10', '--drop-last']
    """
    words: list[str] = []
    for o in RUN:
        value = getattr(run, o.name)
        if value is None or value == o.default or o.kind == "texts":
            continue
        if o.kind == "bool":  # a flag takes no value
            words.append(o.flag if value else f"--no-{o.flag[2:]}")
        else:
            words += [o.flag, display_value(value)]
    return words


def page_command(request: Request) -> str:
    """Return the command line of a request (built from its specs when it has none).

    Example:
        >>> from lrplot.spec import make_spec
        >>> page_command(Request([[make_spec("cosine", {"T_max": 9})]]))
        'lrplot cosine --T_max 9'
    """
    return request.command or " ; ".join(s.to_command() for s in request.specs)


# --------------------------------------------------------------------------- requests


def _run_keys(run: RunOptions) -> dict[str, Any]:
    """Return the run options a spec takes (an unset warmup is no warmup)."""
    out = {o.name: getattr(run, o.name) for o in run_options(spec=True)}
    if out.get("warmup") == 0:
        out.pop("warmup")
    return out


def schedule_request(
    scheduler: str, kwargs: dict[str, Any], run: RunOptions, display: DisplayOptions
) -> Request:
    """Return the request of ``lrplot SCHEDULER [--sweep ...]``.

    Example:
        >>> r = schedule_request("cosine", {"T_max": "50"}, RunOptions(sweep=["eta_min=0,0.01"]),
        ...                      DisplayOptions())
        >>> r.kind, r.command, [s.label for s in r.specs]
        ('sweep', 'lrplot cosine --T_max 50 --sweep eta_min=0,0.01', ['eta_min=0', 'eta_min=0.01'])
    """
    axes = parse_sweeps(run.sweep or [])
    base, grid = sweep_grid(scheduler, kwargs, axes, **_run_keys(run))
    return Request(
        grid,
        display,
        kind="sweep" if axes else "schedule",
        command=sweep_command(base, axes, display)
        if axes
        else " ".join([base.to_command(), quote_words(display_flags(display))]).strip(),
        max_steps=run.max_steps,
        default_out=_default_out(export.default_name(base.scheduler), display),
        axes=axes,
    )


def compare_request(
    texts: Sequence[str],
    labels: Sequence[str] | None,
    layout: str,
    run: RunOptions,
    display: DisplayOptions,
) -> Request:
    """Return the request of ``lrplot compare SPEC...``.

    Run options apply to every SPEC unless it sets its own (``epochs=`` in a SPEC wins).

    Example:
        >>> r = compare_request(["cosine:T_max=10", "exp:gamma=0.9"], None, "overlay",
        ...                     RunOptions(epochs=20), DisplayOptions())
        >>> [(s.label, s.epochs) for s in r.specs]
        [('cosine:T_max=10', 20), ('exp:gamma=0.9', 20)]
    """
    if not 1 <= len(texts) <= MAX_COMPARE:
        raise UsageError(f"compare takes 1 to {MAX_COMPARE} SPECs, got {len(texts)}")
    if labels and len(labels) != len(texts):
        raise UsageError(f"--label given {len(labels)} times for {len(texts)} SPECs", key="label")
    if layout not in ("overlay", "grid"):
        raise UsageError(f"--layout must be overlay or grid, got {layout!r}", key="layout")
    keys = _run_keys(run)
    epochs = keys.pop("epochs")
    specs = []
    for i, text in enumerate(texts):
        spec = parse_spec(text, **keys)
        if epochs is not None and spec.epochs is None:
            spec = replace(spec, epochs=epochs)
        if labels:
            spec.label = labels[i]
        elif spec.label is None:
            spec.label = text
        specs.append(spec)
    words = ["lrplot", "compare", *texts]
    words += [w for label in labels or [] for w in ("--label", label)]
    words += ["--layout", layout] * (layout != "overlay")
    return Request(
        [specs],
        display,
        kind="compare",
        layout=layout,  # type: ignore[arg-type]
        command=quote_words([*words, *run_flags(run), *display_flags(display)]),
        max_steps=run.max_steps,
        default_out=_default_out("compare.png", display),
    )


def spec_request(text: str, run: RunOptions, display: DisplayOptions) -> Request:
    """Return the request of one schedule given as a SPEC (``lrplot verify SPEC``).

    Run options apply unless the SPEC sets its own.

    Example:
        >>> r = spec_request("cosine:T_max=10,epochs=20", RunOptions(epochs=5), DisplayOptions())
        >>> r.kind, r.specs[0].epochs, r.specs[0].to_command()
        ('schedule', 20, 'lrplot cosine --T_max 10 --epochs 20')
    """
    keys = _run_keys(run)
    epochs = keys.pop("epochs")
    spec = parse_spec(text, **keys)
    if epochs is not None and spec.epochs is None:
        spec = replace(spec, epochs=epochs)
    return Request(
        [[spec]],
        display,
        command=spec.to_command(),
        max_steps=run.max_steps,
        default_out=_default_out(export.default_name(spec.scheduler), display),
    )


def _default_out(name: str, display: DisplayOptions) -> str | None:
    """Return the image written when no -o is given: none when a table or curve is printed.

    Example:
        >>> _default_out("cosine.png", DisplayOptions(term=True)) is None
        True
    """
    return None if display.term or display.table else name
