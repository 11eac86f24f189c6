"""Pitfall checks: judge a resolved spec against its simulated schedule (DESIGN §6).

Each check is a small function registered under a short, stable code; ``CHECKS`` maps
every code to a one-line explanation (for the docs and ``lrplot check --help``).
Lengths are counted in *scheduler steps*: epochs when the scheduler steps once per
epoch, optimizer steps when it steps every iteration.

Example:
    >>> from lrplot.engine import simulate
    >>> from lrplot.spec import parse_spec
    >>> spec = parse_spec("cosine:T_max=20", epochs=150).resolved()
    >>> [d.code for d in diagnose(spec, simulate(spec))]
    ['cosine-short-tmax']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from lrplot.geometry import count as count_steps
from lrplot.registry import ints as _ints
from lrplot.schedule import Schedule
from lrplot.spec import DEFAULT, METRIC, ScheduleSpec

__all__ = ["CHECKS", "Diagnostic", "diagnose"]

Level = Literal["warning", "info"]
#: a horizon at least this many times the run counts as "far larger" than the run.
_FAR = 2
#: ``lr-near-zero-long``: share of the run, and share of the peak lr, that count.
_NEAR_ZERO_SHARE = 0.3
_NEAR_ZERO_LEVEL = 0.01


@dataclass(frozen=True)
class Diagnostic:
    """One finding: a stable code, a level, a one-line message and a concrete fix.

    Example:
        >>> Diagnostic("lr-ends-at-start", "warning", "the lr ends where it started", None).code
        'lr-ends-at-start'
    """

    code: str
    level: Level
    message: str
    fix: str | None = None


@dataclass(frozen=True)
class _Run:
    """The run length in the units that the checks need."""

    epochs: int
    steps_per_epoch: int
    per_epoch: bool
    warmup: int
    check: bool = False

    @property
    def n(self) -> int:
        """Return the scheduler steps of the whole run."""
        return self.epochs if self.per_epoch else self.epochs * self.steps_per_epoch

    @property
    def main(self) -> int:
        """Return the scheduler steps left to the main scheduler after ``--warmup``."""
        return max(0, self.n - self.warmup)

    @property
    def unit(self) -> int:
        """Return the optimizer steps per scheduler step (schedule rows per step)."""
        return self.steps_per_epoch if self.per_epoch else 1

    def length(self, count: int, sep: str = " ") -> str:
        """Return ``count`` with the run's unit: ``150 epochs``, ``3000 steps``, ``5-epoch``."""
        word = "epoch" if self.per_epoch else "step"
        return f"{count}{sep}{word}{'' if count == 1 or sep != ' ' else 's'}"

    def size(self) -> str:
        """Return the run's size: ``150 epochs``, ``2 epochs of 50 steps``."""
        text = _n(self.epochs, "epoch")
        return text + (
            f" of {_n(self.steps_per_epoch, 'step')}" if self.steps_per_epoch > 1 else ""
        )

    def epochs_for(self, sched_steps: int) -> int:
        """Return the ``--epochs`` that gives at least ``sched_steps`` scheduler steps."""
        return sched_steps if self.per_epoch else math.ceil(sched_steps / self.steps_per_epoch)


Check = Callable[[ScheduleSpec, Schedule, _Run], Iterator[Diagnostic]]
_REGISTRY: dict[str, tuple[str, Check]] = {}


def _check(code: str, explanation: str) -> Callable[[Check], Check]:
    """Register a check function under ``code`` with a one-line explanation."""

    def register(func: Check) -> Check:
        _REGISTRY[code] = (explanation, func)
        return func

    return register


# --------------------------------------------------------------------------- helpers


def _int(value: Any) -> int | None:
    """Return ``value`` as an int when it is an integral number, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if float(value).is_integer() else None


def _pct(fraction: float) -> str:
    """Return a fraction as a short percentage, e.g. ``5%`` or ``0.5%``."""
    return f"{100 * fraction:.2g}%" if fraction < 0.1 else f"{100 * fraction:.0f}%"


def _num(value: float) -> str:
    """Return a number in its short form (``0.1``, ``1e-05``)."""
    return f"{value:.6g}"


def _n(count: int, word: str) -> str:
    """Return ``1 step``, ``2 steps``: a count and its noun, singular or plural.

    Example:
        >>> _n(1, "step"), _n(3, "time")
        ('1 step', '3 times')
    """
    return f"{count} {word}{'' if count == 1 else 's'}"


def _times(count: int) -> str:
    """Return ``once``, ``twice`` or ``N times``."""
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _upturns(lr: np.ndarray) -> int:
    """Return how many times a curve turns from falling to rising (flat steps ignored).

    Example:
        >>> _upturns(np.array([3.0, 2.0, 2.0, 1.0, 2.0, 3.0, 1.0, 1.0, 2.0]))
        2
    """
    if lr.size < 3:
        return 0
    diff = np.diff(lr)
    tol = 1e-9 * float(np.max(np.abs(lr)))
    signs = np.sign(diff[np.abs(diff) > tol])
    return int(np.count_nonzero((signs[:-1] < 0) & (signs[1:] > 0)))


# --------------------------------------------------------------------------- checks


def _last_cosine(spec: ScheduleSpec, run: _Run) -> tuple[ScheduleSpec, int, str] | None:
    """Return the cosine that ends the run, its first scheduler step and what precedes it."""
    if spec.traits.climbs_after:
        return spec, run.warmup, f"the {run.length(run.warmup, '-')} warmup" if run.warmup else ""
    subs, milestones = spec.subs, _ints(spec.get("milestones"))
    if (
        spec.traits.composite == "sequential"
        and len(subs) >= 2
        and milestones
        and subs[-1].traits.climbs_after
    ):
        start = run.warmup + milestones[-1]
        return subs[-1], start, f"its SequentialLR milestone at {milestones[-1]}"
    return None


@_check(
    "cosine-short-tmax",
    "CosineAnnealingLR with T_max shorter than the run: after T_max the lr climbs back up.",
)
def _cosine_short_tmax(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> Iterator[Diagnostic]:
    """Yield a warning when the cosine's T_max ends before the run and the lr climbs back."""
    found = _last_cosine(spec, run)
    if found is None:
        return
    cosine, start, before = found
    key = cosine.traits.climbs_after or ""
    t_max = _int(cosine.get(key))
    steps = run.n - start
    if t_max is None or steps <= 0 or t_max >= steps:
        return
    segment = schedule.lr[start * run.unit :]
    climbs = max((_upturns(segment[:, g]) for g in range(schedule.groups)), default=0)
    if not climbs:
        return
    if before:
        where = f"the cosine runs {run.length(steps)} after {before}"
    else:
        where = f"the run is {run.length(steps)}"
    yield Diagnostic(
        "cosine-short-tmax",
        "warning",
        f"{key}={t_max} but {where}: the lr climbs back up {_times(climbs)}",
        f"for a single decay over the run use {_flag(spec, cosine, key, [steps])}",
    )


def _horizons(spec: ScheduleSpec) -> Iterator[tuple[ScheduleSpec, str, list[int], str]]:
    """Yield (owner, kwarg, values, kind) for each horizon kwarg, nested schedulers included.

    ``kind`` is ``decay`` (the schedule ends there), ``cycle`` (a period), ``interval``
    (StepLR's step_size) or ``milestones`` (MultiStepLR's decay points).
    """
    if spec.traits.horizons is not None:
        for key, values, kind in spec.traits.horizons(spec):
            yield spec, key, values, kind
    for sub in spec.subs:
        yield from _horizons(sub)


def _flag(top: ScheduleSpec, owner: ScheduleSpec, key: str, values: Sequence[int]) -> str:
    """Return how to set a kwarg: ``--key v`` at the top level, else ``key=v`` in a SPEC."""
    text = ",".join(str(v) for v in values)
    if owner is top:
        return f"--{key} {text}"
    return f"{key}={text} in the {owner.scheduler} SPEC"


@_check(
    "horizon-unit-mismatch",
    "Horizon kwargs counted in epochs while stepping per iteration (or in optimizer steps "
    "while stepping per epoch): the schedule ends far too early (or is barely used).",
)
def _horizon_unit_mismatch(
    spec: ScheduleSpec, schedule: Schedule, run: _Run
) -> Iterator[Diagnostic]:
    """Yield a warning for each horizon that looks counted in the other step unit."""
    epochs, spe, total = run.epochs, run.steps_per_epoch, run.epochs * run.steps_per_epoch
    sized = spec.traits.from_run
    if run.per_epoch and spe > 1 and sized and all(k in spec.kwargs for k in sized):
        # built as a training script builds it, from the run's epochs and batches, but
        # stepped once per epoch: only the first epochs of its epochs*batches steps run
        sizes = ", ".join(f"{k}={spec.kwargs[k]}" for k in sized)
        total_key = spec.traits.total_kwarg
        alt = f", or build it with {total_key}={epochs} to step it per epoch" if total_key else ""
        alt += f" (--{total_key} {epochs})" if total_key else ""
        yield Diagnostic(
            "horizon-unit-mismatch",
            "warning",
            f"{spec.info.cls}({sizes}) has {total} steps but the scheduler steps once per "
            f"epoch: only {epochs} of them run ({_pct(epochs / total)} of the schedule)",
            f"call scheduler.step() every batch (--step-per iter){alt}",
        )
    for owner, key, values, kind in _horizons(spec):
        if not values or min(values) <= 0:
            continue
        h = max(values)
        shown = ",".join(str(v) for v in values)
        if not run.per_epoch and spe > 1 and h <= epochs and (kind != "cycle" or h < spe):
            scaled = _flag(spec, owner, key, [v * spe for v in values])
            fix = f"use --step-per epoch, or {scaled} to keep stepping per iteration"
            head = (
                f"{key}={shown} looks like epochs but the scheduler steps every iteration "
                f"({spe} per epoch, {total} in the run)"
            )
            if kind == "decay":
                tail = f"the schedule ends after {_n(h, 'step')}, {_pct(h / total)} of the run"
            elif kind == "cycle":
                tail = f"a cycle lasts {_n(h, 'step')}, less than one epoch"
            elif kind == "interval":
                tail = f"the lr decays every {_n(h, 'step')}, {_n(total // h, 'time')}"
            else:
                tail = (
                    f"every decay happens in the first {_n(h, 'step')}, {_pct(h / total)} "
                    "of the run"
                )
            yield Diagnostic("horizon-unit-mismatch", "warning", f"{head}: {tail}", fix)
        elif run.per_epoch and run.main > 0 and h >= _FAR * run.main:
            batches = spe > 1 and h * 2 >= total
            if kind in ("interval", "milestones") and not batches:
                continue  # a milestone past the run: milestones-beyond-run says it
            if batches:
                fix = (
                    f"use --step-per iter ({key}={shown} matches the run's {total} optimizer steps)"
                )
            else:
                target = run.main // 2 if key == "step_size_up" else run.main
                one = "cycle" if kind == "cycle" else "decay"
                fix = f"for one {one} over the run use {_flag(spec, owner, key, [max(1, target)])}"
            yield Diagnostic(
                "horizon-unit-mismatch",
                "warning",
                f"{key}={shown} but the scheduler steps once per epoch and the run has "
                f"{run.length(run.main)}: only {_pct(run.main / h)} of the schedule is used",
                fix,
            )


@_check(
    "onecycle-stopped",
    "The scheduler ran out of steps before the run ended (OneCycleLR past total_steps): "
    "training would crash there.",
)
def _onecycle_stopped(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> Iterator[Diagnostic]:
    """Yield a warning when the simulation stopped before the planned run ended."""
    if not schedule.stopped:
        return
    cls, total = spec.info.cls, spec.traits.total_kwarg
    fix = None
    if total:
        fix = (
            f"use --{total} {run.main} (the run's scheduler steps), or drop --{total} "
            "to derive it from --epochs and --steps-per-epoch"
        )
    yield Diagnostic(
        "onecycle-stopped",
        "warning",
        f"{cls} ran out of steps at step {schedule.n} of {schedule.planned_steps}; "
        "training would crash there",
        fix,
    )


@_check(
    "milestones-beyond-run",
    "MultiStepLR/SequentialLR milestones or a StepLR step_size at or past the end of the "
    "run: those decays never happen.",
)
def _milestones_beyond_run(
    spec: ScheduleSpec, schedule: Schedule, run: _Run
) -> Iterator[Diagnostic]:
    """Yield a warning for milestones and step sizes the run never reaches."""
    main = run.main
    if main <= 0:
        return
    own = {
        kind: (key, values)
        for key, values, kind in (spec.traits.horizons(spec) if spec.traits.horizons else [])
    }
    if "milestones" in own:
        milestones = own["milestones"][1]
        beyond = [m for m in milestones if m >= main]
        if beyond:
            shown = ",".join(map(str, beyond))
            one = len(beyond) == 1
            if len(beyond) == len(milestones):
                what = "the lr never decays"
            else:
                what = "that decay never happens" if one else "those decays never happen"
            label = "milestone" if one else "milestones"
            yield Diagnostic(
                "milestones-beyond-run",
                "warning",
                f"{label} {shown} at or past the end of the run ({run.length(main)}): {what}",
                f"use milestones below {main}, or --epochs "
                f"{run.epochs_for(run.warmup + beyond[-1] + 1)} to reach them",
            )
    elif "interval" in own:
        key, sizes = own["interval"]
        size = sizes[0] if sizes else None
        if size is not None and size >= main:
            fix = f"--epochs {run.epochs_for(run.warmup + size + 1)} to reach it"
            if main >= 4:
                fix = f"--{key} {main // 3} for 3 decays, or " + fix
            yield Diagnostic(
                "milestones-beyond-run",
                "warning",
                f"{key}={size} but the run is {run.length(main)}: {spec.info.cls} never decays",
                "use " + fix,
            )
    elif spec.traits.composite == "sequential":
        subs, milestones = spec.subs, _ints(spec.get("milestones"))
        if not milestones or milestones[0] >= main:
            return  # a first phase longer than the run: warmup-longer-than-run says it
        late = [(i, m) for i, m in enumerate(milestones) if i > 0 and m >= main]
        for i, m in late:
            phase = subs[i + 1].scheduler if i + 1 < len(subs) else f"phase {i + 2}"
            yield Diagnostic(
                "milestones-beyond-run",
                "warning",
                f"SequentialLR milestone {m} is at or past the end of the run "
                f"({run.length(main)}): the {phase} phase never starts",
                f"use a milestone below {main}, or --epochs {run.epochs_for(run.warmup + m + 1)}",
            )


def _warmup_subs(spec: ScheduleSpec) -> Iterator[ScheduleSpec]:
    """Yield the LinearLR/ConstantLR schedulers that run from the start of ``spec``."""
    if spec.traits.warmup:
        yield spec
    elif spec.traits.composite == "chained":
        for sub in spec.subs:
            yield from _warmup_subs(sub)


@_check(
    "warmup-longer-than-run",
    "A warmup (--warmup, LinearLR/ConstantLR total_iters, a first SequentialLR phase) at "
    "least as long as the run: the main schedule never starts.",
)
def _warmup_longer_than_run(
    spec: ScheduleSpec, schedule: Schedule, run: _Run
) -> Iterator[Diagnostic]:
    """Yield a warning when a warmup phase covers the whole run."""
    short = max(1, run.n // 20)
    if run.warmup and run.warmup >= run.n:
        yield Diagnostic(
            "warmup-longer-than-run",
            "warning",
            f"--warmup {run.warmup} is at least the run's {run.length(run.n)}: the "
            f"{spec.scheduler} schedule never starts",
            f"use --warmup {short} ({_pct(short / run.n)} of the run), or --epochs "
            f"{run.epochs_for(run.warmup + 1)} or more",
        )
        return
    main = run.main
    for sub in _warmup_subs(spec):
        cls = sub.info.cls
        total_iters = _int(sub.get("total_iters"))
        if total_iters is None or total_iters < main:
            continue
        if sub.traits.warmup == "linear":
            start, end = sub.get("start_factor"), sub.get("end_factor")
            if end <= start:
                continue  # a decay: horizon-unit-mismatch judges it
            effect = f"the lr never reaches end_factor={_num(end)} × lr"
        else:
            effect = f"the lr stays at factor={_num(sub.get('factor'))} × lr the whole run"
        short = max(1, main // 20)
        fix = f"use {_flag(spec, sub, 'total_iters', [short])} ({_pct(short / main)} of the run)"
        yield Diagnostic(
            "warmup-longer-than-run",
            "warning",
            f"{cls} total_iters={total_iters} is at least the run's {run.length(main)}: {effect}",
            fix,
        )
    subs, milestones = spec.subs, _ints(spec.get("milestones"))
    sequential = spec.traits.composite == "sequential"
    if sequential and milestones and milestones[0] >= main and len(subs) >= 2:
        yield Diagnostic(
            "warmup-longer-than-run",
            "warning",
            f"SequentialLR switches to {subs[1].scheduler} at {milestones[0]} but the run is "
            f"{run.length(main)}: the main schedule never starts",
            f"use a first milestone below {main} (e.g. {short}), or --epochs "
            f"{run.epochs_for(run.warmup + milestones[0] + 1)} or more",
        )


@_check(
    "plateau-never-reduced",
    "ReduceLROnPlateau never cut the lr during the run (patience too long, or the metric "
    "kept improving).",
)
def _plateau_never_reduced(
    spec: ScheduleSpec, schedule: Schedule, run: _Run
) -> Iterator[Diagnostic]:
    """Yield a warning when ReduceLROnPlateau never lowered any group's lr."""
    if schedule.metric is None or schedule.n < 2:
        return
    if bool(np.any(np.diff(schedule.lr, axis=0) < 0)):
        return
    if spec.get("patience") is None:  # a framework's plateau scheduler with other kwargs
        yield Diagnostic(
            "plateau-never-reduced",
            "warning",
            f"{spec.info.cls} never reduced the lr in {run.length(run.n)}",
            "check its patience and mode kwargs, and --metric",
        )
        return
    patience = _int(spec.get("patience")) or 0
    mode = spec.get("mode")
    min_lrs = spec.get("min_lr") or 0
    floors = min_lrs if isinstance(min_lrs, (list, tuple)) else [min_lrs] * len(spec.lr)
    message = (
        f"{spec.info.cls} never reduced the lr in {run.length(run.n)} "
        f"(patience={patience}, mode={mode})"
    )
    if all(f >= lr for f, lr in zip(floors, spec.lr, strict=False)):
        fix = f"min_lr={_num(max(floors))} is not below the lr: lower --min_lr"
    elif patience >= run.n - 1:
        fix = f"patience={patience} leaves no room in the run: use --patience {max(1, run.n // 10)}"
    else:
        fix = (
            f"the metric never stalled for more than {run.length(patience)}: lower --patience, "
            f"or check --mode {mode} and --metric"
        )
    yield Diagnostic("plateau-never-reduced", "warning", message, fix)


@_check(
    "lr-ends-at-start",
    "The final lr equals the initial lr: the schedule has no net decay (by design only for "
    "CyclicLR and CosineAnnealingWarmRestarts, where it is info).",
)
def _lr_ends_at_start(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> Iterator[Diagnostic]:
    """Yield a diagnostic when every group's last lr equals its first one."""
    if schedule.n < 2 or schedule.stopped or schedule.metric is not None:
        return  # plateau-never-reduced and onecycle-stopped say it better
    first, last = schedule.lr[0], schedule.lr[-1]
    if not np.all(np.isclose(first, last, rtol=1e-6, atol=0.0)):  # relative: any lr scale
        return
    shown = ", ".join(_num(float(v)) for v in first)
    by_design = spec.traits.cyclic
    flat = bool(np.all(np.isclose(schedule.lr, first, rtol=1e-6, atol=0.0)))
    if by_design:
        message = f"the lr ends where it started ({shown}): {spec.info.cls} ends on a full cycle"
        fix = None
    else:
        where = f"stays at {shown} the whole run" if flat else f"ends where it started ({shown})"
        message = f"the lr {where}: the schedule has no net decay"
        fix = f"for a decay over the whole run try cosine --T_max {run.n}"
    yield Diagnostic("lr-ends-at-start", "info" if by_design else "warning", message, fix)


@_check(
    "lr-near-zero-long",
    "More than 30% of the run trains at an lr under 1% of the peak: mostly wasted compute.",
)
def _lr_near_zero_long(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> Iterator[Diagnostic]:
    """Yield an info note when a long share of the steps sits near zero lr."""
    if schedule.n == 0:
        return
    peaks = schedule.lr.max(axis=0)
    if not np.all(peaks > 0):
        return
    low = schedule.lr < _NEAR_ZERO_LEVEL * peaks
    counts = low.sum(axis=0)
    g = int(np.argmax(counts))
    share = counts[g] / schedule.n
    if share <= _NEAR_ZERO_SHARE:
        return
    first = int(np.argmax(low[:, g]))
    yield Diagnostic(
        "lr-near-zero-long",
        "info",
        f"{_pct(share)} of the run ({counts[g]} of {schedule.n} steps) trains at an lr under "
        f"1% of the peak ({_num(float(peaks[g]))})",
        f"the lr first drops that low at step {first}: slow the decay, raise its floor or "
        "stop the run sooner",
    )


@_check(
    "metric-shorter-than-run",
    "A ReduceLROnPlateau metric given as data (a list, a CSV column) is shorter than the run: "
    "its last value is repeated, so later reductions are decided on invented values.",
)
def _metric_shorter_than_run(
    spec: ScheduleSpec, schedule: Schedule, run: _Run
) -> Iterator[Diagnostic]:
    """Yield a warning when the metric data ends before the run does."""
    if schedule.metric_given is None or schedule.metric is None:
        return
    given = schedule.metric_given // run.unit
    padded = run.n - given
    last = _num(float(schedule.metric[schedule.metric_given - 1]))
    yield Diagnostic(
        "metric-shorter-than-run",
        "warning",
        f"the metric has {_n(given, 'value')} for a run of {run.length(run.n)}: the last "
        f"{run.length(padded)} repeat its last value ({last}) and are shaded on the plot",
        f"use --epochs {run.epochs_for(given)} (the metric's length), or give a metric for the "
        "whole run",
    )


@_check(
    "run-vs-horizon",
    "The run is shorter than the scheduler's own horizon (a framework's num_training_steps, "
    "total_num_steps, cycle length, end or num_epochs): training stops mid-schedule; or "
    "longer by an epoch or more: it goes on after the schedule has ended.",
)
def _run_vs_horizon(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> Iterator[Diagnostic]:
    """Yield a warning when the run and the schedule the object reports end apart."""
    h, n, spe = schedule.horizon, schedule.n, run.steps_per_epoch
    if h is None or h <= 0 or schedule.stopped or spec.traits.cyclic:
        return
    if not spec.length_given:
        return  # lrplot chose the length: run-length-assumed says so
    cls, whole = spec.info.cls, math.ceil(h / spe)
    if n < h:
        yield Diagnostic(
            "run-vs-horizon",
            "warning",
            f"the run stops at optimizer step {n} but {cls}'s schedule ends at step {h}: "
            f"only {_pct(n / h)} of it runs",
            f"use --epochs {whole} to train through the whole schedule, or size the "
            "schedule to the run",
        )
    elif n - h >= spe:
        last = _num(float(schedule.lr[h, 0]))
        yield Diagnostic(
            "run-vs-horizon",
            "warning",
            f"{cls}'s schedule ends at optimizer step {h} but the run goes on to step {n}: "
            f"the last {n - h} steps stay near its final lr ({last})",
            f"use --epochs {whole} to stop with the schedule, or size the schedule to the run",
        )


@_check(
    "run-length-assumed",
    "No --epochs: the run length was derived from the schedule's own horizon (T_max, "
    "total_iters, ...) or is lrplot's default of 100 epochs, so the checks cannot judge the "
    "horizon against the real run (a warning in lrplot check, and for plug-ins of unknown "
    "length).",
)
def _run_length_assumed(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> Iterator[Diagnostic]:
    """Yield a warning when the run length is lrplot's guess and it matters."""
    source = spec.length_from
    if spec.length_given or source == METRIC:
        return
    unknown = source == DEFAULT and not spec.info.builtin
    if not (run.check or unknown):
        return
    fix = "give --epochs (and --steps-per-epoch) of your training run"
    if source == DEFAULT:
        message = f"no --epochs: the run is lrplot's default of {run.size()}"
        if unknown:
            message += (
                f"; {spec.scheduler} has no horizon lrplot knows, so the curve may end "
                "before the schedule does"
            )
        else:
            message += ", so the checks judge a run you did not describe"
    else:
        keys = sorted({key for _, key, _, _ in _horizons(spec)})
        judged = " and ".join(keys) if keys else "the schedule"
        message = (
            f"no --epochs: the run length ({run.size()}) was derived from {source}, so "
            f"{judged} cannot be checked against your training run"
        )
    yield Diagnostic("run-length-assumed", "warning", message, fix)


# --------------------------------------------------------------------------- frameworks
# The pitfalls between a training config and the optimizer steps (issue 12): how many
# optimizer steps the run really has, how the framework warms up and steps.


def _decay_horizon(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> tuple[str, int] | None:
    """Return ``(what, optimizer steps)`` where the schedule's decay ends, if it says."""
    if schedule.horizon is not None:
        keys = [k for _, k, _, kind in _horizons(spec) if kind == "decay"]
        return (keys[0] if keys else f"{spec.info.cls}'s schedule"), schedule.horizon
    for owner, key, values, kind in _horizons(spec):
        if kind == "decay" and values and owner is spec:
            return f"{key}={max(values)}", max(values) * run.unit
    return None


@_check(
    "schedule-vs-geometry",
    "A horizon sized in steps that matches the run counted without gradient accumulation or "
    "without the world size (or counted twice): the schedule is stretched (it never finishes) "
    "or compressed (it ends early) by that factor.",
)
def _schedule_vs_geometry(
    spec: ScheduleSpec, schedule: Schedule, run: _Run
) -> Iterator[Diagnostic]:
    """Yield a warning when a per-step horizon fits a wrongly counted run."""
    found = _geometry_mismatch(spec, schedule, run)
    if found is not None:
        yield found


def _geometry_mismatch(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> Diagnostic | None:
    counted, geometry = spec.counted(), spec.geometry
    found = _decay_horizon(spec, schedule, run)
    if counted is None or geometry is None or found is None or run.per_epoch:
        return None
    what, h = found
    total = schedule.planned_steps or schedule.n
    epochs, accum, world = run.epochs, geometry.grad_accum, geometry.world_size
    if abs(h - total) <= epochs:
        return None
    single = count_steps(counted.trainer, replace(geometry, world_size=1))
    wrong: list[tuple[int, str, int]] = []
    if accum > 1:
        wrong.append((counted.batches * epochs, f"without gradient accumulation A={accum}", accum))
    if world > 1:
        wrong.append((single.steps * epochs, f"for one process, not {world}", world))
    if accum > 1 and world > 1:
        both = count_steps(counted.trainer, replace(geometry, world_size=1, grad_accum=1))
        wrong.append((both.batches * epochs, "without accumulation and world size", accum * world))
    for factor in {k for _, _, k in wrong}:
        wrong.append((total // factor, f"divided by {factor} twice", -factor))
    for target, how, factor in wrong:
        if abs(h - target) <= max(epochs, target // 50):
            if factor > 0:
                effect = f"stretched ×{factor}: only {_pct(total / h)} of it runs"
            else:
                effect = f"compressed ×{-factor}: it ends at step {h} of {total}"
            return Diagnostic(
                "schedule-vs-geometry",
                "warning",
                f"{what} is the run counted {how} ({target} steps), but the optimizer steps "
                f"{total} times: the schedule is {effect}",
                f"size it to {total} optimizer steps ({counted.steps} per epoch × {epochs} epochs)",
            )
    return None


@_check(
    "warmup-vs-run",
    "A framework's warmup (num_warmup_steps, warmup_num_steps, warmup_t, warmup_epochs) at "
    "least as long as the run: the main schedule never starts.",
)
def _warmup_vs_run(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> Iterator[Diagnostic]:
    """Yield a warning for a warmup kwarg at least as long as the run, or rounded away."""
    for key in spec.traits.warmup_kwargs:
        value = _int(spec.get(key))
        unit = spec.traits.unit(key) or "steps"
        length = run.epochs if unit == "epochs" else run.n
        shown = _n(length, "epoch") if unit == "epochs" else run.length(run.n)
        if value is not None and value >= length > 0:
            yield Diagnostic(
                "warmup-vs-run",
                "warning",
                f"{key}={value} is at least the run ({shown}): the warmup never ends",
                f"use a warmup of a few percent of the run (e.g. {key}={max(1, length // 20)}, "
                f"in {unit})",
            )


@_check(
    "first-steps-at-zero",
    "The first optimizer steps run at lr 0 (a warmup from 0; DeepSpeed's iterations -1 and 0): "
    "they update nothing (info for one step, a warning for more).",
)
def _first_steps_at_zero(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> Iterator[Diagnostic]:
    """Yield a diagnostic when the run starts with steps at lr 0."""
    if schedule.n < 2:
        return
    zero = np.all(schedule.lr == 0, axis=1)
    k = int(np.argmin(zero)) if not zero.all() else schedule.n
    if k == 0:
        return
    fix = "a warmup from above 0 (e.g. 1% of the peak lr) makes every step count"
    if spec.traits.family == "DeepSpeed":
        fix = "DeepSpeed sets the warmup's floor at steps 0 and 1: raise warmup_min_lr above 0"
    what = "the first optimizer step runs" if k == 1 else f"the first {k} optimizer steps run"
    yield Diagnostic(
        "first-steps-at-zero",
        "info" if k == 1 else "warning",
        f"{what} at lr 0 ({'it updates' if k == 1 else 'they update'} nothing)",
        fix,
    )


@_check(
    "decay-unfinished",
    "The run ends before the decay does (a decay horizon at least 10% longer than the run): "
    "the final lr stays well above the schedule's floor.",
)
def _decay_unfinished(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> Iterator[Diagnostic]:
    """Yield a warning when a torch decay horizon is 10% or more past the run's end."""
    if schedule.horizon is not None or spec.traits.cyclic or schedule.stopped:
        return  # a framework's own horizon: run-vs-horizon judges it
    if not spec.length_given or schedule.metric is not None:
        return
    found = _decay_horizon(spec, schedule, run)
    if found is None:
        return
    what, h = found
    n = schedule.n
    if h < 1.1 * n or (run.per_epoch and h >= _FAR * max(1, run.main) * run.unit):
        return  # horizon-unit-mismatch says it when it is far longer
    if _geometry_mismatch(spec, schedule, run) is not None:
        return  # schedule-vs-geometry names the cause
    peak = float(schedule.lr[:, 0].max())
    final = float(schedule.lr[-1, 0])
    key = what.split("=")[0]
    yield Diagnostic(
        "decay-unfinished",
        "warning",
        f"{what} but the run is {run.length(run.n)}: the decay is {_pct(n / h)} done and the "
        f"final lr {_num(final)} is {_pct(final / peak) if peak else '?'} of the peak",
        f"size it to the run ({key}={run.main}), or train "
        f"{run.length(math.ceil(h / run.unit) + run.warmup)}",
    )


@_check(
    "frequency-skips",
    "Lightning's lr_scheduler frequency, counted on the batch index within each epoch: larger "
    "than an epoch it never steps; not a multiple of the accumulation it skips steps.",
)
def _frequency_skips(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> Iterator[Diagnostic]:
    """Yield a warning when Lightning's frequency counter never or seldom fires."""
    k = spec.frequency
    if k <= 1:
        return
    if run.per_epoch:
        if k > run.epochs:
            yield Diagnostic(
                "frequency-skips",
                "warning",
                f"frequency={k} epochs but the run is {run.length(run.epochs)}: the scheduler "
                "never steps",
                f"use frequency {max(1, run.epochs // 4)} or less",
            )
        return
    batches, step_batches = spec.loop()
    due = batches // k
    stepped = sum(1 for b in step_batches if (b + 1) % k == 0)
    if stepped == 0:
        yield Diagnostic(
            "frequency-skips",
            "warning",
            f"frequency={k} but an epoch has {batches} batch{'es' * (batches != 1)}: "
            "Lightning counts the batch index within each epoch, so the scheduler never steps",
            f"use frequency {max(1, batches // 2)} or less (or --step-per epoch)",
        )
    elif stepped < due:
        yield Diagnostic(
            "frequency-skips",
            "warning",
            f"frequency={k} with {spec.grad_accum} batches per optimizer step: only {stepped} "
            f"of the {due} due scheduler steps per epoch happen (the others fall on batches "
            "that do not step the optimizer)",
            f"use a multiple of the accumulation, e.g. frequency {k * spec.grad_accum}",
        )


@_check(
    "warmup-shape",
    "DeepSpeed's warmups are logarithmic unless warmup_type says linear: the lr jumps up "
    "in the first steps.",
)
def _warmup_shape(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> Iterator[Diagnostic]:
    """Yield a warning when a warmup's shape is a framework default most people do not expect."""
    shape = spec.traits.warmup_shape
    if shape is None or shape[0] in spec.kwargs or spec.info.kwarg(shape[0]) is None:
        return
    key, default = shape
    warm = max(2, _int(spec.get(spec.traits.warmup_kwargs[0])) or 0)
    tenth = min(schedule.n - 1, max(1, warm // 10) + 1)
    peak = float(schedule.lr[:, 0].max()) or 1.0
    yield Diagnostic(
        "warmup-shape",
        "warning",
        f"the warmup is {default}-shaped ({key} defaults to {default!r}): after a tenth of "
        f"its {warm} steps the lr is already {_pct(float(schedule.lr[tenth, 0]) / peak)} of "
        "the peak",
        f"set {key} to 'linear' for a linear warmup (or to {default!r} to keep it)",
    )


@_check(
    "peak-overrides-lr",
    "A scheduler kwarg sets the peak lr instead of the optimizer's (DeepSpeed's warmup_max_lr, "
    "0.001 by default in WarmupDecayLR): the lr you gave the optimizer is never used.",
)
def _peak_overrides_lr(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> Iterator[Diagnostic]:
    """Yield a warning when the schedule's own peak kwarg differs from the optimizer's lr."""
    peak = spec.traits.peak_kwarg
    if peak is None:
        return
    key, default = peak
    value = spec.kwargs.get(key, default)
    if value is None or all(math.isclose(value, lr, rel_tol=1e-9) for lr in spec.lr):
        return
    given = key in spec.kwargs
    yield Diagnostic(
        "peak-overrides-lr",
        "warning",
        f"{key}={_num(value)}{'' if given else ' (its default)'} replaces the optimizer's lr "
        f"{_num(spec.lr[0])}: the schedule peaks at {_num(value)}",
        f'set {key} to {_num(spec.lr[0])} (HF\'s Trainer: "auto")',
    )


def _epoch_stepped(spec: ScheduleSpec) -> list[ScheduleSpec]:
    """Return the schedulers (``spec`` or its subs) stepped once per epoch."""
    if spec.traits.composite and spec.subs:
        return [s for s in spec.subs if s.traits.default_step_per(s) == "epoch"]
    return [spec] if spec.step_per == "epoch" and not spec.fractional_epoch else []


@_check(
    "epoch-scheduler-never-steps",
    "A scheduler stepped once per epoch in a run of one epoch (mmengine's iteration-based loop "
    "runs one): it never changes the lr.",
)
def _epoch_scheduler_never_steps(
    spec: ScheduleSpec, schedule: Schedule, run: _Run
) -> Iterator[Diagnostic]:
    """Yield a warning for per-epoch schedulers in a single-epoch run of several steps."""
    if run.epochs != 1 or run.steps_per_epoch < 2:
        return
    for sub in _epoch_stepped(spec):
        if sub.traits.family == "mmengine":
            fix = "write it in iterations with by_epoch=False (begin/end in iterations)"
        else:
            fix = "step it per iteration (--step-per iter) with its horizon in steps"
        yield Diagnostic(
            "epoch-scheduler-never-steps",
            "warning",
            f"{sub.info.cls} steps once per epoch and the run is one epoch of "
            f"{run.steps_per_epoch} steps: it never changes the lr",
            fix,
        )


@_check(
    "staircase-warmup",
    "A warmup stepped once per epoch while epochs have many steps: the lr climbs in stairs, "
    "constant within each epoch (timm without sched_on_updates, --warmup per epoch).",
)
def _staircase_warmup(spec: ScheduleSpec, schedule: Schedule, run: _Run) -> Iterator[Diagnostic]:
    """Yield an info note for a per-epoch warmup over epochs of several steps."""
    if not run.per_epoch or run.steps_per_epoch < 2 or spec.fractional_epoch:
        return
    if spec.warmup and not spec.mixed_warmup:
        yield Diagnostic(
            "staircase-warmup",
            "info",
            f"--warmup {spec.warmup} steps once per epoch: the lr climbs in "
            f"{_n(spec.warmup, 'stair')} of {run.steps_per_epoch} steps each",
            "--warmup-step-per iter warms up every optimizer step instead",
        )
        return
    for key in spec.traits.warmup_kwargs:
        value = _int(spec.get(key))
        if value and spec.traits.family == "timm":
            yield Diagnostic(
                "staircase-warmup",
                "info",
                f"{key}={value} epochs stepped once per epoch: the lr climbs in "
                f"{_n(value, 'stair')} of {run.steps_per_epoch} steps each",
                "sched_on_updates (step_on_epochs=false) warms up every optimizer update",
            )


#: code -> one-line explanation of the pitfall, in the order the checks run.
CHECKS: dict[str, str] = {code: text for code, (text, _) in _REGISTRY.items()}


def diagnose(spec: ScheduleSpec, schedule: Schedule, *, check: bool = False) -> list[Diagnostic]:
    """Run every check on a spec and its simulated schedule; return the findings.

    Args:
        spec: the spec that was simulated (resolved here if it is not yet).
        schedule: what ``lrplot.engine.simulate`` returned for it.
        check: ``lrplot check``: a run length lrplot assumed is a warning.

    Example:
        >>> from lrplot.engine import simulate
        >>> from lrplot.spec import parse_spec
        >>> spec = parse_spec("multistep:milestones=[30,120]", epochs=100).resolved()
        >>> [d.message for d in diagnose(spec, simulate(spec))]
        ['milestone 120 at or past the end of the run (100 epochs): that decay never happens']
    """
    spec = spec.resolved()
    run = _Run(
        epochs=int(spec.epochs or 1),
        steps_per_epoch=max(1, int(spec.steps_per_epoch)),
        per_epoch=spec.step_per == "epoch",
        warmup=int(spec.warmup_units),
        check=check,
    )
    found: list[Diagnostic] = []
    for _, judge in _REGISTRY.values():
        found.extend(judge(spec, schedule, run))
    return found
