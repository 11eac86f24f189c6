"""The stepping engine: build the real torch scheduler and record what each step uses.

This is the only module that imports torch (lazily, inside functions). It follows the
canonical training loop of DESIGN §1 exactly, minus two things that cannot change the
curve: ``optimizer.step()`` (the lr lives in ``param_groups`` and no scheduler reads the
parameters) and the ``torch._dynamo`` import that the first optimizer of a process pays
(see ``_dynamo_import_deferred``). ``tests/test_engine.py`` proves the arrays equal the
canonical loop's for every scheduler.

Example:
    >>> from lrplot import simulate
    >>> s = simulate("cosine:T_max=10")
    >>> round(float(s.lr[5, 0]), 6)
    0.05
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lrplot.errors import ExpressionError, LrplotError, SimulationError, UsageError
from lrplot.metric import metric_values
from lrplot.schedule import Event, Schedule
from lrplot.spec import ScheduleSpec, coerce_spec

Progress = Callable[[int, int], None]
_CHUNK = 1 << 15
#: torch's reminder that lr_scheduler.step() came before optimizer.step(); lrplot skips
#: optimizer.step() on purpose (it cannot change the lr), so the reminder does not apply.
_ORDER_WARNING = r"Detected call of `lr_scheduler.step\(\)` before `optimizer.step\(\)`"


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
    spec = given.resolved()
    optimizer = build_optimizer(spec)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message=_ORDER_WARNING)
        scheduler = build_scheduler(spec, optimizer)
        schedule = _step(spec, optimizer, scheduler, progress)
    schedule.title = given.to_command()
    _check_finite(schedule)
    notes = sorted({str(w.message).splitlines()[0] for w in caught})
    schedule.notes[:0] = [f"torch: {n}" for n in notes]
    schedule.events = _events(spec, schedule)
    reductions = [e.step for e in schedule.events if e.kind == "reduce"]
    if spec.traits.metric:
        where = ", ".join(map(str, reductions[:8])) + (" ..." if len(reductions) > 8 else "")
        schedule.notes.append(
            f"ReduceLROnPlateau reduced the lr {len(reductions)} times"
            + (f" (at steps {where})" if reductions else "")
        )
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
    """Return the torch scheduler for a resolved spec, built on ``optimizer``.

    Nested ``schedulers`` share the optimizer (as torch requires); ``--warmup N`` wraps
    the result as ``SequentialLR([LinearLR(...), scheduler], milestones=[N])``, the
    warmup built first, as a training script would write it.
    """
    from torch.optim import lr_scheduler

    if not spec.warmup:
        return _build_one(spec, optimizer)
    what = f"--warmup {spec.warmup}"
    warm = _call_torch(
        what,
        lr_scheduler.LinearLR,
        optimizer,
        start_factor=spec.warmup_start_factor,
        end_factor=1.0,
        total_iters=spec.warmup,
    )
    main = _build_one(spec, optimizer)
    return _call_torch(what, lr_scheduler.SequentialLR, optimizer, [warm, main], [spec.warmup])


def _build_one(spec: ScheduleSpec, optimizer: Any) -> Any:
    from torch.optim import lr_scheduler

    info = spec.info
    kwargs: dict[str, Any] = {}
    for key, value in spec.kwargs.items():
        if key == "lr_lambda":
            value = value[0] if len(value) == 1 else list(value)
        elif key == "schedulers":
            value = [_build_one(sub, optimizer) for sub in value]
        kwargs[key] = value
    factory = getattr(lr_scheduler, info.cls) if info.builtin else info.obj
    who = "torch" if info.builtin else spec.scheduler
    if info.traits.optimizer_keyword:
        scheduler = _call_torch(info.cls, factory, kwargs["schedulers"], optimizer=optimizer)
    else:
        scheduler = _call_torch(info.cls, factory, optimizer, who=who, **kwargs)
    if not callable(getattr(scheduler, "step", None)):
        raise UsageError(
            f"'{spec.scheduler}' did not return an LR scheduler (got {type(scheduler).__name__})"
        )
    if getattr(scheduler, "optimizer", None) is not optimizer:
        raise UsageError(f"'{spec.scheduler}' returned a scheduler built on another optimizer")
    return scheduler


def _step(
    spec: ScheduleSpec, optimizer: Any, scheduler: Any, progress: Progress | None
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
    plateau = spec.traits.metric
    metric = None
    if plateau:
        values, note = metric_values(spec.metric, n)
        metric = np.asarray(values, dtype=np.float64)
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
    schedule = Schedule(
        lr=lr,
        steps_per_epoch=spe,
        momentum=mom,
        metric=metric,
        name=spec.name,
        title=spec.to_command(),
        momentum_name="beta1" if beta else "momentum",
        step_per=spec.step_per or "epoch",
        planned_steps=total,
    )
    if plateau and note:
        schedule.notes.append(note)
    if error is not None:
        at = done * (spe if per_epoch else 1)
        schedule.notes.append(f"{spec.info.cls} stopped at step {at} of {total}: {error}")
    return schedule


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
    if traits.metric:
        drops = np.flatnonzero(np.any(np.diff(schedule.lr[::unit], axis=0) < 0, axis=1)) + 1
        found += [(int(k), "reduce", "reduce") for k in drops]
    found = [(k + spec.warmup, kind, label) for k, kind, label in found]
    if spec.warmup:
        found.insert(0, (spec.warmup, "phase", "warmup ends"))
    events = [Event(k * unit, kind, label) for k, kind, label in found if 0 < k * unit < schedule.n]
    if schedule.stopped:
        events.append(Event(schedule.n, "stop", "stopped"))
    return events


__all__ = ["build_optimizer", "build_scheduler", "simulate"]
