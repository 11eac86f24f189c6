"""Interrupt a run at a checkpoint and resume it the ways training scripts do.

The schedule is stepped by its framework's protocol, exactly as ``simulate`` steps it
(row ``i`` is the lr optimizer step ``i`` uses). After ``at`` optimizer steps the
optimizer's and the scheduler's ``state_dict()`` go through a real ``torch.save`` and
``torch.load`` (``weights_only=True``, torch's default since 2.6; ``weights_only=False``
only when that fails, and the run says so). A fresh optimizer and scheduler are then built
the way a resuming script builds them, and the run continues to its end:

- ``state-dict``: build the optimizer and the scheduler, then load both states (the
  documented way; Lightning's ``ckpt_path``, the Hugging Face Trainer and DeepSpeed do this).
- ``optimizer-first``: load the optimizer's state, then build the scheduler and load its.
- ``last-epoch``: load the optimizer's state and build the scheduler with its resume
  counter (``last_epoch``, DeepSpeed's ``last_batch_iteration``, mmengine's ``last_step``)
  at the steps done minus one; timm's scheduler is moved as its train.py does.
- ``no-state``: load the optimizer's state and rebuild the scheduler without its state.
- a changed run length: as ``state-dict``, but the scheduler is built from another spec
  (the run planned for the new length).

Nothing is compared here (that is ``lrplot.resume``); this module only records the rows.

Example:
    >>> from lrplot.spec import coerce_spec
    >>> runs = resume_runs(coerce_spec("step:step_size=3,gamma=0.5", epochs=8), [4])
    >>> [r.style for r in runs.runs]
    ['state-dict', 'optimizer-first', 'last-epoch', 'no-state']
    >>> bool((runs.runs[0].lr == runs.reference).all())
    True
"""

from __future__ import annotations

import inspect
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lrplot.engine import (
    _ORDER_WARNING,
    _logged,
    build_optimizer,
    build_protocol,
    resolve,
    scheduler_factory,
)
from lrplot.engine.protocols import Protocol
from lrplot.errors import LrplotError, SimulationError, UsageError
from lrplot.metric import metric_values
from lrplot.options import option
from lrplot.spec import ScheduleSpec

__all__ = ["COUNTER_KWARGS", "STYLES", "ResumeRuns", "Resumed", "resume_runs"]

#: the ways a script resumes, in the order they are reported (``--resume-style``).
STYLES: tuple[str, ...] = option("resume_style").choices
#: the style of a run resumed with a changed run length.
CHANGED = "changed-length"
#: constructor kwargs that say how many scheduler steps were done, minus one.
COUNTER_KWARGS: tuple[str, ...] = ("last_epoch", "last_batch_iteration", "last_step")


@dataclass
class Resumed:
    """One resumed run.

    Attributes:
        style: how it was resumed (``STYLES`` or ``changed-length``).
        at: the optimizer step it resumed at (the checkpoint holds ``at`` steps done).
        lr: shape (rows, groups); rows before ``at`` are the interrupted run's. Shorter
            than the reference when the resumed scheduler stopped (``error``).
        error: what stopped the resumed run (the first line of the exception), or None.
        skipped: why this way of resuming does not apply, or None.
        notes: facts worth saying (``weights_only=False`` was needed, the built call).
    """

    style: str
    at: int
    lr: np.ndarray
    error: str | None = None
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class ResumeRuns:
    """The uninterrupted run and every resumed one.

    Attributes:
        reference: shape (rows, groups), the run never interrupted (for a changed run
            length: the run planned for the new length from the start).
        runs: the resumed runs, by resume point then style.
        cls: the scheduler object's class name.
        step_per: when the scheduler moves (``epoch`` or ``iter``).
        kept: for a changed run length, the old schedule stepped on to the new length.
        lambdas: what the scheduler's ``state_dict()`` leaves out of its ``lr_lambda``
            functions (torch keeps only callable objects' attributes), or None.
        notes: facts about the checkpoint, once (``weights_only=False`` was needed).
    """

    reference: np.ndarray
    runs: list[Resumed]
    cls: str
    step_per: str
    kept: np.ndarray | None = None
    lambdas: str | None = None
    notes: list[str] = field(default_factory=list)


class _Loop:
    """Step one optimizer and protocol through rows ``[start, stop)`` and record them."""

    def __init__(self, spec: ScheduleSpec, optimizer: Any, protocol: Protocol) -> None:
        self.spec, self.optimizer, self.protocol = spec, optimizer, protocol
        self.spe = spec.steps_per_epoch
        self.per_epoch = protocol.step_per == "epoch"
        self.metric: np.ndarray | None = None
        if protocol.metric:
            n = spec.epochs if self.per_epoch else spec.n_steps
            self.metric = np.asarray(metric_values(spec.metric, n or 0)[0], dtype=np.float64)

    def run(self, start: int, stop: int, out: list[float]) -> None:
        """Append each group's lr of rows ``start..stop-1`` to ``out`` (flat, row by row).

        Raises what the scheduler raises while stepping; the rows before stay in ``out``.
        """
        groups, protocol, spe, metric = (
            self.optimizer.param_groups,
            self.protocol,
            self.spe,
            self.metric,
        )
        if protocol.fast and metric is None and len(groups) == 1:  # torch: step() only
            group, step, per_epoch = groups[0], protocol.scheduler.step, self.per_epoch
            for i in range(start, stop):
                out.append(group["lr"])
                if not per_epoch or (i + 1) % spe == 0:
                    step()
            return
        for i in range(start, stop):
            protocol.before_step(i)
            out.extend(float(g["lr"]) for g in groups)
            value = None if metric is None or self.per_epoch else float(metric[i])
            protocol.after_step(i, value)
            if (i + 1) % spe == 0:
                epoch = i // spe
                value = None if metric is None or not self.per_epoch else float(metric[epoch])
                protocol.after_epoch(epoch, value)


def _rows(out: list[float], groups: int) -> np.ndarray:
    """Return flat recorded lrs as an array of shape (rows, groups)."""
    return np.asarray(out, dtype=np.float64).reshape(-1, groups)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _new(spec: ScheduleSpec, optimizer: Any = None, **extra: Any) -> tuple[Any, Protocol]:
    optimizer = optimizer if optimizer is not None else build_optimizer(spec)
    return optimizer, build_protocol(spec, optimizer, extra=extra or None)


def _reference(spec: ScheduleSpec) -> tuple[np.ndarray, _Loop]:
    optimizer, protocol = _new(spec)
    loop = _Loop(spec, optimizer, protocol)
    out: list[float] = []
    try:
        loop.run(0, spec.n_steps, out)
    except LrplotError:
        raise
    except Exception as exc:
        if "Tried to step" not in str(exc):  # OneCycleLR past total_steps: rows so far
            raise SimulationError(
                f"the scheduler failed at optimizer step {len(out) // spec.groups}: "
                f"{_first_line(exc)}"
            ) from exc
    return _rows(out, spec.groups), loop


class _Checkpoint:
    """The optimizer's and scheduler's states after a real torch.save / torch.load."""

    def __init__(self, optimizer: Any, protocol: Protocol) -> None:
        self.notes: list[str] = []
        self.optimizer: Any = None
        self.scheduler: Any = None
        self.missing: str | None = None  # why there is no scheduler state
        self.unsaved: str | None = None  # why the scheduler state could not be saved
        try:
            scheduler_state = protocol.state_dict()
        except (AttributeError, NotImplementedError, TypeError) as exc:
            scheduler_state = None
            self.missing = (
                f"{type(protocol.scheduler).__name__} has no usable state_dict() "
                f"({_first_line(exc)})"
            )
        self.lambdas = _lambdas(protocol.scheduler) if scheduler_state is not None else None
        try:
            loaded = self._round_trip(
                {"optimizer": optimizer.state_dict(), "scheduler": scheduler_state}
            )
        except Exception as exc:  # a lambda or local function in the state does not pickle
            self.unsaved = f"torch.save cannot save its state_dict(): {_first_line(exc)}"
            loaded = self._round_trip({"optimizer": optimizer.state_dict(), "scheduler": None})
        self.optimizer, self.scheduler = loaded["optimizer"], loaded["scheduler"]

    def _round_trip(self, state: dict[str, Any]) -> Any:
        import torch

        buffer = io.BytesIO()
        torch.save(state, buffer)
        try:
            buffer.seek(0)
            return torch.load(buffer, weights_only=True)
        except Exception as exc:
            buffer.seek(0)
            note = (
                "torch.load(weights_only=True), the default since torch 2.6, cannot read the "
                f"checkpoint ({_first_line(exc)}); it needs weights_only=False"
            )
            if note not in self.notes:
                self.notes.append(note)
            return torch.load(buffer, weights_only=False)


def _lambdas(scheduler: Any) -> str | None:
    """Say what ``state_dict()`` leaves out of a LambdaLR's functions, or None.

    torch saves ``None`` for a function (``def`` or ``lambda``) and the ``__dict__`` of any
    other callable, which for a ``functools.partial`` (transformers' schedules) is empty:
    its arguments, the horizon among them, are not saved.
    """
    import functools
    import types

    lambdas = getattr(scheduler, "lr_lambdas", None)
    if not isinstance(lambdas, list) or not lambdas:
        return None
    if any(isinstance(fn, functools.partial) for fn in lambdas):
        return "its lr_lambda is a functools.partial whose arguments state_dict() does not keep"
    if any(isinstance(fn, types.FunctionType) for fn in lambdas):
        return "its lr_lambda functions are left out of state_dict()"
    return None


def _counter_kwarg(spec: ScheduleSpec) -> str | None:
    """Return the resume-counter kwarg the outermost constructor takes, or None.

    A class is searched up its MRO as long as each ``__init__`` passes ``**kwargs`` on
    (mmengine's schedulers take ``last_step`` in their base class).
    """
    made = scheduler_factory(spec)
    chain = (
        [vars(k)["__init__"] for k in made.__mro__ if "__init__" in vars(k)]
        if isinstance(made, type)
        else [made]
    )
    for function in chain:
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            return None
        found = next((k for k in COUNTER_KWARGS if k in params), None)
        if found is not None:
            return found
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return None
    return None


def _build_resumed(
    style: str,
    spec: ScheduleSpec,
    checkpoint: _Checkpoint,
    at: int,
    step_per: str,
    notes: list[str],
) -> tuple[Any, Protocol]:
    """Build the optimizer and scheduler of a resuming script (raise when it cannot)."""
    if style in ("state-dict", CHANGED):
        optimizer, protocol = _new(spec)
        optimizer.load_state_dict(checkpoint.optimizer)
        protocol.load_state_dict(checkpoint.scheduler)
        return optimizer, protocol
    optimizer = build_optimizer(spec)
    optimizer.load_state_dict(checkpoint.optimizer)
    if style == "optimizer-first":
        optimizer, protocol = _new(spec, optimizer)
        protocol.load_state_dict(checkpoint.scheduler)
        return optimizer, protocol
    if style == "no-state":
        return _new(spec, optimizer)
    # last-epoch
    epochs = at // spec.steps_per_epoch
    done = at if step_per == "iter" else epochs
    key = _counter_kwarg(spec)
    if key is not None:
        if done > 0:
            notes.append(f"built with {key}={done - 1}")
            _check_fresh_optimizer(spec, key, done - 1, notes)
        return _new(spec, optimizer, **({key: done - 1} if done > 0 else {}))
    optimizer, protocol = _new(spec, optimizer)
    if protocol.fast_forward(at, epochs):
        notes.append(
            "moved as its training script does: "
            + (f"step_update({at})" if step_per == "iter" else f"step({epochs})")
        )
        return optimizer, protocol
    raise _Skip(
        f"{type(protocol.scheduler).__name__} takes no resume counter "
        f"({', '.join(COUNTER_KWARGS)}); resume it through state_dict()"
    )


def _check_fresh_optimizer(spec: ScheduleSpec, key: str, value: int, notes: list[str]) -> None:
    """Note when the counter kwarg needs the optimizer's state (torch's initial_lr)."""
    try:
        _new(spec, **{key: value})
    except Exception as exc:
        if "initial_lr" in str(exc):
            notes.append(
                f"on a fresh optimizer (its state not loaded first) {key}={value} raises "
                "KeyError: 'initial_lr' is not in its param_groups"
            )


class _Skip(Exception):
    """This way of resuming does not apply to the scheduler."""


def _resume_one(
    style: str,
    spec: ScheduleSpec,
    checkpoint: _Checkpoint,
    head: np.ndarray,
    at: int,
    step_per: str,
) -> Resumed:
    """Resume one way from a checkpoint and step the rest of ``spec``'s run."""
    notes: list[str] = []
    done = Resumed(style, at, head.copy(), notes=notes)
    if checkpoint.unsaved is not None and style not in ("no-state", "last-epoch"):
        done.error = checkpoint.unsaved
        return done
    if checkpoint.missing is not None and style in ("state-dict", "optimizer-first", CHANGED):
        done.skipped = checkpoint.missing
        return done
    out: list[float] = head.ravel().tolist()
    try:
        optimizer, protocol = _build_resumed(style, spec, checkpoint, at, step_per, notes)
    except _Skip as skip:
        done.skipped = str(skip)
        return done
    except Exception as exc:
        done.error = f"resuming failed: {_first_line(exc)}"
        return done
    try:
        _Loop(spec, optimizer, protocol).run(at, spec.n_steps, out)
    except Exception as exc:
        done.error = _first_line(exc)
    done.lr = _rows(out, spec.groups)
    return done


def _interrupted(spec: ScheduleSpec, at: int) -> tuple[np.ndarray, _Checkpoint]:
    """Run the first ``at`` steps and take the checkpoint."""
    optimizer, protocol = _new(spec)
    out: list[float] = []
    _Loop(spec, optimizer, protocol).run(0, at, out)
    head = _rows(out, spec.groups)
    return head, _Checkpoint(optimizer, protocol)


def resume_runs(
    spec: ScheduleSpec,
    at: Sequence[int],
    styles: Sequence[str] = STYLES,
    *,
    new_spec: ScheduleSpec | None = None,
    reference: bool = True,
) -> ResumeRuns:
    """Interrupt ``spec``'s run at each step of ``at`` and resume it in each style.

    Args:
        spec: the schedule (resolved here).
        at: optimizer steps after which the checkpoint is taken (1 .. rows - 1).
        styles: the ways to resume (``STYLES``); ignored with ``new_spec``.
        new_spec: resume with a changed run length: the schedule the resumed script
            builds (its ``state_dict`` comes from ``spec``'s run); the reference is then
            ``new_spec``'s own uninterrupted run, and ``kept`` the old one stepped on.
        reference: False skips the uninterrupted run (``reference`` is then empty).

    Raises:
        UsageError: a resume point outside the run, or kwargs torch rejects.
        SimulationError: the uninterrupted run fails.
    """
    spec = resolve(spec)
    target = resolve(new_spec) if new_spec is not None else spec
    with warnings.catch_warnings(), _logged():
        warnings.simplefilter("ignore")
        warnings.filterwarnings("ignore", message=_ORDER_WARNING)
        if reference:
            rows, loop = _reference(target)
        else:
            optimizer, protocol = _new(target)
            rows, loop = np.empty((0, target.groups)), _Loop(target, optimizer, protocol)
        kept = None
        if new_spec is not None:
            kept = _reference(replace(spec, epochs=target.epochs))[0]
        for point in at:
            if not 0 < point < min(spec.n_steps, target.n_steps):
                raise UsageError(
                    f"--resume-at {point} is outside the run: give a step from 1 to "
                    f"{min(spec.n_steps, target.n_steps) - 1}",
                    key="resume_at",
                )
        runs: list[Resumed] = []
        notes: list[str] = []
        lambdas: str | None = None
        step_per = loop.protocol.step_per
        for point in at:
            head, checkpoint = _interrupted(spec, point)
            notes += [n for n in checkpoint.notes if n not in notes]
            lambdas = checkpoint.lambdas
            for style in (CHANGED,) if new_spec is not None else styles:
                runs.append(_resume_one(style, target, checkpoint, head, point, step_per))
    return ResumeRuns(
        reference=rows,
        runs=runs,
        cls=type(loop.protocol.scheduler).__name__,
        step_per=step_per,
        kept=kept,
        lambdas=lambdas,
        notes=notes,
    )
