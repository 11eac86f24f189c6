"""The ``lrplot`` command line: parse, call the library once, format the result.

Scheduler commands (``lrplot cosine --T_max 150``) are built on demand from the
registry, so ``lrplot --help`` and ``lrplot list`` import neither torch nor matplotlib.
Library errors (``LrplotError``) become exit code 2 (usage) or 1 (runtime) here and
only here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from lrplot import registry
from lrplot.errors import LrplotError, UsageError
from lrplot.spec import DEFAULT_MAX_STEPS, DEFAULT_WARMUP_START, RUN_KEYS

RUN = "Run options"
OUT = "Output options"
KW = "Scheduler kwargs"
EXAMPLES = {
    "cosine": "lrplot cosine --T_max 150",
    "cosine-restarts": "lrplot sgdr --T_0 10 --T_mult 2",
    "step": "lrplot step --step_size 30 --gamma 0.1 --epochs 90",
    "multistep": "lrplot multistep --milestones 30,80 --gamma 0.5",
    "exponential": "lrplot exp --gamma 0.95",
    "cyclic": "lrplot cyclic --base_lr 0.001 --max_lr 0.1 --step_size_up 500",
    "onecycle": "lrplot onecycle --max_lr 0.1 --epochs 50 --steps-per-epoch 20",
    "plateau": "lrplot plateau --patience 5 --metric '1/(1+epoch)'",
    "lambda": "lrplot lambda --lr_lambda '0.95**epoch'",
    "multiplicative": "lrplot multiplicative --lr_lambda 0.97",
    "constant": "lrplot constant --factor 0.5 --total_iters 10 --epochs 30",
    "linear": "lrplot linear --start_factor 0.1 --total_iters 10 --epochs 30",
    "poly": "lrplot poly --total_iters 100 --power 2",
    "sequential": "lrplot sequential --schedulers linear:start_factor=0.1,total_iters=5 "
    "--schedulers cosine:T_max=95 --milestones 5",
    "chained": "lrplot chained --schedulers constant:factor=0.5,total_iters=10 "
    "--schedulers exp:gamma=0.98",
}


# --------------------------------------------------------------------------- errors


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def fail(error: LrplotError) -> NoReturn:
    """Print one clear error line (and its hint) to stderr and exit with its code."""
    from rich.markup import escape

    console = _console(stderr=True)
    console.print(f"[bold red]error:[/] {escape(error.message)}")
    if error.hint:
        console.print(f"  [dim]hint:[/] {escape(error.hint)}")
    raise typer.Exit(error.exit_code)


@contextlib.contextmanager
def _reported(debug: bool = False) -> Iterator[None]:
    try:
        yield
    except LrplotError as error:
        if debug:
            raise
        fail(error)
    except KeyboardInterrupt:
        _console(stderr=True).print("[bold red]interrupted[/]: no partial file was left behind")
        raise typer.Exit(130) from None


# --------------------------------------------------------------------------- options

LrOpt = Annotated[
    str,
    typer.Option(
        "--lr",
        metavar="LR[,LR..]",
        rich_help_panel=RUN,
        help="Initial lr of each param group; a comma list makes one curve per group.",
    ),
]
EpochsOpt = Annotated[
    int | None,
    typer.Option(
        "--epochs",
        min=1,
        rich_help_panel=RUN,
        metavar="N",
        help="Epochs to simulate. Default: enough for T_max/T_0/total_iters, else 100.",
    ),
]
SpeOpt = Annotated[
    int,
    typer.Option(
        "--steps-per-epoch",
        min=1,
        metavar="K",
        rich_help_panel=RUN,
        help="Optimizer steps (batches) per epoch.",
    ),
]
StepPerOpt = Annotated[
    str | None,
    typer.Option(
        "--step-per",
        metavar="epoch|iter",
        rich_help_panel=RUN,
        help="When scheduler.step() runs. Default: iter for cyclic/onecycle, else epoch.",
    ),
]
OptimizerOpt = Annotated[
    str,
    typer.Option(
        "--optimizer",
        metavar="sgd|adam|adamw",
        rich_help_panel=RUN,
        help="Dummy optimizer: SGD (momentum 0.9) records momentum, Adam/AdamW beta1.",
    ),
]
WarmupOpt = Annotated[
    int,
    typer.Option(
        "--warmup",
        min=0,
        metavar="N",
        rich_help_panel=RUN,
        help="Prepend a LinearLR warmup of N scheduler steps (via SequentialLR).",
    ),
]
WarmupStartOpt = Annotated[
    float,
    typer.Option(
        "--warmup-start-factor", rich_help_panel=RUN, help="Start factor of the --warmup LinearLR."
    ),
]
MetricOpt = Annotated[
    str | None,
    typer.Option(
        "--metric",
        rich_help_panel=RUN,
        help="ReduceLROnPlateau metric: a list '1,0.9,0.9', an expression of epoch, "
        "or @file.csv:column. Default: a seeded synthetic loss.",
    ),
]
MaxStepsOpt = Annotated[
    int,
    typer.Option(
        "--max-steps",
        min=1,
        metavar="N",
        rich_help_panel=RUN,
        help="Refuse runs longer than this many optimizer steps.",
    ),
]
OutOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--out",
        "-o",
        metavar="PATH",
        rich_help_panel=OUT,
        help="Write .png .svg .pdf .csv .json (repeatable); '-' writes CSV "
        "to stdout. Default: SCHEDULER.png.",
    ),
]
TableOpt = Annotated[
    bool, typer.Option("--table", rich_help_panel=OUT, help="Print a table of the steps.")
]
EveryOpt = Annotated[
    int | None,
    typer.Option(
        "--every",
        min=1,
        rich_help_panel=OUT,
        metavar="K",
        help="With --table: also show every K-th step. Default: about 40 rows.",
    ),
]
TermOpt = Annotated[
    bool, typer.Option("--term", rich_help_panel=OUT, help="Draw the curve in the terminal.")
]
LogOpt = Annotated[bool, typer.Option("--log", rich_help_panel=OUT, help="Log-scale lr axis.")]
XOpt = Annotated[
    str, typer.Option("--x", metavar="epoch|step", rich_help_panel=OUT, help="X axis unit.")
]
TitleOpt = Annotated[
    str | None,
    typer.Option("--title", rich_help_panel=OUT, help="Plot title. Default: the command line."),
]
MomentumOpt = Annotated[
    bool,
    typer.Option(
        "--momentum", rich_help_panel=OUT, help="Add a momentum/beta1 panel (and CSV columns)."
    ),
]
AnnotateOpt = Annotated[
    bool, typer.Option("--annotate", rich_help_panel=OUT, help="Draw the diagnostics on the plot.")
]
SweepOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--sweep",
        metavar="KWARG=V1,V2..",
        rich_help_panel=RUN,
        help="Plot a family of curves as a kwarg varies; twice makes a grid.",
    ),
]
DebugOpt = Annotated[bool, typer.Option("--debug", hidden=True, help="Show tracebacks.")]


def _template(
    *,
    lr: LrOpt = "0.1",
    epochs: EpochsOpt = None,
    steps_per_epoch: SpeOpt = 1,
    step_per: StepPerOpt = None,
    optimizer: OptimizerOpt = "sgd",
    warmup: WarmupOpt = 0,
    warmup_start_factor: WarmupStartOpt = DEFAULT_WARMUP_START,
    metric: MetricOpt = None,
    sweep: SweepOpt = None,
    max_steps: MaxStepsOpt = DEFAULT_MAX_STEPS,
    out: OutOpt = None,
    table: TableOpt = False,
    every: EveryOpt = None,
    term: TermOpt = False,
    log: LogOpt = False,
    x: XOpt = "epoch",
    title: TitleOpt = None,
    momentum: MomentumOpt = False,
    annotate: AnnotateOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Hold the options every scheduler command shares (never called)."""


TEMPLATE_DEFAULTS = {name: p.default for name, p in inspect.signature(_template).parameters.items()}


def _flag(param: str) -> str:
    """Return the long flag of a template option without dashes (``steps-per-epoch``)."""
    return param.replace("_", "-")


def _clean(value: Any) -> Any:
    """Replace lone surrogates (undecodable argv bytes) so text can always be printed."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


RUN_OPTIONS = tuple(k for k in RUN_KEYS if k != "label")
#: runs of at least this many steps (about a second of stepping) show a progress bar.
PROGRESS_FROM = 300_000
CHECK_HIDDEN = {
    "out",
    "table",
    "every",
    "term",
    "log",
    "x",
    "title",
    "momentum",
    "annotate",
    "sweep",
}


def _kwarg_help(kw: registry.KwargInfo) -> str:
    default = "required" if kw.required else f"default {kw.default!r}"
    text = f"{kw.annotation or kw.kind} ({default})."
    if kw.kind == "floats":
        text += " A comma list gives one value per param group."
    if kw.kind == "expr":
        text += " An expression of epoch, e.g. '0.95**epoch'; repeat once per param group."
    if kw.kind == "specs":
        text += " A SPEC such as cosine:T_max=95; repeat for each scheduler."
    return text


def _completer(values: tuple[str, ...]) -> Any:
    """Return a shell-completion callback offering ``values`` (None when there are none)."""
    if not values:
        return None
    return lambda incomplete: [v for v in values if v.startswith(incomplete)]


def _scheduler_command(name: str, check: bool = False) -> Any:
    """Build the click command for one scheduler (its kwargs become options)."""
    from lrplot.spec import scheduler_info

    info = scheduler_info(name)
    taken = {kw.name for kw in info.cli_kwargs}  # a plug-in kwarg wins over a run option
    params = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in inspect.signature(_template, eval_str=True).parameters.values()
        if not (check and p.name in CHECK_HIDDEN) and _flag(p.name) not in taken
    ]
    for kw in info.cli_kwargs:
        kind = list[str] | None if kw.repeatable else str | None
        option = typer.Option(
            f"--{kw.name}",
            metavar=kw.metavar,
            help=_kwarg_help(kw),
            rich_help_panel=KW,
            show_default=False,
            autocompletion=_completer(
                kw.choices or (("true", "false") if kw.kind == "bool" else ())
            ),
        )
        params.insert(
            len([p for p in params if p.name.startswith("kw_")]),
            inspect.Parameter(
                f"kw_{kw.name}",
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[kind, option],
            ),
        )

    def command(**values: Any) -> None:
        kwargs = {k[3:]: _clean(v) for k, v in values.items() if k.startswith("kw_")}
        options = {**TEMPLATE_DEFAULTS}
        options.update(
            (k, v if k == "out" else _clean(v))
            for k, v in values.items()
            if not k.startswith("kw_")
        )
        with _reported(options.get("debug", False)):
            (_check if check else _plot)(name, kwargs, options)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    required = " ".join(f"--{k} {info.kwarg(k).metavar}" for k in info.required)  # type: ignore[union-attr]
    example = EXAMPLES.get(info.name, f"lrplot {name} {required}".strip())
    if check:
        example = example.replace("lrplot ", "lrplot check ", 1)
    doc = (
        f"{info.summary} ({info.cls})\n\n"
        + ("Run only the diagnostics; exit 1 if any warning fires.\n\n" if check else "")
        + f"Example: [bold]{example}[/]"
    )
    single = typer.Typer(add_completion=False, rich_markup_mode="rich")
    single.command(
        name=name,
        help=doc,
        short_help=info.summary,
        rich_help_panel="Schedulers",
        context_settings={"help_option_names": ["-h", "--help"]},
    )(command)
    return typer.main.get_command(single)


class SchedulerGroup(TyperGroup):
    """A group whose unknown command names resolve to schedulers and plug-ins."""

    check = False
    _listing = False

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Format the group help with light stand-ins for the scheduler commands."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        """List the fixed commands, then every scheduler."""
        return [*super().list_commands(ctx), *(i.name for i in registry.SCHEDULERS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """Return a fixed command or build the scheduler command for ``cmd_name``."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        if self._listing and cmd_name in registry.BY_NAME:
            info = registry.BY_NAME[cmd_name]
            return TyperCommand(
                cmd_name, help=info.summary, short_help=info.summary, rich_help_panel="Schedulers"
            )
        if registry.is_plugin(cmd_name) or cmd_name.lower() in registry.BY_NAME:
            try:
                return _scheduler_command(cmd_name, check=self.check)
            except LrplotError as error:
                fail(error)
        return None

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Resolve the command name, answering an unknown one with a suggestion."""
        name = args[0]
        command = self.get_command(ctx, name)
        if command is None and not name.startswith("-"):
            fixed = super().list_commands(ctx) if not self.check else []
            fail(
                UsageError(
                    f"unknown scheduler or command '{name}'",
                    hint=registry.suggest(name, registry.names() + fixed)
                    or "run 'lrplot list' to see the schedulers",
                )
            )
        return super().resolve_command(ctx, args)


class CheckGroup(SchedulerGroup):
    """``lrplot check SCHEDULER``: the scheduler commands in diagnostics-only mode."""

    check = True

    def list_commands(self, ctx: Any) -> list[str]:
        """List the schedulers."""
        return [i.name for i in registry.SCHEDULERS]


app = typer.Typer(
    cls=SchedulerGroup,
    name="lrplot",
    help="Plot and explore PyTorch learning-rate schedules: the real torch scheduler, "
    "stepped exactly like a training loop.\n\n"
    "Example: [bold]lrplot cosine --T_max 150[/] writes cosine.png; "
    "[bold]lrplot SCHEDULER --help[/] lists its kwargs.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
check_app = typer.Typer(
    cls=CheckGroup,
    help="Run a schedule's diagnostics only; exit 1 when any warning fires (for CI).\n\n"
    "Example: [bold]lrplot check cosine --T_max 20 --epochs 150[/]",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(check_app, name="check")


# --------------------------------------------------------------------------- actions


def _make_specs(name: str, kwargs: dict[str, Any], options: dict[str, Any]) -> Any:
    from lrplot import spec as specs

    run = {k: options[k] for k in RUN_OPTIONS if k in options}
    if run.get("warmup") == 0:
        run.pop("warmup")
    sweeps = options.get("sweep") or []
    base, grid = specs.sweep_grid(name, kwargs, sweeps, **run)
    if sweeps and not options.get("title"):
        options["title"] = " ".join([base.to_command(), *(f"--sweep {t}" for t in sweeps)])
    specs.check_steps([s for row in grid for s in row], options["max_steps"])
    return grid


def _simulate(spec: Any, console: Any) -> Any:
    from lrplot.engine import simulate

    resolved = spec.resolved()
    if resolved.n_steps < PROGRESS_FROM:
        return simulate(spec)
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} steps"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("sim", total=resolved.n_steps)
        return simulate(spec, progress=lambda done, total: bar.update(task, completed=done))


def _plot(name: str, kwargs: dict[str, Any], options: dict[str, Any]) -> None:
    grid = _make_specs(name, kwargs, options)
    from lrplot.files import default_name

    _present(grid, options, default_out=default_name(grid[0][0].scheduler))


def _present(
    grid: list[list[Any]],
    options: dict[str, Any],
    *,
    default_out: str,
    compare: bool = False,
    layout: str = "overlay",
) -> None:
    """Simulate a grid of specs, write the outputs, print tables, curve and summary."""
    from rich.text import Text

    from lrplot import files, report

    outs = list(options.get("out") or []) or [default_out]
    console = _console(stderr="-" in outs)
    files.check_outputs(outs)
    schedules = [[_simulate(s, console) for s in row] for row in grid]
    flat = [s for row in schedules for s in row]
    diagnostics = _diagnose(grid, schedules)
    term = None
    if options["term"]:  # drawn before any file is written: it may refuse (--log)
        term = report.term_plot(flat, log=options["log"], x=options["x"], title=options["title"])
    written = files.write_outputs(
        schedules,
        outs,
        log=options["log"],
        x=options["x"],
        title=options["title"],
        momentum=options["momentum"],
        layout=layout,
        compare=compare,
        annotations=[d.message for d in diagnostics] if options.get("annotate") else (),
    )
    if options["table"]:
        for schedule in flat:
            console.print(report.table(schedule, every=options["every"]))
    if term is not None:
        console.print(Text.from_ansi(term))
    if len(flat) > 1:
        console.print(report.compare_table(flat))
    console.print(
        report.summary(flat[0], outputs=written, diagnostics=diagnostics, stats=len(flat) == 1)
    )


def _diagnose(grid: list[list[Any]], schedules: list[list[Any]]) -> list[Any]:
    from lrplot.diagnose import diagnose

    found = []
    for spec_row, schedule_row in zip(grid, schedules, strict=True):
        for spec, schedule in zip(spec_row, schedule_row, strict=True):
            found += diagnose(spec.resolved(), schedule)
    return found


def _check(name: str, kwargs: dict[str, Any], options: dict[str, Any]) -> None:
    from lrplot import report

    console = _console()
    grid = _make_specs(name, kwargs, options)
    schedules = [[_simulate(s, console) for s in row] for row in grid]
    diagnostics = _diagnose(grid, schedules)
    console.print(report.check_report(grid[0][0].to_command(), diagnostics))
    if any(d.level == "warning" for d in diagnostics):
        raise typer.Exit(1)


# --------------------------------------------------------------------------- commands


@app.command("list", rich_help_panel="Commands")
def list_schedulers() -> None:
    """List every scheduler: aliases, torch class, required kwargs, what it does.

    Example: [bold]lrplot list[/]
    """
    from lrplot import report

    rows = [
        (
            ", ".join((i.name, *i.aliases)),
            i.cls,
            " ".join(f"--{k}" for k in i.required) or "—",
            i.summary,
        )
        for i in registry.SCHEDULERS
    ]
    _console().print(report.scheduler_list(rows))


@app.command("compare", rich_help_panel="Commands")
def compare(
    specs: Annotated[
        list[str],
        typer.Argument(
            metavar="SPEC...",
            help="Schedules as name:k=v,k=v (lists in [..], strings quoted); up to 12.",
        ),
    ],
    label: Annotated[
        list[str] | None, typer.Option("--label", help="A legend label per SPEC, in order.")
    ] = None,
    layout: Annotated[
        str, typer.Option("--layout", metavar="overlay|grid", help="One plot, or one panel each.")
    ] = "overlay",
    lr: LrOpt = "0.1",
    epochs: EpochsOpt = None,
    steps_per_epoch: SpeOpt = 1,
    step_per: StepPerOpt = None,
    optimizer: OptimizerOpt = "sgd",
    warmup: WarmupOpt = 0,
    warmup_start_factor: WarmupStartOpt = DEFAULT_WARMUP_START,
    metric: MetricOpt = None,
    max_steps: MaxStepsOpt = DEFAULT_MAX_STEPS,
    out: OutOpt = None,
    table: TableOpt = False,
    every: EveryOpt = None,
    term: TermOpt = False,
    log: LogOpt = False,
    x: XOpt = "epoch",
    title: TitleOpt = None,
    momentum: MomentumOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Compare schedules side by side: one overlay (or a grid), a legend and a summary table.

    Example: [bold]lrplot compare "cosine:T_max=100" "step:step_size=30,gamma=0.5" -o cmp.svg[/]
    """
    from lrplot import spec as specs_mod

    with _reported(debug):
        if not 1 <= len(specs) <= 12:
            raise UsageError(f"compare takes 1 to 12 SPECs, got {len(specs)}")
        if label and len(label) != len(specs):
            raise UsageError(f"--label given {len(label)} times for {len(specs)} SPECs")
        if layout not in ("overlay", "grid"):
            raise UsageError(f"--layout must be overlay or grid, got {layout!r}")
        run = {
            "lr": lr,
            "steps_per_epoch": steps_per_epoch,
            "step_per": step_per,
            "optimizer": optimizer,
            "warmup": warmup or None,
            "warmup_start_factor": warmup_start_factor,
            "metric": metric,
        }
        parsed = []
        for i, text in enumerate(specs):
            spec = specs_mod.parse_spec(_clean(text), **run)
            if epochs is not None and spec.epochs is None:
                spec = dataclasses.replace(spec, epochs=epochs)
            if label:
                spec.label = _clean(label[i])
            elif spec.label is None:
                spec.label = _clean(text)
            parsed.append(spec)
        specs_mod.check_steps(parsed, max_steps)
        options = {
            "out": out,
            "table": table,
            "every": every,
            "term": term,
            "log": log,
            "x": x,
            "title": _clean(title),
            "momentum": momentum,
        }
        _present([parsed], options, default_out="compare.png", compare=True, layout=layout)


@app.command("gallery", rich_help_panel="Commands")
def gallery(
    config: Annotated[Path, typer.Argument(metavar="CONFIG.yaml", help="The gallery config.")],
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for the images and index.")
    ] = Path("gallery"),
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Worker processes.")] = min(
        2, os.cpu_count() or 1
    ),
    formats: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="png,svg",
            help="Image formats to write. Default: the config's, else png,svg.",
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Re-render in memory; exit 1 if DIR is stale.")
    ] = False,
    allow_import: Annotated[
        bool, typer.Option("--allow-import", help="Let the config load plug-in schedulers.")
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Render every entry of a YAML config: images, README.md, index.html, contact sheet.

    Example: [bold]lrplot gallery configs/gallery.yaml --out gallery/[/]
    """
    from lrplot import gallery as gallery_mod

    with _reported(debug):
        code = gallery_mod.run(
            config,
            out_dir,
            jobs=jobs,
            formats=formats,
            check=check,
            allow_import=allow_import,
            console=_console(),
        )
    raise typer.Exit(code)


def main(argv: list[str] | None = None) -> Any:
    """Run the command line (the ``lrplot`` console script)."""
    if argv is None and any(a == "--debug" for a in sys.argv[1:]):
        return app()
    return app(args=argv)
