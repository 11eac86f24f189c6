"""The stepping engine: build the real scheduler and record what each step uses.

This is the only package that imports torch (lazily, inside functions). It follows the
canonical training loop of DESIGN §1 exactly, minus two things that cannot change the
curve: ``optimizer.step()`` (the lr lives in ``param_groups`` and no scheduler reads the
parameters) and the ``torch._dynamo`` import that the first optimizer of a process pays
(see ``_dynamo_import_deferred``). ``tests/test_engine.py`` proves the arrays equal the
canonical loop's for every scheduler. Schedulers of other frameworks (timm, ignite,
mmengine, DeepSpeed) are stepped by their framework's own rules: ``protocols``.

Example:
    >>> from lrplot import simulate
    >>> s = simulate("cosine:T_max=10")
    >>> round(float(s.lr[5, 0]), 6)
    0.05
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from lrplot.engine.protocols import Loop, Protocol, TorchProtocol, WarmupThenProtocol, protocol_for
from lrplot.errors import ExpressionError, LrplotError, SimulationError, UsageError
from lrplot.expr import Expression
from lrplot.metric import metric_length, metric_name, metric_source, metric_values
from lrplot.plugins import scheduler_info
from lrplot.registry import is_sequence_annotation
from lrplot.schedule import Event, Schedule
from lrplot.spec import RETURNED, ScheduleSpec, coerce_spec

Progress = Callable[[int, int], None]
_CHUNK = 1 << 15
#: torch's (and mmengine's) reminder that scheduler.step() came before optimizer.step();
#: lrplot skips optimizer.step() on purpose (it cannot change the lr), so it does not apply.
_ORDER_WARNING = r"Detected call of `(lr_)?scheduler.step\(\)` before `optimizer.step\(\)`"


def simulate(spec: ScheduleSpec | str, *, progress: Progress | None = None, **run: Any) -> Schedule:
    """Step a fresh optimizer and scheduler through the run and record every step.

    Args:
        spec: a ``ScheduleSpec`` or a SPEC string such as ``"cosine:T_max=150"``.
        progress: called as ``progress(done, total)`` every few thousand steps.
        **run: run options for a SPEC string (``epochs=``, ``lr=``, ...).

    Returns:
        The ``Schedule``; row ``i`` is the lr optimizer step ``i`` uses.

    Raises:
        UsageError: torch rejected the kwargs (its message is quoted).
        SimulationError: the scheduler failed while stepping.

    Example:
        >>> simulate("step:step_size=2,gamma=0.5", epochs=4).lr[:, 0].tolist()
        [0.1, 0.1, 0.05, 0.05]
    """
    given = coerce_spec(spec, **run)
    spec = resolve(given)
    optimizer = build_optimizer(spec)
    with warnings.catch_warnings(record=True) as caught, _logged() as logged:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message=_ORDER_WARNING)
        protocol = build_protocol(spec, optimizer)
        schedule = _cut(_step(spec, optimizer, protocol, progress), spec.n_steps)
    schedule.title = given.to_command()
    _check_finite(schedule)
    who = "torch" if spec.info.builtin else spec.traits.family
    notes = sorted({str(w.message).splitlines()[0] for w in caught})
    schedule.notes[:0] = [f"{who}: {n}" for n in notes] + logged
    if given.epochs is None and protocol.run_epochs is not None:
        schedule.notes.append(
            f"run length: {protocol.run_epochs} epochs, the num_epochs that "
            f"{spec.info.cls} returned"
        )
    schedule.horizon = protocol.horizon(spec.steps_per_epoch)
    schedule.samples_per_step = spec.samples_per_step
    counted = spec.counted()
    if counted is not None:
        steps = f"{_count(counted.steps, 'optimizer step')} per epoch"
        schedule.geometry = f"{steps}: {counted.text}"
        if counted.note:
            schedule.notes.append(counted.note)
    if spec.fractional_epoch:
        schedule.notes.append(
            f"scheduler.step(epoch + i / {protocol.loop.batches}) after every optimizer step "
            "(i: its batch in the epoch): fractional epochs"
        )
    if spec.frequency != 1:
        every = "batch index + 1" if spec.step_per == "iter" else "epoch + 1"
        schedule.notes.append(
            f"Lightning steps the scheduler when ({every}) % {spec.frequency} == 0 "
            "(lr_scheduler frequency)"
        )
    if spec.mixed_warmup:
        start = spec.warmup_units
        schedule.notes.append(
            f"the --warmup LinearLR steps after each of the first {spec.warmup} optimizer "
            f"steps; {spec.info.cls} steps after every epoch from epoch {start} on"
        )
    schedule.events = _events(spec, schedule)
    reductions = [e.step for e in schedule.events if e.kind == "reduce"]
    if protocol.metric:
        where = ", ".join(map(str, reductions[:8])) + (" ..." if len(reductions) > 8 else "")
        schedule.notes.append(
            f"{spec.info.cls} reduced the lr {len(reductions)} "
            + ("time" if len(reductions) == 1 else "times")
            + (f" (at step{'s' * (len(reductions) > 1)} {where})" if reductions else "")
        )
    return schedule


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{record.name}: {record.getMessage().strip().splitlines()[0]}"
        if line not in self.lines:
            self.lines.append(line)


@contextlib.contextmanager
def _logged() -> Iterator[list[str]]:
    """Turn what frameworks log while a scheduler is built and stepped into notes.

    DeepSpeed, for one, logs warnings to stdout, where ``-o -`` writes the CSV. While the
    block runs, every logger's handlers are replaced by one that collects the lines.
    """
    collect = _Collect()
    lines: list[str] = []
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    saved = [(lg, lg.handlers[:]) for lg in loggers if lg.handlers]
    for lg, _ in saved:
        lg.handlers = [collect]
    try:
        yield lines
    finally:
        for lg, handlers in saved:
            lg.handlers = handlers
        lines.extend(collect.lines)


def resolve(spec: ScheduleSpec) -> ScheduleSpec:
    """Return the spec with every default filled in, its run length included.

    Like ``ScheduleSpec.resolved``; and when no ``--epochs`` is given and the factory
    returns the run length with the scheduler (timm's ``create_scheduler_v2`` returns
    ``(scheduler, num_epochs)``), it is built once to read that length.

    Example:
        >>> resolve(coerce_spec("cosine:T_max=20")).epochs
        20
    """
    resolved = spec.resolved()
    if spec.epochs is not None or not spec.traits.returns_epochs:
        return resolved
    optimizer = build_optimizer(resolved)
    with warnings.catch_warnings(), _logged():
        warnings.simplefilter("ignore")
        protocol = build_protocol(resolved, optimizer)
    if protocol.run_epochs is None:
        return resolved
    epochs = max(1, protocol.run_epochs)
    return replace(spec, epochs=epochs, length_from=RETURNED).resolved()


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _cut(schedule: Schedule, steps: int) -> Schedule:
    """Keep the first ``steps`` rows: a run stopped by ``--train-steps`` (max_steps).

    Rows are causal (row i never depends on later steps), so this is the shorter run.
    """
    if schedule.n <= steps and (schedule.planned_steps or 0) <= steps:
        return schedule
    schedule.lr = schedule.lr[:steps]
    if schedule.momentum is not None:
        schedule.momentum = schedule.momentum[:steps]
    if schedule.metric is not None:
        schedule.metric = schedule.metric[:steps]
    if schedule.metric_given is not None and schedule.metric_given >= steps:
        schedule.metric_given = None
    schedule.planned_steps = min(schedule.planned_steps or steps, steps)
    return schedule


def _check_finite(schedule: Schedule) -> None:
    """Refuse to plot NaN/inf learning rates silently: name the first bad step."""
    bad = ~np.isfinite(schedule.lr)
    if bad.any():
        row, group = (int(v) for v in np.argwhere(bad)[0])
        value = schedule.lr[row, group]
        where = f"step {row}" + (f", group {group}" if schedule.groups > 1 else "")
        raise SimulationError(
            f"the lr becomes {value} at {where} (epoch {row / schedule.steps_per_epoch:g})",
            hint="check the function or plug-in that computes it",
        )


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a dependency
        raise SimulationError(
            "PyTorch is not installed", hint="pip install torch (see README: set-up)"
        ) from exc
    return torch


@contextlib.contextmanager
def _dynamo_import_deferred(cls: type) -> Iterator[None]:
    """Let ``cls(...)`` run without importing ``torch._dynamo`` (about 1.1 s).

    torch wraps ``Optimizer.add_param_group`` and friends in ``torch._disable_dynamo``,
    which imports ``torch._dynamo`` on the first call only to build a "dynamo-disabled"
    version of the function, then caches it as ``fn.__dynamo_disable``. Outside
    ``torch.compile`` that version behaves exactly like ``fn``; so while lrplot builds
    its optimizer it puts ``fn`` itself in that cache and removes it afterwards, leaving
    the process as it found it. Nothing happens once ``torch._dynamo`` is loaded.
    """
    patched: list[Any] = []
    if "torch._dynamo" not in sys.modules:
        for klass in cls.__mro__:
            for attr in vars(klass).values():
                inner = getattr(attr, "__wrapped__", None)
                code = getattr(attr, "__code__", None)
                if (
                    inner is not None
                    and code is not None
                    and code.co_name == "inner"
                    and Path(code.co_filename).name == "_compile.py"
                    and not hasattr(inner, "__dynamo_disable")
                ):
                    setattr(inner, "__dynamo_disable", inner)
                    patched.append(inner)
    try:
        yield
    finally:
        for inner in patched:
            with contextlib.suppress(AttributeError):
                delattr(inner, "__dynamo_disable")


def scheduler_doc(scheduler: str) -> str:
    """Return the docstring of a scheduler's class or factory (its ``Args:`` explain the kwargs).

    Example:
        >>> "T_max" in scheduler_doc("cosine")
        True
    """
    info = scheduler_info(scheduler)
    if info.builtin:
        from torch.optim import lr_scheduler

        return inspect.getdoc(getattr(lr_scheduler, info.cls)) or ""
    return inspect.getdoc(info.obj) or ""


def build_optimizer(spec: ScheduleSpec) -> Any:
    """Return a fresh real torch optimizer with one param group per ``spec.lr``.

    Example:
        >>> build_optimizer(ScheduleSpec("cosine", lr=(0.1, 0.01))).param_groups[1]["lr"]
        0.01
    """
    torch = _import_torch()
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in spec.lr]
    if spec.optimizer == "sgd":
        cls, extra = torch.optim.SGD, {"momentum": 0.9}
    else:
        cls, extra = (torch.optim.Adam if spec.optimizer == "adam" else torch.optim.AdamW), {}
    with _dynamo_import_deferred(cls):
        return cls(groups, lr=spec.lr[0], **extra)


def _call_torch(
    what: str, factory: Callable[..., Any], *args: Any, who: str = "torch", **kwargs: Any
) -> Any:
    try:
        return factory(*args, **kwargs)
    except ExpressionError as exc:  # an lr_lambda failing on its first call
        raise SimulationError(exc.message, hint=exc.hint) from exc
    except LrplotError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError) as exc:
        raise UsageError(f"{who} rejected {what}: {_first_line(exc)}") from exc
    except (Exception, SystemExit) as exc:  # a plug-in may raise anything while being built
        detail = f": {exc}".splitlines()[0] if str(exc).strip() else ""
        raise SimulationError(
            f"{what} failed while being built: {type(exc).__name__}{detail}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def build_scheduler(spec: ScheduleSpec, optimizer: Any) -> Any:
    """Return the scheduler object for a resolved spec, built on ``optimizer``.

    Nested ``schedulers`` share the optimizer (as torch requires); ``--warmup N`` wraps
    the result as ``SequentialLR([LinearLR(...), scheduler], milestones=[N])``, the
    warmup built first, as a training script would write it. A factory's tuple is
    unwrapped to the scheduler in it.
    """
    return build_protocol(spec, optimizer).scheduler


def build_protocol(
    spec: ScheduleSpec, optimizer: Any, *, extra: dict[str, Any] | None = None
) -> Protocol:
    """Build the scheduler for a resolved spec and return the protocol that steps it.

    Args:
        spec: a resolved spec.
        optimizer: the optimizer the scheduler drives.
        extra: kwargs for the outermost constructor only (a resume's ``last_epoch``).

    Raises:
        UsageError: the kwargs were rejected, or the object is no scheduler lrplot can
            step, or it drives another optimizer.
    """
    loop = _loop(spec)
    if spec.warmup:
        protocol = _build_warmed(spec, optimizer, loop, extra)
    else:
        protocol = _build_one(spec, optimizer, loop, extra)
    protocol.setup(loop)
    return protocol


def _loop(spec: ScheduleSpec) -> Loop:
    """Return the loop around the optimizer steps: batches, accumulation, frequency."""
    batches, step_batches = spec.loop()
    return Loop(batches, step_batches, spec.grad_accum, spec.frequency, spec.fractional_epoch)


def _build_warmed(
    spec: ScheduleSpec, optimizer: Any, loop: Loop, extra: dict[str, Any] | None
) -> Protocol:
    """Build a scheduler with ``--warmup``: SequentialLR, or a per-iteration warmup first.

    ``extra`` goes to the outermost constructor: SequentialLR, or the main scheduler of a
    per-iteration warmup.
    """
    from torch.optim import lr_scheduler

    what = f"--warmup {spec.warmup}"

    def warmup() -> Any:
        return _call_torch(
            what,
            lr_scheduler.LinearLR,
            optimizer,
            start_factor=spec.warmup_start_factor,
            end_factor=1.0,
            total_iters=spec.warmup,
        )

    warm = None if spec.mixed_warmup else warmup()
    built = _build_one(spec, optimizer, loop, extra if spec.mixed_warmup else None)
    if not isinstance(built, TorchProtocol) or built.metric:
        raise UsageError(
            f"--warmup wraps torch schedulers in SequentialLR; {spec.info.cls} built a "
            f"{type(built.scheduler).__name__}",
            hint="use the scheduler's own warmup kwargs",
            key="warmup",
        )
    main = built.scheduler
    if spec.mixed_warmup:  # built after the main scheduler: it scales the lr main set
        return WarmupThenProtocol(main, warmup(), spec.warmup)
    wrapped = _call_torch(
        what, lr_scheduler.SequentialLR, optimizer, [warm, main], [spec.warmup], **(extra or {})
    )
    return TorchProtocol(wrapped, spec.step_per or "epoch")


def scheduler_factory(spec: ScheduleSpec) -> Callable[..., Any]:
    """Return the class or function that builds the spec's outermost scheduler.

    Example:
        >>> scheduler_factory(coerce_spec("cosine:T_max=5", warmup=2)).__name__
        'SequentialLR'
    """
    from torch.optim import lr_scheduler

    if spec.warmup and not spec.mixed_warmup:
        return lr_scheduler.SequentialLR  # type: ignore[no-any-return]
    info = spec.info
    return getattr(lr_scheduler, info.cls) if info.builtin else info.obj  # type: ignore[no-any-return]


def _build_one(
    spec: ScheduleSpec, optimizer: Any, loop: Loop, extra: dict[str, Any] | None = None
) -> Protocol:
    from torch.optim import lr_scheduler

    info = spec.info
    chained: list[Protocol] | None = None
    if info.traits.composite == "chained" and spec.subs:
        chained = [_build_one(sub, optimizer, loop) for sub in spec.subs]
        if not any(isinstance(b, TorchProtocol) for b in chained):
            return _framework_list(spec, chained)
    kwargs: dict[str, Any] = {k: v for k, v in info.traits.defaults if info.kwarg(k)}
    for key, value in spec.kwargs.items():
        kw = info.kwarg(key)
        if key == "lr_lambda":
            value = [_function(fn) for fn in value]
            value = value[0] if len(value) == 1 else value
        elif kw is not None and kw.kind == "specs":
            subs = chained or [_build_one(sub, optimizer, loop) for sub in value]
            value = [b.scheduler for b in subs]
            if not is_sequence_annotation(kw.annotation):
                if len(value) != 1:
                    raise UsageError(
                        f"{spec.scheduler} --{key} takes one scheduler, got {len(value)}", key=key
                    )
                value = value[0]
        kwargs[key] = value
    kwargs.update(extra or {})
    factory = getattr(lr_scheduler, info.cls) if info.builtin else info.obj
    who = "torch" if info.builtin else spec.scheduler
    for key, method, _ in info.traits.builders:  # e.g. mmengine's convert_to_iter_based
        if kwargs.pop(key, False):
            factory = getattr(info.obj, method)
            kwargs["epoch_length"] = loop.batches
    if info.traits.optimizer_keyword:
        made = _call_torch(info.cls, factory, kwargs["schedulers"], optimizer=optimizer)
    elif info.optimizer_arg is None:
        made = _call_torch(info.cls, factory, who=who, **kwargs)
    elif info.optimizer_positional:
        made = _call_torch(info.cls, factory, optimizer, who=who, **kwargs)
    else:
        kwargs[info.optimizer_arg] = optimizer
        made = _call_torch(info.cls, factory, who=who, **kwargs)
    protocol = _protocol(spec, made)
    if protocol.optimizer is not optimizer:
        raise UsageError(f"'{spec.scheduler}' returned a scheduler built on another optimizer")
    return protocol


def _framework_list(spec: ScheduleSpec, built: list[Protocol]) -> Protocol:
    """Return the protocol of a list of framework schedulers (an mmengine runner's list)."""
    found = protocol_for([b.scheduler for b in built])
    if found is None:
        families = sorted({b.family for b in built})
        raise UsageError(
            f"{spec.scheduler}: lrplot steps a list of {' and '.join(families)} schedulers only "
            "as an mmengine runner steps its param_scheduler list",
            hint="chain torch schedulers, or mmengine ones",
            key="schedulers",
        )
    return found


def _function(fn: Any) -> Any:
    """Return an expression as the plain function a training script would pass.

    torch's ``LambdaLR.state_dict()`` leaves functions out and keeps the ``__dict__`` of
    callable objects; an ``lr_lambda`` typed as an expression stands for a script's
    ``lambda epoch: ...``, so it is handed over as one.
    """
    if not isinstance(fn, Expression):
        return fn

    def lr_lambda(epoch: int) -> float:
        return fn(epoch)

    return lr_lambda


def _protocol(spec: ScheduleSpec, made: Any) -> Protocol:
    """Return the protocol of what a class or factory returned (a tuple is unwrapped)."""
    step_per = spec.step_per or "epoch"
    parts = list(made) if isinstance(made, tuple) else [made]
    found = [(p, protocol_for(p, step_per)) for p in parts]
    steppable = [(p, proto) for p, proto in found if proto is not None]
    if len(steppable) != 1:
        got = (
            type(made).__name__
            if not isinstance(made, tuple)
            else ("(" + ", ".join(type(p).__name__ for p in parts) + ")")
        )
        raise UsageError(
            f"'{spec.scheduler}' did not return an LR scheduler lrplot can step (got {got})",
            hint="lrplot steps torch, timm, ignite, mmengine and DeepSpeed schedulers",
        )
    protocol = steppable[0][1]
    if spec.traits.returns_epochs:
        counts = [p for p in parts if isinstance(p, int) and not isinstance(p, bool)]
        protocol.run_epochs = counts[0] if counts else None
    return protocol


def _step(
    spec: ScheduleSpec, optimizer: Any, protocol: Protocol, progress: Progress | None
) -> Schedule:
    """Step the scheduler as its framework does; record what each optimizer step uses."""
    if protocol.fast:
        return _step_torch(spec, optimizer, protocol.scheduler, protocol.metric, progress)
    return _step_framework(spec, optimizer, protocol, progress)


def _step_torch(
    spec: ScheduleSpec, optimizer: Any, scheduler: Any, plateau: bool, progress: Progress | None
) -> Schedule:
    """Run the canonical loop; record lr and momentum before each scheduler step."""
    spe = spec.steps_per_epoch
    per_epoch = spec.step_per == "epoch"
    total = spec.n_steps
    n = spec.epochs if per_epoch else total
    assert n is not None
    groups = optimizer.param_groups
    beta = spec.optimizer != "sgd"
    lr_rows = np.empty((len(groups), n))
    mom_rows = np.empty((len(groups), n))
    metric = None
    given: int | None = None
    if plateau:
        values, _ = metric_values(spec.metric, n)  # a short metric: diagnose warns
        metric = np.asarray(values, dtype=np.float64)
        given = metric_length(spec.metric, n)  # the file is read no further than the run
    step = scheduler.step
    done = n
    error: Exception | None = None
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        try:
            if plateau:
                _loop_metric(groups, lr_rows, mom_rows, beta, step, metric, start, stop)
            elif len(groups) == 1:
                _loop_one(groups[0], lr_rows[0], mom_rows[0], beta, step, start, stop)
            else:
                _loop_metric(groups, lr_rows, mom_rows, beta, step, None, start, stop)
        except _Stopped as stopped:
            done, error = stopped.at + 1, stopped.error
            break
        if progress is not None:
            progress(stop * (spe if per_epoch else 1), total)
    lr = lr_rows[:, :done].T
    mom = mom_rows[:, :done].T
    constant = done > 0 and bool(np.all(mom == mom[0]))
    if constant:  # most schedulers leave momentum alone: keep one row, not n
        mom = np.broadcast_to(mom[0].copy(), mom.shape)
        del mom_rows
    if metric is not None:
        metric = metric[:done]
    if per_epoch and spe > 1:
        lr = np.repeat(lr, spe, axis=0)
        mom = np.broadcast_to(mom[0], lr.shape) if constant else np.repeat(mom, spe, axis=0)
        metric = np.repeat(metric, spe) if metric is not None else None
    at = done * (spe if per_epoch else 1)
    return _schedule(spec, lr, mom, metric, spec.step_per or "epoch", total, error, at, given, n)


def _step_framework(
    spec: ScheduleSpec, optimizer: Any, protocol: Protocol, progress: Progress | None
) -> Schedule:
    """Run the training loop of DESIGN §1 with the framework's calls around each step."""
    spe = spec.steps_per_epoch
    epochs = spec.epochs
    assert epochs is not None
    total = epochs * spe
    per_epoch = protocol.step_per == "epoch"
    groups = optimizer.param_groups
    beta = spec.optimizer != "sgd"
    lr_rows = np.empty((len(groups), total))
    mom_rows = np.empty((len(groups), total))
    metric = None
    given: int | None = None
    n_sched = epochs if per_epoch else total
    if protocol.metric:
        values, _ = metric_values(spec.metric, n_sched)  # a short metric: diagnose warns
        metric = np.asarray(values, dtype=np.float64)
        given = metric_length(spec.metric, n_sched)
    done, error = total, None
    chunk = max(1, _CHUNK // spe)
    for first in range(0, epochs, chunk):
        last = min(epochs, first + chunk)
        try:
            _loop_framework(protocol, groups, lr_rows, mom_rows, beta, metric, first, last, spe)
        except _Stopped as stopped:
            done, error = stopped.at, stopped.error
            break
        if progress is not None:
            progress(last * spe, total)
    lr = lr_rows[:, :done].T
    mom = mom_rows[:, :done].T
    if done > 0 and bool(np.all(mom == mom[0])):
        mom = np.broadcast_to(mom[0].copy(), mom.shape)
    if metric is not None:
        metric = (np.repeat(metric, spe) if per_epoch else metric)[:done]
    return _schedule(spec, lr, mom, metric, protocol.step_per, total, error, done, given, n_sched)


def _schedule(
    spec: ScheduleSpec,
    lr: np.ndarray,
    mom: np.ndarray,
    metric: np.ndarray | None,
    step_per: str,
    total: int,
    error: Exception | None,
    stopped_at: int,
    given: int | None,
    n_sched: int,
) -> Schedule:
    """Wrap the recorded rows as a ``Schedule`` with its metric notes and any early stop.

    ``given`` is how many scheduler steps a metric given as data covers, of ``n_sched``.
    """
    per_epoch = step_per == "epoch"
    schedule = Schedule(
        lr=lr,
        steps_per_epoch=spec.steps_per_epoch,
        momentum=mom,
        metric=metric,
        name=spec.name,
        title=spec.to_command(),
        momentum_name="momentum" if spec.optimizer == "sgd" else "beta1",
        step_per=step_per,
        planned_steps=total,
        length_from=spec.length_from or "",
    )
    if metric is not None:
        schedule.metric_name = metric_name(spec.metric)
        source = metric_source(spec.metric, n_sched)
        if source:
            schedule.notes.append(source)
        if given is not None and given < n_sched:
            schedule.metric_given = given * (spec.steps_per_epoch if per_epoch else 1)
    if error is not None:
        schedule.notes.append(f"{spec.info.cls} stopped at step {stopped_at} of {total}: {error}")
    return schedule


def _loop_framework(
    protocol: Protocol,
    groups: list[dict[str, Any]],
    lr_rows: np.ndarray,
    mom_rows: np.ndarray,
    beta: bool,
    metric: np.ndarray | None,
    first: int,
    last: int,
    spe: int,
) -> None:
    before, after, end = protocol.before_step, protocol.after_step, protocol.after_epoch
    per_epoch = protocol.step_per == "epoch"
    i = first * spe
    try:
        for epoch in range(first, last):
            for _ in range(spe):
                before(i)
                for g, group in enumerate(groups):
                    lr_rows[g, i] = group["lr"]
                    mom_rows[g, i] = group["betas"][0] if beta else group["momentum"]
                after(i, None if metric is None or per_epoch else float(metric[i]))
                i += 1
            end(epoch, None if metric is None or not per_epoch else float(metric[epoch]))
    except Exception as exc:
        raise _fail(i, exc) from exc


class _Stopped(Exception):
    def __init__(self, at: int, error: Exception) -> None:
        self.at, self.error = at, error


def _fail(at: int, exc: BaseException) -> Exception:
    if isinstance(exc, SystemExit):
        return SimulationError(
            f"the scheduler raised SystemExit({exc.code!r}) at scheduler step {at + 1}",
            hint="a scheduler's step() must not end the program",
        )
    if isinstance(exc, ExpressionError):  # valid text, but it fails at this epoch: runtime
        return SimulationError(exc.message, hint=exc.hint)
    if isinstance(exc, LrplotError):
        return exc
    if isinstance(exc, ValueError) and "Tried to step" in str(exc):
        return _Stopped(at, exc)  # OneCycleLR ran out of total_steps
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return SimulationError(f"the scheduler failed at scheduler step {at + 1}: {message}")


def _loop_one(
    group: dict[str, Any],
    lrs: np.ndarray,
    moms: np.ndarray,
    beta: bool,
    step: Callable[..., Any],
    start: int,
    stop: int,
) -> None:
    i = start
    try:
        if beta:
            for i in range(start, stop):
                lrs[i] = group["lr"]
                moms[i] = group["betas"][0]
                step()
        else:
            for i in range(start, stop):
                lrs[i] = group["lr"]
                moms[i] = group["momentum"]
                step()
    except (Exception, SystemExit) as exc:  # a plug-in may even call exit()
        raise _fail(i, exc) from exc


def _loop_metric(
    groups: list[dict[str, Any]],
    lr_rows: np.ndarray,
    mom_rows: np.ndarray,
    beta: bool,
    step: Callable[..., Any],
    metric: np.ndarray | None,
    start: int,
    stop: int,
) -> None:
    i = start
    try:
        for i in range(start, stop):
            for g, group in enumerate(groups):
                lr_rows[g, i] = group["lr"]
                mom_rows[g, i] = group["betas"][0] if beta else group["momentum"]
            if metric is None:
                step()
            else:
                step(float(metric[i]))
    except (Exception, SystemExit) as exc:  # a plug-in may even call exit()
        raise _fail(i, exc) from exc


def _events(spec: ScheduleSpec, schedule: Schedule) -> list[Event]:
    """Return the decays, restarts, phase changes and reductions worth marking."""
    unit = spec.steps_per_epoch if spec.step_per == "epoch" else 1
    n_sched = schedule.n // unit
    traits = spec.traits
    # in scheduler steps after any warmup
    found = list(traits.events(spec, n_sched)) if traits.events is not None else []
    if schedule.metric is not None:
        drops = np.flatnonzero(np.any(np.diff(schedule.lr[::unit], axis=0) < 0, axis=1)) + 1
        found += [(int(k), "reduce", "reduce") for k in drops]
    found = [(k + spec.warmup_units, kind, label) for k, kind, label in found]
    events = [Event(k * unit, kind, label) for k, kind, label in found if 0 < k * unit < schedule.n]
    if spec.warmup:
        end = spec.warmup if spec.mixed_warmup else spec.warmup * unit
        if 0 < end < schedule.n:
            events.insert(0, Event(end, "phase", "warmup ends"))
    if schedule.stopped:
        events.append(Event(schedule.n, "stop", "stopped"))
    return events


__all__ = [
    "build_optimizer",
    "build_protocol",
    "build_scheduler",
    "protocol_for",
    "resolve",
    "scheduler_doc",
    "scheduler_factory",
    "simulate",
]
