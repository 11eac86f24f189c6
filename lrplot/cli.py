"""The ``lrplot`` command line: parse, call the library once, format the result.

Scheduler commands (``lrplot cosine --T_max 150``) are built on demand from the
registry, so ``lrplot --help`` and ``lrplot list`` import neither torch nor matplotlib.
Every command's run and output options come from ``lrplot.options``. Library errors
(``LrplotError``) become exit code 2 (usage) or 1 (runtime) here and only here.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from lrplot.options import (
    DISPLAY,
    RESUME,
    RUN,
    VERIFY,
    VERIFY_DISPLAY,
    DisplayOptions,
    Option,
    ResumeOptions,
    RunOptions,
    VerifyOptions,
    page_options,
)

KW = "Scheduler kwargs"
EXAMPLES = {
    "cosine": "lrplot cosine --T_max 150",
    "cosine-restarts": "lrplot sgdr --T_0 10 --T_mult 2",
    "step": "lrplot step --step_size 30 --gamma 0.1 --epochs 90",
    "multistep": "lrplot multistep --milestones 30,80 --gamma 0.5",
    "exponential": "lrplot exp --gamma 0.95",
    "cyclic": "lrplot cyclic --base_lr 0.001 --max_lr 0.1 --step_size_up 500",
    "onecycle": "lrplot onecycle --max_lr 0.1 --epochs 50 --steps-per-epoch 20",
    "plateau": "lrplot plateau --patience 5 --metric 'max(0.3, 1 - 0.02*epoch)' --epochs 60",
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


#: how to use plug-ins, for ``lrplot --help`` and ``lrplot list``.
PLUGINS_HELP = (
    "Any other scheduler class or factory, from an installed package or a .py file in the "
    "current directory, is [bold]module.path:Name[/] with its own kwargs, stepped the way "
    "its framework (transformers, timm, ignite, mmengine, DeepSpeed) steps it, e.g. "
    "[bold]lrplot transformers:get_cosine_schedule_with_warmup --num_warmup_steps 100 "
    "--num_training_steps 1000[/] or "
    "[bold]lrplot timm.scheduler:CosineLRScheduler --t_initial 100 --warmup_t 5[/]."
)

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


def _usage_error(ctx: Any, error: Exception) -> None:
    """Answer Click's command-line usage errors with lrplot's one line (and exit code 2).

    Click is typer's (vendored in typer 0.28), so its errors are recognized by what they
    carry: a usage error has exit code 2 and a message; an unknown option, its name. An
    unknown option gets ``did you mean --T_max?`` from the command's own options.
    """
    if getattr(error, "exit_code", None) != 2 or not hasattr(error, "format_message"):
        return
    command = ctx.command_path or "lrplot"
    if type(error).__name__ == "NoSuchOption":
        flags = [f for p in ctx.command.params for f in (*p.opts, *p.secondary_opts)]
        name = str(getattr(error, "option_name", ""))
        close = registry.suggest(name.lstrip("-"), [f[2:] for f in flags if f.startswith("--")])
        hint = close.replace("mean ", "mean --") if close else f"see '{command} --help'"
        fail(UsageError(f"{command} has no option {name} ({hint})"))
    message = " ".join(error.format_message().split()).rstrip(".")
    fail(UsageError(f"{command}: {message[0].lower()}{message[1:]} (see '{command} --help')"))


class LrplotCommand(TyperCommand):
    """A command whose parsing errors are lrplot's one-line messages, not Click's box."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse the arguments; turn Click's usage errors into lrplot's."""
        try:
            return super().parse_args(ctx, args)
        except Exception as error:
            _usage_error(ctx, error)
            raise


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
    "ints": list[int],
}


def _parameter(opt: Option) -> inspect.Parameter:
    """Return the Typer parameter of a declared option."""
    kind = _TYPES[opt.kind]
    if opt.default is None:
        kind = kind | None
    flag = f"{opt.flag}/--no-{opt.flag[2:]}" if opt.negatable else opt.flag
    names = [flag, *([opt.short] if opt.short else [])]
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


_CTX = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
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


def _markup_safe(text: str) -> str:
    """Escape ``[`` so that rich shows ``list[float]`` instead of reading a style tag."""
    return text.replace("[", "\\[")


def _kwarg_help(kw: registry.KwargInfo) -> str:
    """Return the type, default and usage notes of a kwarg (its meaning is added lazily)."""
    default = "required" if kw.required else f"default {kw.default!r}"
    text = _markup_safe(f"{kw.annotation or kw.kind} ({default}).")
    if kw.kind == "floats":
        text += (
            " A comma list gives one value per param group." if kw.per_group else (" A comma list.")
        )
    if kw.kind == "literal":
        text += " A Python literal, e.g. '{\"key\": 1}'."
    if kw.kind == "expr":
        text += (
            " An expression of epoch or step (both name the scheduler-step counter torch"
            " passes), e.g. '0.95**epoch'; repeat once per param group."
        )
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


def _described(info: registry.SchedulerInfo, kw: registry.KwargInfo, docs: dict[str, str]) -> str:
    """Return what a kwarg means (its docstring) and its unit, for its ``--help`` line."""
    words = [docs[kw.name]] if kw.name in docs else []
    unit = info.traits.unit(kw.name)
    if unit:
        words.append(f"Unit: {unit}.")
    return " ".join(words)


class SchedulerCommand(LrplotCommand):
    """A scheduler's command: each kwarg's help says what it means, from the docstring.

    The docstring is read only when the help is shown (torch's from its source file,
    without importing torch), so plotting pays nothing for it.
    """

    info: registry.SchedulerInfo | None = None

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Add the kwargs' descriptions, then format the help."""
        info = self.info
        if info is not None:
            from lrplot import docstrings

            docs = docstrings.torch_docs(info.cls) if info.builtin else dict(info.docs)
            for param in self.params:
                kw = (
                    info.kwarg(param.name[3:])
                    if param.name and param.name.startswith("kw_")
                    else None
                )
                meaning = _markup_safe(_described(info, kw, docs)) if kw is not None else ""
                help_text = getattr(param, "help", None)
                if meaning and help_text and not help_text.startswith(meaning):
                    param.help = f"{meaning} {help_text}"  # type: ignore[attr-defined]
            self.info = None
        super().format_help(ctx, formatter)


def _extra_kwargs(name: str, words: list[str]) -> dict[str, str]:
    """Return the ``--key value`` pairs a ``**kwargs`` plug-in was given beyond its options.

    Example:
        >>> _extra_kwargs("m:f", ["--factor", "0.5", "--mode=max"])
        {'factor': '0.5', 'mode': 'max'}
    """
    found: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        key, eq, value = word[2:].partition("=")
        if not word.startswith("--") or not key.isidentifier():
            raise UsageError(f"{name}: expected --KEY VALUE, got {word!r}")
        if not eq:
            if i + 1 >= len(words):
                raise UsageError(f"{name} --{key} needs a value", key=key)
            value = words[i + 1]
            i += 1
        found[key] = value
        i += 1
    return found


def _verify_options() -> list[Option]:
    """Return the options of ``lrplot verify``: run, log and its output options."""
    outputs = [
        dataclasses.replace(o, help=_VERIFY_OUT) if o.name == "out" else o
        for o in DISPLAY
        if o.name in VERIFY_DISPLAY
    ]
    return [o for o in RUN if o.check] + list(VERIFY) + outputs


def _scheduler_command(
    name: str, check: bool = False, explore: bool = False, verify: bool = False
) -> Any:
    """Build the click command for one scheduler (its kwargs become options)."""
    from lrplot.plugins import scheduler_info

    info = scheduler_info(name)
    taken = {kw.name for kw in info.cli_kwargs}  # a plug-in kwarg wins over a run option
    options = [o for o in RUN + DISPLAY if o.check or not check]
    if explore:
        options = [o for o in RUN + DISPLAY if o.name in _EXPLORE_OPTIONS]
    elif verify:
        options = _verify_options()
    elif check:
        options = [
            dataclasses.replace(o, help=_CHECK_OUT) if o.name == "out" else o for o in options
        ]
        options += RESUME
    params = [_kwarg_parameter(kw) for kw in info.cli_kwargs] + _parameters(options, taken)
    if info.extra_kwargs:
        params.append(_CTX)
    if explore:
        params[-1:-1] = _EXPLORE_PARAMS

    def command(**values: Any) -> None:
        kwargs = {k[3:]: _clean(v) for k, v in values.items() if k.startswith("kw_")}
        run, display = _split(values)
        with _reported(values.get("debug", False)):
            if info.extra_kwargs:  # f(optimizer, **kwargs): any --key value
                kwargs.update(_clean(_extra_kwargs(name, list(values["ctx"].args))))
            if explore:
                _explore(name, kwargs, run, display, values["port"], values["no_browser"])
            elif verify:
                _verify(pipeline_request(name, kwargs, run, display), _verify_values(values))
            elif check:
                resume = ResumeOptions(**{o.name: values[o.name] for o in RESUME})
                _check(name, kwargs, run, display, resume)
            else:
                _plot(name, kwargs, run, display)

    required = " ".join(f"--{k} {info.kwarg(k).metavar}" for k in info.required)  # type: ignore[union-attr]
    example = EXAMPLES.get(info.name, f"lrplot {name} {required}".strip())
    if check:
        example = example.replace("lrplot ", "lrplot check ", 1)
    if explore:
        example = example.replace("lrplot ", "lrplot explore ", 1)
    if verify:
        example = example.replace("lrplot ", "lrplot verify ", 1) + " --log trainer_state.json"
    doc = (
        f"{_markup_safe(info.summary)} ({info.cls})\n\n"
        + ("Run only the diagnostics; exit 1 if any warning fires.\n\n" if check else "")
        + ("Explore it in the browser, starting from these values.\n\n" if explore else "")
        + (_VERIFY_DOC + "\n\n" if verify else "")
        + f"Example: [bold]{example}[/]"
    )
    if info.extra_kwargs:
        doc += f"\n\nIt takes **kwargs: any [bold]--KEY VALUE[/] is passed to {info.cls}."
    undocumented = [k.name for k in info.cli_kwargs if k.name not in dict(info.docs)]
    if not info.builtin and undocumented:
        which = (
            "none of its kwargs"
            if len(undocumented) == len(info.cli_kwargs)
            else ("not " + ", ".join(undocumented))
        )
        doc += f"\n\n{info.cls}'s docstring describes {which}."
    settings: dict[str, Any] = {"help_option_names": ["-h", "--help"]}
    if info.extra_kwargs:
        settings.update(ignore_unknown_options=True, allow_extra_args=True)
    single = typer.Typer(add_completion=False, rich_markup_mode="rich")
    single.command(
        name=name,
        cls=SchedulerCommand,
        help=doc,
        short_help=info.summary,
        rich_help_panel="Schedulers",
        context_settings=settings,
    )(_command(command, params))
    built = typer.main.get_command(single)
    if isinstance(built, SchedulerCommand):
        built.info = info
    return built


class SchedulerGroup(TyperGroup):
    """A group whose unknown command names resolve to schedulers and plug-ins."""

    check = False
    explore = False
    verify = False
    _listing = False

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse the group's own options; turn Click's usage errors into lrplot's."""
        try:
            return super().parse_args(ctx, args)
        except Exception as error:
            _usage_error(ctx, error)
            raise

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
        cmd_name = registry.canonical_name(cmd_name)  # torch.optim.lr_scheduler.StepLR
        if registry.is_plugin(cmd_name) or cmd_name.lower() in registry.BY_NAME:
            try:
                return _scheduler_command(
                    cmd_name, check=self.check, explore=self.explore, verify=self.verify
                )
            except LrplotError as error:
                _refuse(ctx, error)
        return None

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Resolve the command name, answering an unknown one with a suggestion."""
        name = args[0]
        command = self.get_command(ctx, name)
        if command is None and not name.startswith("-"):
            fixed = (
                super().list_commands(ctx)
                if not (self.check or self.explore or self.verify)
                else []
            )
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


class VerifyGroup(CheckGroup):
    """``lrplot verify PLAN --log FILE``: a scheduler command line or a SPEC as the plan."""

    check = False
    verify = True

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """Return the scheduler's verify command, or one for a SPEC such as cosine:T_max=9."""
        if _is_spec(cmd_name):
            return _spec_command(cmd_name)
        if cmd_name.lower().endswith((".json", ".yaml", ".yml", ".py")):
            return _config_verify_command(cmd_name)
        return super().get_command(ctx, cmd_name)


def _is_spec(text: str) -> bool:
    """Return True for ``name:k=v`` SPEC text (not ``module:Name``, not a scheduler name)."""
    return ":" in text and "=" in text.partition(":")[2] and not registry.is_plugin(text)


def _spec_command(text: str) -> Any:
    """Build the verify command of a plan given as a SPEC."""
    params = _parameters(_verify_options())

    def command(**values: Any) -> None:
        run, display = _split(values)
        with _reported(values.get("debug", False)):
            from lrplot import pipeline

            _verify(pipeline.spec_request(_clean(text), run, display), _verify_values(values))

    single = typer.Typer(add_completion=False, rich_markup_mode="rich")
    single.command(
        name=text,
        cls=LrplotCommand,
        help=f"Verify the plan {_markup_safe(text)} against a training log.\n\n{_VERIFY_DOC}",
        context_settings={"help_option_names": ["-h", "--help"]},
    )(_command(command, params))
    return typer.main.get_command(single)


def _config_verify_command(path: str) -> Any:
    """Build the verify command of a plan given as a training config (``lrplot from``)."""
    options = [
        dataclasses.replace(o, default=None) if o in RUN and o.kind != "bool" else o
        for o in _verify_options()
    ]
    params = _parameters(options) + [p for p in _FROM_ARGS if p.name in ("kind", "allow_import")]

    def command(**values: Any) -> None:
        with _reported(values.get("debug", False)):
            request = _config_request(path, values)
            _verify(request, _verify_values(values))

    single = typer.Typer(add_completion=False, rich_markup_mode="rich")
    single.command(
        name=path,
        cls=LrplotCommand,
        help=f"Verify what the training config {_markup_safe(path)} plans against a training "
        f"log (run options win over the file, as in lrplot from).\n\n{_VERIFY_DOC}",
        context_settings={"help_option_names": ["-h", "--help"]},
    )(_command(command, params))
    return typer.main.get_command(single)


def _config_request(path: str | Path, values: dict[str, Any]) -> Any:
    """Return the request of a training config with the command line's options on top."""
    from lrplot import configs
    from lrplot.pipeline import run_flags
    from lrplot.spec import quote_words

    given = {
        o.name: _clean(values[o.name])
        for o in RUN
        if o.spec and values.get(o.name) not in (None, False)
    }
    request = configs.plan_from_file(
        path,
        allow_import=values.get("allow_import", False),
        overrides=given,
        kind=values.get("kind"),
    )
    display = request.display
    words = run_flags(_split(values)[0])  # the options that changed the file's plan
    if words:  # belong in the title, which is the command line
        head, _, kind = (display.title or "lrplot from").partition(" (")
        display.title = " ".join([head, quote_words(words), *([f"({kind}"] if kind else [])])
    for o in DISPLAY:
        value = values.get(o.name)
        if value is not None and value != o.default and o.name != "x":
            setattr(display, o.name, value if o.name == "out" else _clean(value))
    if values.get("x") is not None:
        display.x = values["x"]
    return request


def _verify_values(values: dict[str, Any]) -> VerifyOptions:
    return VerifyOptions(**{o.name: _clean(values[o.name]) for o in VERIFY})


def pipeline_request(
    name: str, kwargs: dict[str, Any], run: RunOptions, display: DisplayOptions
) -> Any:
    """Return the request of a scheduler command line."""
    from lrplot import pipeline

    return pipeline.schedule_request(name, kwargs, run, display)


def _verify(request: Any, options: VerifyOptions) -> None:
    from lrplot import report
    from lrplot import verify as verifying

    out = report.console(stderr="-" in (request.display.out or []))
    done = verifying.verify(request, options)
    display = request.display
    for part in report.verify_view(done, table=display.table, every=display.every):
        out.print(part)
    raise typer.Exit(0 if done.ok else 1)


_VERIFY_DOC = (
    "Compare the planned schedule with the lr a training log recorded: the first "
    "divergence, the largest relative error and the likely cause; exit 0 when they agree "
    "within --rtol, 1 when not."
)
_VERIFY_OUT = (
    "Write the plan and the log on one plot (.png .svg .pdf) or the paired values (.csv "
    ".json; '-' writes CSV to stdout). Default: no file."
)

app = typer.Typer(
    cls=SchedulerGroup,
    name="lrplot",
    help="Plot and explore PyTorch learning-rate schedules: the real torch scheduler, "
    "stepped exactly like a training loop.\n\n"
    "Example: [bold]lrplot cosine --T_max 150[/] writes cosine.png; "
    "[bold]lrplot SCHEDULER --help[/] lists its kwargs.\n\n" + PLUGINS_HELP,
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
verify_app = typer.Typer(
    cls=VerifyGroup,
    help="Did the run follow the plan? Compare a schedule (a scheduler command line, or a "
    "SPEC such as cosine:T_max=16,epochs=2) with the lr a training log recorded: Hugging "
    "Face trainer_state.json, Lightning metrics.csv, TensorBoard events, a W&B CSV export "
    "or a plain CSV. Exit 1 when they differ, with the step and the likely cause.\n\n"
    "Example: [bold]lrplot verify cosine --T_max 16 --epochs 2 --steps-per-epoch 8 "
    "--step-per iter --log metrics.csv[/]",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(verify_app, name="verify", rich_help_panel="Commands")


class ExploreGroup(SchedulerGroup):
    """``lrplot explore [SCHEDULER]``: the scheduler commands as a live page."""

    explore = True

    def list_commands(self, ctx: Any) -> list[str]:
        """List the schedulers."""
        return [i.name for i in registry.SCHEDULERS]


explore_app = typer.Typer(
    cls=ExploreGroup,
    help="Change a schedule in the browser and see the real curve redrawn at once: a local "
    "page (127.0.0.1 only) with a form from the scheduler's signature, the diagnostics, pins "
    "to compare, and the state in the URL. Ctrl-C stops it.\n\n"
    "Example: [bold]lrplot explore onecycle --max_lr 0.1 --epochs 30 --steps-per-epoch 100[/]",
    context_settings={"help_option_names": ["-h", "--help"]},
    invoke_without_command=True,
    rich_markup_mode="rich",
)
app.add_typer(explore_app, name="explore", rich_help_panel="Commands")

#: the options of ``lrplot explore``: those its page offers, and the step limit.
_EXPLORE_OPTIONS = {o.name for o in page_options()} | {"max_steps"}
_PORT = inspect.Parameter(
    "port",
    inspect.Parameter.KEYWORD_ONLY,
    default=0,
    annotation=Annotated[
        int,
        typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1; 0 picks a free one."),
    ],
)
_NO_BROWSER = inspect.Parameter(
    "no_browser",
    inspect.Parameter.KEYWORD_ONLY,
    default=False,
    annotation=Annotated[
        bool, typer.Option("--no-browser", help="Print the URL instead of opening a browser.")
    ],
)
_EXPLORE_PARAMS = [_PORT, _NO_BROWSER]


@explore_app.callback()
def explore_default(
    ctx: typer.Context,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1; 0 picks a free one.")
    ] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the URL instead of opening a browser.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", hidden=True, help="Show tracebacks.")] = False,
) -> None:
    """Explore a schedule in the browser (starts with cosine when no SCHEDULER is given).

    Example: [bold]lrplot explore cosine --T_max 150[/]
    """
    if ctx.invoked_subcommand is None:
        from lrplot.explore import DEFAULT_START

        name, kwargs = DEFAULT_START
        with _reported(debug):
            _explore(name, dict(kwargs), RunOptions(), DisplayOptions(), port, no_browser)


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


def _check(
    name: str,
    kwargs: dict[str, Any],
    run: RunOptions,
    display: DisplayOptions,
    resume: ResumeOptions | None = None,
) -> None:
    from lrplot import pipeline, report

    request = pipeline.schedule_request(name, kwargs, run, display)
    out = report.console()
    if resume is not None and (resume.resume_at or resume.resume_epochs):
        from lrplot import resume as resuming

        done = resuming.check(request, resume)
        out.print(report.resume_report(done))
        raise typer.Exit(1 if done.failed else 0)
    request.check = True
    request.default_out = None
    result = pipeline.run(request, progress=report.progress_bar(out), write=bool(display.out))
    if result.written:
        out.print(report.summary(result.flat[0], outputs=result.written, stats=False))
    out.print(report.check_report(request.specs[0].to_command(), result.diagnostics))
    if result.warnings:
        raise typer.Exit(1)


def _explore(
    name: str,
    kwargs: dict[str, Any],
    run: RunOptions,
    display: DisplayOptions,
    port: int,
    no_browser: bool,
) -> None:
    from lrplot import explore, report
    from lrplot.options import DEFAULT_MAX_STEPS

    setup = explore.Setup(
        explore.initial_state(name, kwargs, run, display),
        plugin=name if registry.is_plugin(name) else None,
        max_steps=explore.MAX_STEPS if run.max_steps == DEFAULT_MAX_STEPS else run.max_steps,
        metric_file=run.metric if run.metric and run.metric.strip().startswith("@") else None,
    )
    out = report.console()

    def ready(url: str) -> None:
        opened = not no_browser and explore.open_browser(url)
        out.print(report.explore_banner(url, opened, setup.max_steps))

    explore.serve(setup, port=port, ready=ready)
    global _SIGNALLED
    _SIGNALLED = 0  # Ctrl-C is how the explorer is meant to stop: exit 0
    out.print(report.explore_stopped())


# --------------------------------------------------------------------------- commands


@app.command("list", cls=LrplotCommand, rich_help_panel="Commands")
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
    out = report.console()
    out.print(report.scheduler_list(rows))
    out.print("\n" + PLUGINS_HELP, soft_wrap=False)


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
_FROM_OUT = (
    "Write .png .svg .pdf .csv .json (repeatable); '-' writes CSV to stdout. Default: "
    "FILE's name with .png; no file with --term or --table."
)
_CHECK_OUT = (
    "Write the plot (.png .svg .pdf; with --resume-at, the uninterrupted and the resumed "
    "runs) or the data (.csv .json). Default: no file."
)
_COMPARE_OUT = (
    "Write .png .svg .pdf .csv .json (repeatable); '-' writes CSV to stdout. Default: "
    "compare.png; no file with --term or --table."
)
app.command("compare", cls=LrplotCommand, rich_help_panel="Commands")(
    _command(
        compare,
        _COMPARE_ARGS
        + _parameters(
            [
                dataclasses.replace(o, help=_COMPARE_OUT) if o.name == "out" else o
                for o in RUN + DISPLAY
                if o.name != "sweep"
            ]
        ),
    )
)


def from_config(**values: Any) -> None:
    """Draw and check the schedule a training config builds, as its framework builds it.

    Run options win over the file; most configs need --dataset-size (they do not say it).

    Example: [bold]lrplot from args.json --dataset-size 50000 --world-size 8[/]
    """
    from lrplot import report

    with _reported(values["debug"]):
        request = _config_request(values["config"], values)
        if not values["check"]:
            _present(request)
            return
        from lrplot import pipeline

        request.check = True
        out = report.console()
        result = pipeline.run(request, progress=report.progress_bar(out), write=False)
        out.print(report.notes_view(request.notes))
        out.print(report.check_report(request.specs[0].to_command(), result.diagnostics))
    if result.warnings:
        raise typer.Exit(1)


_FROM_ARGS = [
    inspect.Parameter(
        "config",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=Annotated[
            Path,
            typer.Argument(
                metavar="FILE",
                help="TrainingArguments JSON/YAML, LightningCLI YAML, mmengine config (.py needs "
                "--allow-import), DeepSpeed ds_config.json or timm args.yaml.",
            ),
        ],
    ),
    inspect.Parameter(
        "kind",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            str | None,
            typer.Option(
                "--kind",
                metavar="NAME",
                help="The config's framework when its keys do not tell: hf, lightning, "
                "mmengine, deepspeed or timm.",
            ),
        ],
    ),
    inspect.Parameter(
        "allow_import",
        inspect.Parameter.KEYWORD_ONLY,
        default=False,
        annotation=Annotated[
            bool,
            typer.Option(
                "--allow-import",
                help="Let the config run code: a .py config, _base_ files, a scheduler class "
                "outside torch.",
            ),
        ],
    ),
    inspect.Parameter(
        "check",
        inspect.Parameter.KEYWORD_ONLY,
        default=False,
        annotation=Annotated[
            bool,
            typer.Option("--check", help="Run only the diagnostics; exit 1 if any warning fires."),
        ],
    ),
]
app.command("from", cls=LrplotCommand, rich_help_panel="Commands")(
    _command(
        from_config,
        _FROM_ARGS
        + _parameters(
            [dataclasses.replace(o, default=None) if o.kind != "bool" else o for o in RUN if o.spec]
            + [
                dataclasses.replace(o, default=None)
                if o.name == "x"
                else dataclasses.replace(o, help=_FROM_OUT)
                if o.name == "out"
                else o
                for o in DISPLAY
            ]
        ),
    )
)


@app.command("gallery", cls=LrplotCommand, rich_help_panel="Commands")
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
            help="Formats to write: png svg pdf, html (interactive pages). Default: the "
            "config's, else png,svg.",
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
        if (sys.argv[1:] if argv is None else argv) == ["list"]:
            # Nothing to parse: skip Typer's option coercion, which imports pydantic on
            # every invocation in typer >= 0.29 (about 80 ms of a 0.2 s command).
            return list_schedulers()
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
