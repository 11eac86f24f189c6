"""The ``lrplot`` command line: parse, call the library once, format the result.

Scheduler commands (``lrplot cosine --T_max 150``) are built on demand from the
registry, so ``lrplot --help`` and ``lrplot list`` import neither torch nor matplotlib.
Every command's run and output options come from ``lrplot.options``. Library errors
(``LrplotError``) become exit code 2 (usage) or 1 (runtime) here and only here.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from lrplot import registry
from lrplot.errors import LrplotError, UsageError
from lrplot.options import DISPLAY, RUN, DisplayOptions, Option, RunOptions

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


def fail(error: LrplotError) -> NoReturn:
    """Print one clear error line (and its hint) to stderr and exit with its code."""
    from lrplot import report

    report.console(stderr=True).print(report.error_lines(error.message, error.hint))
    raise typer.Exit(error.exit_code)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a cancelled CI job), handled like Ctrl-C."""


#: the signal that interrupted this process (main() exits with 128 + it), else 0.
_SIGNALLED = 0
#: the interruption has been reported.
_SAID = False


def _on_signal(signum: int, frame: Any) -> None:
    """Stop the run with an exception, so every clean-up runs (temporary files, workers).

    Once only: a second signal must not interrupt the clean-up the first one started.
    """
    global _SIGNALLED
    _SIGNALLED = signum
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextlib.contextmanager
def _reported(debug: bool = False) -> Iterator[None]:
    try:
        yield
    except LrplotError as error:
        if debug:
            raise
        fail(error)
    except KeyboardInterrupt as exc:
        _say_interrupted(isinstance(exc, Terminated))
        raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None
    except BrokenPipeError:  # `lrplot ... -o - | head`: the reader has all it wants
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(141) from None  # as a shell reports a process ended by SIGPIPE
    except OSError as exc:  # a file problem no check above foresaw: still one line
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        fail(LrplotError(f"{where}{exc.strerror or exc}"))
    except MemoryError as exc:
        if debug:
            raise
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        fail(
            LrplotError(
                "out of memory" + (f": {detail}" if detail else ""),
                hint="use fewer curves, epochs or steps per epoch",
            )
        )


def _say_interrupted(terminated: bool) -> None:
    """Say once that the run was interrupted (or terminated) and left no partial file."""
    global _SAID
    if not _SAID:
        from lrplot import report

        _SAID = True
        report.console(stderr=True).print(report.interrupted(terminated))


# --------------------------------------------------------------------------- options

_TYPES: dict[str, Any] = {
    "lr": str,
    "int": int,
    "float": float,
    "choice": str,
    "bool": bool,
    "text": str,
    "metric": str,
    "texts": list[str],
}


def _parameter(opt: Option) -> inspect.Parameter:
    """Return the Typer parameter of a declared option."""
    kind = _TYPES[opt.kind]
    if opt.default is None:
        kind = kind | None
    names = [opt.flag, *([opt.short] if opt.short else [])]
    option = typer.Option(
        *names,
        metavar=opt.metavar,
        min=opt.minimum if opt.kind in ("int", "float") else None,
        rich_help_panel=opt.panel,
        help=opt.help,
    )
    return inspect.Parameter(
        opt.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=opt.default,
        annotation=Annotated[kind, option],
    )


_DEBUG = inspect.Parameter(
    "debug",
    inspect.Parameter.KEYWORD_ONLY,
    default=False,
    annotation=Annotated[bool, typer.Option("--debug", hidden=True, help="Show tracebacks.")],
)


def _parameters(options: Iterable[Option], skip: Iterable[str] = ()) -> list[inspect.Parameter]:
    """Return the Typer parameters of some declared options (and ``--debug``)."""
    taken = set(skip)
    return [_parameter(o) for o in options if o.flag.lstrip("-") not in taken] + [_DEBUG]


def _clean(value: Any) -> Any:
    """Replace lone surrogates (undecodable argv bytes) so text can always be printed."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _split(values: dict[str, Any]) -> tuple[RunOptions, DisplayOptions]:
    """Return the run and display options among a command's parsed values."""
    run = RunOptions(**{o.name: _clean(values[o.name]) for o in RUN if o.name in values})
    display = DisplayOptions(
        **{
            o.name: values[o.name] if o.name == "out" else _clean(values[o.name])
            for o in DISPLAY
            if o.name in values
        }
    )
    return run, display


def _command(func: Any, params: list[inspect.Parameter]) -> Any:
    """Give ``func(**values)`` the signature Typer reads its options from."""
    func.__signature__ = inspect.Signature(params)
    func.__annotations__ = {p.name: p.annotation for p in params}
    return func


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


def _kwarg_parameter(kw: registry.KwargInfo) -> inspect.Parameter:
    kind = list[str] | None if kw.repeatable else str | None
    option = typer.Option(
        f"--{kw.name}",
        metavar=kw.metavar,
        help=_kwarg_help(kw),
        rich_help_panel=KW,
        show_default=False,
        autocompletion=_completer(kw.choices or (("true", "false") if kw.kind == "bool" else ())),
    )
    return inspect.Parameter(
        f"kw_{kw.name}",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[kind, option],
    )


def _scheduler_command(name: str, check: bool = False) -> Any:
    """Build the click command for one scheduler (its kwargs become options)."""
    from lrplot.plugins import scheduler_info

    info = scheduler_info(name)
    taken = {kw.name for kw in info.cli_kwargs}  # a plug-in kwarg wins over a run option
    options = [o for o in RUN + DISPLAY if o.check or not check]
    params = [_kwarg_parameter(kw) for kw in info.cli_kwargs] + _parameters(options, taken)

    def command(**values: Any) -> None:
        kwargs = {k[3:]: _clean(v) for k, v in values.items() if k.startswith("kw_")}
        run, display = _split(values)
        with _reported(values.get("debug", False)):
            (_check if check else _plot)(name, kwargs, run, display)

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
    )(_command(command, params))
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
                _refuse(ctx, error)
        return None

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Resolve the command name, answering an unknown one with a suggestion."""
        name = args[0]
        command = self.get_command(ctx, name)
        if command is None and not name.startswith("-"):
            fixed = super().list_commands(ctx) if not self.check else []
            _refuse(
                ctx,
                UsageError(
                    f"unknown scheduler or command '{name}'",
                    hint=registry.suggest(name, registry.names() + fixed)
                    or "run 'lrplot list' to see the schedulers",
                ),
            )
            # shell completion: a command with nothing to offer
            return name, TyperCommand(name, add_help_option=False), args[1:]
        return super().resolve_command(ctx, args)


def _refuse(ctx: Any, error: LrplotError) -> None:
    """Fail with ``error``; while the shell completes a word, say it in one line instead.

    Completion runs as the user types: a traceback or an exit there would land in the
    middle of their command line, so the error is one line on stderr (once) and nothing
    is offered.
    """
    if not getattr(ctx, "resilient_parsing", False):
        fail(error)
    if not ctx.meta.get("lrplot.refused"):
        ctx.meta["lrplot.refused"] = True
        sys.stderr.write(f"\nlrplot: {error}\n")


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


def _present(request: Any) -> None:
    """Run a request through the pipeline and print what it produced."""
    from lrplot import pipeline, report

    out = report.console(stderr="-" in request.outputs)
    result = pipeline.run(request, progress=report.progress_bar(out))
    for part in report.result_view(result):
        out.print(part)


def _plot(name: str, kwargs: dict[str, Any], run: RunOptions, display: DisplayOptions) -> None:
    from lrplot import pipeline

    _present(pipeline.schedule_request(name, kwargs, run, display))


def _check(name: str, kwargs: dict[str, Any], run: RunOptions, display: DisplayOptions) -> None:
    from lrplot import pipeline, report

    request = pipeline.schedule_request(name, kwargs, run, display)
    out = report.console()
    result = pipeline.run(request, progress=report.progress_bar(out), write=False)
    out.print(report.check_report(request.specs[0].to_command(), result.diagnostics))
    if result.warnings:
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
    report.console().print(report.scheduler_list(rows))


def compare(**values: Any) -> None:
    """Compare schedules side by side: one overlay (or a grid), a legend and a summary table.

    Example: [bold]lrplot compare "cosine:T_max=100" "step:step_size=30,gamma=0.5" -o cmp.svg[/]
    """
    from lrplot import pipeline

    run, display = _split(values)
    with _reported(values["debug"]):
        _present(
            pipeline.compare_request(
                _clean(values["specs"]), _clean(values["label"]), values["layout"], run, display
            )
        )


_COMPARE_ARGS = [
    inspect.Parameter(
        "specs",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=Annotated[
            list[str],
            typer.Argument(
                metavar="SPEC...",
                help="Schedules as name:k=v,k=v (lists in [..], strings quoted); up to 12.",
            ),
        ],
    ),
    inspect.Parameter(
        "label",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            list[str] | None, typer.Option("--label", help="A legend label per SPEC, in order.")
        ],
    ),
    inspect.Parameter(
        "layout",
        inspect.Parameter.KEYWORD_ONLY,
        default="overlay",
        annotation=Annotated[
            str,
            typer.Option("--layout", metavar="overlay|grid", help="One plot, or one panel each."),
        ],
    ),
]
app.command("compare", rich_help_panel="Commands")(
    _command(
        compare,
        _COMPARE_ARGS
        + _parameters([o for o in RUN + DISPLAY if o.name not in ("sweep", "annotate")]),
    )
)


@app.command("gallery", rich_help_panel="Commands")
def gallery(
    config: Annotated[Path, typer.Argument(metavar="CONFIG.yaml", help="The gallery config.")],
    out_dir: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="Directory for the images and index. lrplot replaces only files it wrote there.",
        ),
    ] = "gallery",
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
    debug: Annotated[bool, typer.Option("--debug", hidden=True, help="Show tracebacks.")] = False,
) -> None:
    """Render every entry of a YAML config: images, README.md, index.html, contact sheet.

    Example: [bold]lrplot gallery configs/gallery.yaml --out gallery/[/]
    """
    from lrplot import gallery as gallery_mod
    from lrplot import report

    out = report.console()
    with _reported(debug), report.gallery_progress(out) as progress:
        done = gallery_mod.run(
            config,
            out_dir,
            jobs=jobs,
            formats=formats,
            check=check,
            allow_import=allow_import,
            progress=progress,
        )
    out.print(report.gallery_report(done))
    raise typer.Exit(0 if done.ok else 1)


def main(argv: list[str] | None = None) -> Any:
    """Run the command line (the ``lrplot`` console script).

    SIGTERM is handled like Ctrl-C: the run stops, cleans up, and exits 143 (130 for Ctrl-C).
    """
    global _SIGNALLED, _SAID
    _SIGNALLED, _SAID = 0, False
    previous: dict[int, Any] = {}
    with contextlib.suppress(ValueError):  # only the main thread may set handlers
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _on_signal)
    try:
        if argv is None and any(a == "--debug" for a in sys.argv[1:]):
            return app()
        return app(args=argv)
    except SystemExit:
        if _SIGNALLED:  # stopped outside a command's own handling (typer exits quietly)
            _say_interrupted(_SIGNALLED == signal.SIGTERM)
            raise SystemExit(128 + _SIGNALLED) from None
        raise
    except KeyboardInterrupt:
        _say_interrupted(_SIGNALLED == signal.SIGTERM)
        raise SystemExit(128 + (_SIGNALLED or signal.SIGINT)) from None
    finally:
        for number, handler in previous.items():
            if handler is not None:
                signal.signal(number, handler)
