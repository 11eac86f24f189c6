"""``lrplot verify PLAN --log FILE``: did the training run use the schedule it planned?

The plan is anything lrplot draws, given as a pipeline ``Request`` (a scheduler command
line, a SPEC, a config file through its request builder); the log is what the run wrote
(``lrplot.logs``). Each logged value is paired with the optimizer step it belongs to and
compared with the planned lr there: the first divergence, the largest relative error, and
the explanation that fits best from a small set, each tested exactly against a schedule
lrplot simulates (approximately only when no exact one fits):

- ``shifted``: the logged lr is the plan's one step later (read after ``scheduler.step()``);
- ``constant``: the lr never changes (the scheduler was never stepped);
- ``per-epoch``: the lr changes only at epoch boundaries (stepped per epoch, not per step);
- ``restart``: the schedule starts again at step r (a resume without the scheduler's state);
- ``time-scaled``: the plan stretched or compressed by a factor (gradient accumulation or
  the world size left out of a horizon, or a scheduler stepped per micro-batch);
- ``lr-scaled``: the plan times a constant (another base lr);
- ``longer``: the log goes on past the planned run.

Example:
    >>> from lrplot import pipeline
    >>> from lrplot.options import DisplayOptions, RunOptions, VerifyOptions
    >>> plan = pipeline.schedule_request("step", {"step_size": "4", "gamma": "0.5"},
    ...                                  RunOptions(epochs=12), DisplayOptions())
    >>> done = verify(plan, VerifyOptions(log_file="tests/data/logs/csv/bug_after/lr.csv"),
    ...               write=False)
    >>> done.ok, done.explanation.kind, done.first_step
    (False, 'shifted', 3)
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from lrplot import export
from lrplot.curves import floor_of, rel_errors
from lrplot.diagnose import Diagnostic
from lrplot.errors import UsageError
from lrplot.logs import TrainingLog, read_log
from lrplot.options import VerifyOptions
from lrplot.pipeline import Request, request_inputs, run
from lrplot.runlength import Change, scale_counts, with_run_length
from lrplot.schedule import Schedule
from lrplot.spec import ScheduleSpec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FACTORS", "Explanation", "Verification", "verify"]

#: the time-scale factors tried: gradient accumulation and world sizes.
FACTORS: tuple[int, ...] = (2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32, 64)
#: an explanation that fits only approximately must fit within this relative error.
APPROX = 0.02
#: float32 storage (TensorBoard, Lightning's self.log) differs by up to about this.
FLOAT32 = 2e-7
#: the longest variant of the plan simulated to test an explanation exactly.
MAX_VARIANT_STEPS = 5_000_000


@dataclass
class Explanation:
    """Why the log differs from the plan, as well as lrplot can tell.

    Attributes:
        kind: ``agrees``, ``shifted``, ``constant``, ``per-epoch``, ``restart``,
            ``time-scaled``, ``lr-scaled``, ``longer``, ``no-overlap`` or ``unexplained``.
        message: one sentence with the numbers.
        exact: the explanation reproduces every logged value within ``--rtol`` (else it
            fits only within ``APPROX``).
        step: the optimizer step where it starts (the first divergence).
        factor: the time or lr scale, for ``time-scaled`` and ``lr-scaled``.
        fit: the largest relative error of the explanation's own curve.
    """

    kind: str
    message: str
    exact: bool = True
    step: int | None = None
    factor: float | None = None
    fit: float = 0.0


@dataclass
class Verification:
    """A plan compared with a training log.

    Attributes:
        command: the plan's command line.
        plan: the planned schedule.
        log: what the log holds.
        group: the plan's param group compared.
        rtol: the tolerance used (raised to float32's precision for float32 logs).
        rows: the optimizer step of each logged value inside the plan.
        logged: the logged values at ``rows``.
        planned: the planned lr at ``rows``.
        errors: the relative error at each of ``rows``.
        past: logged values after the plan's last step.
        explanation: the best-fitting explanation.
        diagnostics: the plan's own checks.
        notes: what lrplot chose while reading and pairing.
    """

    command: str
    plan: Schedule
    log: TrainingLog
    group: int
    rtol: float
    rows: np.ndarray
    logged: np.ndarray
    planned: np.ndarray
    errors: np.ndarray
    past: int
    explanation: Explanation
    diagnostics: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    figure: Figure | None = None

    @property
    def first(self) -> int | None:
        """Return the index (into ``rows``) of the first logged value off the plan."""
        bad = np.flatnonzero(self.errors > self.rtol)
        return int(bad[0]) if bad.size else None

    @property
    def first_step(self) -> int | None:
        """Return the optimizer step of the first divergence (or the first step past the plan)."""
        first = self.first
        if first is not None:
            return int(self.rows[first])
        return self.plan.n if self.past else None

    @property
    def max_rel(self) -> float:
        """Return the largest relative error over the paired values."""
        return float(self.errors.max()) if self.errors.size else 0.0

    @property
    def ok(self) -> bool:
        """Return True when every logged value agrees with the plan within ``rtol``."""
        return self.rows.size > 0 and self.first is None and not self.past


def _fmt(value: float) -> str:
    return f"{value:.4g}"


class _Fitter:
    """Test explanations against the plan: each predicts the logged values at ``rows``."""

    def __init__(self, spec: ScheduleSpec, plan: Schedule, group: int, rtol: float) -> None:
        self.spec, self.plan, self.group, self.rtol = spec, plan, group, rtol
        self.curve = plan.lr[:, group]
        self.floor = floor_of(self.curve)

    def error(self, predicted: np.ndarray, logged: np.ndarray) -> float:
        """Return the largest relative error of a prediction (inf when it has gaps)."""
        if predicted.shape != logged.shape or not predicted.size:
            return math.inf
        return float(rel_errors(logged, predicted, self.floor).max())

    def at(self, curve: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Return ``curve[index]``, or an empty array when some index is outside it."""
        if index.size and (index.min() < 0 or index.max() >= len(curve)):
            return np.empty(0)
        return curve[index]

    def simulate(self, spec: ScheduleSpec) -> np.ndarray | None:
        """Return a variant plan's curve (None when lrplot cannot build it)."""
        from lrplot.engine import simulate

        try:
            schedule = simulate(spec)
        except Exception:  # a variant the scheduler rejects is simply no explanation
            return None
        return schedule.lr[:, min(self.group, schedule.groups - 1)]


def _explain(
    fit: _Fitter, rows: np.ndarray, logged: np.ndarray, first: int, log: TrainingLog
) -> Explanation:
    """Return the explanation that fits the logged values best."""
    plan = fit.curve
    step = int(rows[first])
    tests: list[Callable[[], Explanation | None]] = [
        lambda: _constant(fit, rows, logged, step),
        lambda: _shifted(fit, rows, logged, step, log),
        lambda: _per_epoch(fit, rows, logged, step),
        lambda: _restart(fit, rows, logged, first),
        lambda: _lr_scaled(fit, rows, logged, step),
        lambda: _time_scaled(fit, rows, logged, step, exact=True),
    ]
    for test in tests:
        found = test()
        if found is not None:
            return found
    approx = _time_scaled(fit, rows, logged, step, exact=False)
    if approx is not None:
        return approx
    k = rows[first]
    return Explanation(
        "unexplained",
        f"from step {step} the log leaves the plan ({_fmt(logged[first])} logged, "
        f"{_fmt(plan[k])} planned), and none of the usual causes fits: a shift, a restart, "
        "stepping per epoch, a time or lr scale",
        exact=False,
        step=step,
    )


def _constant(fit: _Fitter, rows: np.ndarray, logged: np.ndarray, step: int) -> Explanation | None:
    value = float(logged[0])
    if fit.error(np.full_like(logged, value), logged) > fit.rtol or len(logged) < 2:
        return None
    start = float(fit.curve[0])
    same = fit.error(np.array([start]), np.array([value])) <= fit.rtol
    other = "" if same else f" (the plan starts at {_fmt(start)}: another lr?)"
    return Explanation(
        "constant",
        f"the lr stays at {_fmt(value)} all run{other}: the scheduler was never stepped "
        "(scheduler.step() missing, or stepping another optimizer)",
        step=step,
    )


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)


def _shifted(
    fit: _Fitter, rows: np.ndarray, logged: np.ndarray, step: int, log: TrainingLog
) -> Explanation | None:
    for shift in (1, -1):
        inside = (rows + shift >= 0) & (rows + shift < len(fit.curve))
        if inside.sum() < 2:
            continue
        predicted = fit.curve[rows[inside] + shift]
        if fit.error(predicted, logged[inside]) > fit.rtol:
            continue
        if shift == 1:
            why = (
                "the lr was read after scheduler.step() (get_last_lr() after the step, or a "
                "step counter read before it moved on)"
            )
            if log.format == "hf" or "Hugging Face" in log.writer:
                why += "; the Hugging Face Trainer logs so with DeepSpeed, and always did up to "
                why += "transformers 4.50"
            return Explanation(
                "shifted",
                f"the logged lr is the planned lr one step later, from step {step} on: {why}",
                step=step,
                factor=1,
            )
        return Explanation(
            "shifted",
            f"the logged lr is the planned lr one step earlier, from step {step} on: the "
            "log counts its steps one higher than the plan (try --step-base "
            f"{1 - log.base})",
            step=step,
            factor=-1,
        )
    return None


def _per_epoch(fit: _Fitter, rows: np.ndarray, logged: np.ndarray, step: int) -> Explanation | None:
    spe = fit.plan.steps_per_epoch
    if spe < 2 or fit.plan.step_per != "iter":
        return None
    predicted = fit.at(fit.curve, rows // spe)
    if fit.error(predicted, logged) > fit.rtol:
        return None
    return Explanation(
        "per-epoch",
        f"the lr changes only at epoch boundaries (every {spe} steps), by one planned step "
        f"each, from step {step} on: the scheduler was stepped once per epoch, not after every "
        "optimizer step (Lightning does so unless configure_optimizers returns "
        "'interval': 'step')",
        step=step,
    )


def _restart(fit: _Fitter, rows: np.ndarray, logged: np.ndarray, first: int) -> Explanation | None:
    """A resume that rebuilt the scheduler: the schedule starts again at step r."""
    low = int(rows[first - 1]) + 1 if first > 0 else 1
    high = int(rows[first])
    plan = fit.curve
    candidates = range(max(1, low), high + 1)
    for r in candidates:
        predicted = fit.at(plan, np.where(rows < r, rows, rows - r))
        if fit.error(predicted, logged) <= fit.rtol:
            return Explanation(
                "restart",
                f"the schedule starts again at step {r} (the lr goes back to "
                f"{_fmt(plan[0])}, its first value): a resume rebuilt the scheduler without "
                "loading its state_dict()",
                step=r,
            )
    if len(candidates) > 16 or len(plan) > MAX_VARIANT_STEPS // 5:
        return None
    from lrplot.engine.resume import resume_runs

    for r in candidates:
        if r >= len(plan):
            break
        try:
            resumed = resume_runs(fit.spec, [r], ["no-state"], reference=False).runs[0]
        except Exception:
            return None
        curve = resumed.lr[:, min(fit.group, resumed.lr.shape[1] - 1)]
        if resumed.error is None and fit.error(fit.at(curve, rows), logged) <= fit.rtol:
            return Explanation(
                "restart",
                f"the schedule starts again at step {r}: a resume loaded the optimizer's "
                "state but rebuilt the scheduler without its state_dict()",
                step=r,
            )
    return None


def _lr_scaled(fit: _Fitter, rows: np.ndarray, logged: np.ndarray, step: int) -> Explanation | None:
    planned = fit.curve[rows]
    usable = np.abs(planned) > fit.floor
    if usable.sum() < 2:
        return None
    ratio = float(np.median(logged[usable] / planned[usable]))
    if _close(ratio, 1.0) or fit.error(planned * ratio, logged) > fit.rtol:
        return None
    return Explanation(
        "lr-scaled",
        f"the logged lr is the planned lr times {ratio:.6g}: the run's base lr differs "
        f"({_fmt(float(fit.curve[0]) * ratio)} where the plan starts at {_fmt(fit.curve[0])})",
        step=step,
        factor=ratio,
    )


def _screen(fit: _Fitter, rows: np.ndarray, logged: np.ndarray) -> list[tuple[float, int, int]]:
    """Rank time scales by an interpolated fit: (error, factor, offset); negative = stretch."""
    grid = np.arange(len(fit.curve), dtype=float)
    ranked: list[tuple[float, int, int]] = []
    for k in FACTORS:
        t = rows / k
        ranked.append((fit.error(np.interp(t, grid, fit.curve), logged), -k, 0))
        if fit.plan.step_per == "iter":
            for d in range(k + 1):
                t = rows * k + d
                inside = t <= grid[-1]
                if inside.sum() >= max(3, len(rows) // 3):
                    err = fit.error(np.interp(t[inside], grid, fit.curve), logged[inside])
                    ranked.append((err, k, d))
    return sorted(ranked)


def _time_scaled(
    fit: _Fitter, rows: np.ndarray, logged: np.ndarray, step: int, *, exact: bool
) -> Explanation | None:
    ranked = _screen(fit, rows, logged)
    if not ranked:
        return None
    if not exact:
        err, k, d = ranked[0]
        if err > APPROX:
            return None
        return _scaled(k, d, step, [], exact=False, fit_error=err)
    tried: set[int] = set()
    for err, k, _d in ranked:
        if err > 0.2 or len(tried) >= 2 or k in tried:
            continue
        tried.add(k)
        found = _exact_scale(fit, rows, logged, k, step)
        if found is not None:
            return found
    return None


def _exact_scale(
    fit: _Fitter, rows: np.ndarray, logged: np.ndarray, k: int, step: int
) -> Explanation | None:
    spec = fit.spec
    if spec.n_steps * abs(k) > MAX_VARIANT_STEPS:
        return None  # the approximate fit stands in
    if k > 0:  # compressed: the scheduler stepped k times per optimizer step
        longer = fit.simulate(replace(spec, steps_per_epoch=spec.steps_per_epoch * k))
        if longer is None:
            return None
        for d in range(k + 1):
            index = rows * k + d
            inside = index < len(longer)
            if inside.sum() >= max(2, len(rows) // 2):
                predicted = longer[index[inside]]
                if fit.error(predicted, logged[inside]) <= fit.rtol:
                    return _scaled(k, d, step, [], exact=True)
        return None
    factor = -k
    sized, changes = with_run_length(spec, (spec.epochs or 1) * factor, old_epochs=spec.epochs)
    variants = [(replace(sized.resolved(), epochs=spec.epochs, length_from=None), changes)]
    variants.append(scale_counts(spec, factor))
    for variant, what in variants:
        if not what:
            continue
        curve = fit.simulate(variant)
        if curve is not None and fit.error(fit.at(curve, rows), logged) <= fit.rtol:
            return _scaled(k, 0, step, what, exact=True)
    return None


def _scaled(
    k: int, d: int, step: int, changes: list[Change], *, exact: bool, fit_error: float = 0.0
) -> Explanation:
    how = "" if exact else f" (approximately: within {fit_error:.1%})"
    if k > 0:
        at = f"{k}i + {d}" if d else f"{k}i"
        return Explanation(
            "time-scaled",
            f"the run followed the plan {k}x faster (step i ran at the plan's lr of step "
            f"{at}){how}: the scheduler was stepped {k} "
            "times per optimizer step (once per micro-batch with gradient accumulation, or "
            "once per process, as a scheduler prepared by accelerate is)",
            exact=exact,
            step=step,
            factor=k,
            fit=fit_error,
        )
    factor = -k
    sized = f" ({', '.join(f'{c.name}={c.new}' for c in changes)})" if changes else ""
    return Explanation(
        "time-scaled",
        f"the run followed the plan stretched {factor}x{sized}{how}: its horizon was "
        f"computed from {factor}x too many steps (gradient accumulation or the world size "
        "left out, e.g. len(dataloader) * epochs)",
        exact=exact,
        step=step,
        factor=factor,
        fit=fit_error,
    )


def _group(log: TrainingLog, plan: Schedule) -> int:
    """Return the plan's param group a column names.

    Lightning's ``lr-AdamW/pg2`` (1-based) is group 1; lrplot's own ``lr_1`` is group 1.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> [_group(NS(name=n), NS(groups=3)) for n in ("lr-SGD/pg2", "lr_2", "lr", "lr_5")]
        [1, 2, 0, 0]
    """
    found = re.search(r"pg(\d+)$", log.name)
    if found and 0 < int(found.group(1)) <= plan.groups:
        return int(found.group(1)) - 1
    found = re.search(r"(?:^|[^a-z])lr_(\d+)$", log.name)
    if found and int(found.group(1)) < plan.groups:
        return int(found.group(1))
    return 0


def _log_files(path: str | Path) -> dict[str, str]:
    """Return the training log's files (a directory's, e.g. TensorBoard's events), as inputs."""
    path = Path(path)
    if not path.is_dir():
        return {str(path): "the training log"}
    found = islice((p for p in path.rglob("*") if p.is_file()), 1000)
    return {str(p): "a file of the training log" for p in found}


def verify(
    request: Request,
    options: VerifyOptions,
    *,
    write: bool = True,
    log: TrainingLog | None = None,
) -> Verification:
    """Compare the request's planned schedule with a training log; write the outputs.

    Args:
        request: a one-schedule request (a scheduler command line, a SPEC, a config
            file's request); ``display.out`` lists the outputs (an image shows both
            curves with the divergence marked; CSV and JSON the paired values).
        options: the log and how to read and pair it, and ``rtol``.
        write: False compares only.
        log: the log already read (else read from ``options``).

    Raises:
        UsageError: the log cannot be read, several schedules were given, a bad option.
        SimulationError: the plan fails to simulate.
    """
    if len(request.specs) != 1:
        raise UsageError("verify compares one planned schedule with the log, not a sweep")
    if not options.log_file and log is None:
        raise UsageError("verify needs --log FILE: the training log", key="log_file")
    if not options.rtol > 0:
        raise UsageError(f"--rtol must be > 0, got {options.rtol}", key="rtol")
    if log is None:
        log = read_log(
            options.log_file,
            format=options.format,
            column=options.column,
            step_column=options.step_column,
            step_base=options.step_base,
            log_every=options.log_every,
        )
    request = replace(request, default_out=None)
    outs = request.outputs if write else []
    export.check_outputs(outs, {**request_inputs(request), **_log_files(log.path)})
    result = run(request, write=False)
    plan = result.flat[0]
    from lrplot.engine import resolve

    spec = resolve(request.specs[0])
    notes = list(log.notes)
    rtol = options.rtol
    if log.float32 and rtol < FLOAT32:
        rtol = FLOAT32
        notes.append(f"the log stores float32 values: --rtol raised to {FLOAT32:g}")
    g = _group(log, plan)
    if plan.groups > 1:
        notes.append(f"compared with param group {g} of {plan.groups}")
    all_rows = log.rows
    inside = (all_rows >= 0) & (all_rows < plan.n)
    before = int((all_rows < 0).sum())
    past = int((all_rows >= plan.n).sum())
    if before:
        notes.append(f"{before} logged values come before optimizer step 0 (check --step-base)")
    rows, logged = all_rows[inside], log.lr[inside]
    planned = plan.lr[rows, g]
    errors = rel_errors(logged, planned, floor_of(plan.lr[:, g]))
    done = Verification(
        command=request.specs[0].to_command(),
        plan=plan,
        log=log,
        group=g,
        rtol=rtol,
        rows=rows,
        logged=logged,
        planned=planned,
        errors=errors,
        past=past,
        explanation=Explanation("agrees", ""),
        diagnostics=result.diagnostics,
        notes=notes,
    )
    done.explanation = _verdict(done, spec)
    if outs:
        _write(done, request, outs)
    return done


def _verdict(done: Verification, spec: ScheduleSpec) -> Explanation:
    """Return the explanation of a comparison (``agrees`` when the log follows the plan)."""
    log, plan = done.log, done.plan
    last = int(log.rows.max()) if log.rows.size else -1
    if not done.rows.size:
        return Explanation(
            "no-overlap",
            f"no logged step falls inside the plan: the log covers optimizer steps "
            f"{int(log.rows.min())}..{last}, the plan 0..{plan.n - 1} (check --epochs, "
            "--steps-per-epoch and --step-base)",
            exact=False,
        )
    first = done.first
    if first is None:
        covered = f"{done.rows.size} logged values (steps {done.rows[0]}..{done.rows[-1]})"
        if done.past:
            return Explanation(
                "longer",
                f"the log agrees with the plan at its {covered}, but goes on to step {last}: "
                f"the plan ends at step {plan.n - 1} (the run was longer: check --epochs)",
                step=plan.n,
            )
        return Explanation(
            "agrees",
            f"the log agrees with the plan at all {covered}: largest relative error "
            f"{done.max_rel:.2g}",
        )
    fit = _Fitter(spec, plan, done.group, done.rtol)
    return _explain(fit, done.rows, done.logged, first, log)


# --------------------------------------------------------------------------- outputs


def _write(done: Verification, request: Request, outs: list[str]) -> None:
    from lrplot import render

    display = request.display
    for out in outs:
        if export.is_image(out):
            if done.figure is None:
                first = done.first_step if not done.ok else None
                done.figure = render.verify_plot(
                    done.plan,
                    done.log.rows,
                    done.log.lr,
                    label=f"logged ({done.log.name})",
                    first=first,
                    title=display.title or f"{done.command} vs {done.log.path}",
                    x=display.x,  # type: ignore[arg-type]
                )
            render.save(done.figure, out)
        elif out == "-":
            _csv(done, sys.stdout)
        elif out.lower().endswith(".csv"):
            export.atomic_write(out, lambda f: _csv(done, f))
        else:
            export.atomic_write(out, lambda f: _json(done, f))
        done.written.append(out)


def _csv(done: Verification, out: IO[str]) -> None:
    """Write ``logged_step,step,epoch,planned,logged,rel_error``, one row per logged value."""
    out.write("logged_step,step,epoch,planned,logged,rel_error\n")
    spe = done.plan.steps_per_epoch
    steps = done.rows + done.log.base
    for s, i, p, v, e in zip(steps, done.rows, done.planned, done.logged, done.errors, strict=True):
        out.write(f"{int(s)},{int(i)},{int(i) / spe!r},{float(p)!r},{float(v)!r},{float(e)!r}\n")


def _json(done: Verification, out: IO[str]) -> None:
    e = done.explanation
    data = {
        "plan": done.command,
        "log": done.log.path,
        "source": done.log.source,
        "pairing": done.log.pairing,
        "ok": done.ok,
        "rtol": done.rtol,
        "first_divergence": done.first_step,
        "max_rel_error": done.max_rel,
        "past_plan": done.past,
        "explanation": {
            "kind": e.kind,
            "message": e.message,
            "exact": e.exact,
            "step": e.step,
            "factor": e.factor,
        },
        "notes": done.notes,
        "rows": [
            {"step": int(i), "planned": float(p), "logged": float(v), "rel_error": float(x)}
            for i, p, v, x in zip(done.rows, done.planned, done.logged, done.errors, strict=True)
        ],
    }
    json.dump(data, out, indent=1, allow_nan=False)
    out.write("\n")
