"""``lrplot check --resume-at N``: does the schedule survive a resume from a checkpoint?

The engine (``lrplot.engine.resume``) interrupts the run after ``N`` optimizer steps,
round-trips the optimizer's and scheduler's ``state_dict()`` through ``torch.save`` and
``torch.load``, and resumes the ways scripts do; this module compares each resumed run
with the uninterrupted one and says what differs: the first differing step, the jump
there, and the cause it can name (a schedule that restarts, a change applied twice, one
wrong step, a checkpoint's horizon kept over a new run length, a scheduler that stops).
The way the user's script resumes (``--resume-style``, default ``state-dict``) decides
the exit code; the other ways are reported as what would happen.

Example:
    >>> from lrplot import pipeline
    >>> from lrplot.options import DisplayOptions, ResumeOptions, RunOptions
    >>> request = pipeline.schedule_request("step", {"step_size": "4"}, RunOptions(epochs=12),
    ...                                     DisplayOptions())
    >>> done = check(request, ResumeOptions(resume_at=[4]), write=False)
    >>> [(f.style, f.status) for f in done.findings]  # doctest: +NORMALIZE_WHITESPACE
    [('state-dict', 'match'), ('optimizer-first', 'match'), ('last-epoch', 'differs'),
     ('no-state', 'match')]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np

from lrplot import export
from lrplot.curves import difference, within
from lrplot.diagnose import Diagnostic
from lrplot.errors import UsageError
from lrplot.options import ResumeOptions, option
from lrplot.pipeline import Request, request_inputs, run
from lrplot.registry import suggest
from lrplot.runlength import Change, with_run_length
from lrplot.schedule import Schedule
from lrplot.spec import ScheduleSpec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lrplot.engine.resume import Resumed, ResumeRuns

__all__ = ["RTOL", "Finding", "ResumeCheck", "check"]

#: a resumed run matches when every lr is within this of the uninterrupted run's.
RTOL = 1e-9
Status = Literal["match", "differs", "skipped"]
CHANGED = "changed-length"
#: the ways a script resumes, in the order they are reported.
STYLES: tuple[str, ...] = option("resume_style").choices


@dataclass
class Finding:
    """What one way of resuming at one step gives.

    Attributes:
        style: ``state-dict``, ``optimizer-first``, ``last-epoch``, ``no-state`` or
            ``changed-length``.
        at: the optimizer step the run resumed at.
        selected: the way the user's script resumes (a difference fails the check).
        status: ``match``, ``differs`` or ``skipped`` (the way does not apply).
        message: what happens, in one sentence.
        cause: why, when it can be named.
        first: the first optimizer step that differs (or where the run stopped).
        lr: the resumed run's rows (for the plot and the data file).
        notes: facts about how it was resumed (``built with last_epoch=49``).
        fix: what to change in the script, when it differs.
    """

    style: str
    at: int
    selected: bool
    status: Status
    message: str
    cause: str | None = None
    first: int | None = None
    lr: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    fix: str | None = None

    @property
    def label(self) -> str:
        """Return ``state-dict@50``."""
        return f"{self.style}@{self.at}"


@dataclass
class ResumeCheck:
    """The result of a resume check: findings, the diagnostics, the files written.

    Attributes:
        command: the command line checked.
        style: the way the user's script resumes (``changed-length`` with a new length).
        points: the resume points.
        epochs: the new run length (``--resume-epochs``), or None.
        reference: the uninterrupted run (with a changed run length: the new run's plan).
        findings: one per resume point and way of resuming.
        diagnostics: the schedule's own checks (as ``lrplot check`` runs them).
        changes: with ``--resume-epochs``, the kwargs the new run length changes.
        notes: facts about the checkpoint (``weights_only=False`` was needed).
    """

    command: str
    style: str
    points: list[int]
    epochs: int | None
    reference: Schedule
    findings: list[Finding]
    diagnostics: list[Diagnostic]
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    figure: Figure | None = None

    @property
    def failed(self) -> bool:
        """Return True when the selected way of resuming differs or a warning fired."""
        return any(f.selected and f.status != "match" for f in self.findings) or any(
            d.level == "warning" for d in self.diagnostics
        )


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _jump(got: np.ndarray, want: np.ndarray, k: int) -> str:
    """Return ``(a jump of -0.068 where -0.0086 was planned)`` at row ``k``."""
    if k <= 0:
        return ""
    made, planned = got[k] - got[k - 1], want[k] - want[k - 1]
    return f" (a jump of {made:+.4g} where {planned:+.4g} was planned)"


def _restarts(got: np.ndarray, want: np.ndarray, at: int) -> bool:
    """Return True when the resumed rows from ``at`` are the schedule from its start."""
    tail = got[at:]
    return len(tail) > 1 and within(tail, want[: len(tail)], RTOL, _floor(want))


def _floor(want: np.ndarray) -> float:
    return 1e-3 * float(np.max(np.abs(want))) if want.size else 1e-300


def _shape(
    got: np.ndarray, want: np.ndarray, at: int, rtol: float, start: int = 0
) -> tuple[str, int | None]:
    """Describe how ``got`` leaves ``want`` from row ``start`` on: the message, the first step."""
    diff = difference(got[start:], want[start:], rtol, _floor(want))
    g, w = got[:, 0], want[:, 0]
    if diff is None:
        return "", None
    diff = replace(diff, first=diff.first + start, last=diff.last + start)
    k = diff.first
    if k == at and _restarts(g, w, at):
        warm = " (the warmup runs again)" if len(w) > 1 and w[1] > w[0] else ""
        return (
            f"the schedule restarts at step {k}{warm}: it runs at {_fmt(g[k])} instead of "
            f"{_fmt(w[k])}",
            k,
        )
    span = _span(diff.count) if diff.rejoins else "to the end of the run"
    start = _close(g[k], w[0]) and not _close(w[k], w[0])
    if diff.rejoins and diff.first == diff.last:
        first = " (the schedule's first lr)" if start else ""
        return (
            f"only step {k} differs: it runs at {_fmt(g[k])}{first} instead of {_fmt(w[k])}",
            k,
        )
    if k == at and start:  # not a restart (caught above): the rows after it are not the start's
        return (
            f"step {k} falls back to the schedule's first lr: it runs at {_fmt(g[k])} "
            f"instead of {_fmt(w[k])}{_jump(g, w, k)}, and differs {span}",
            k,
        )
    if k > 0 and w[k] != w[k - 1] and w[k - 1] != 0 and _close(g[k], w[k] * w[k] / w[k - 1]):
        return (
            f"the change at step {k} is applied twice: it runs at {_fmt(g[k])} instead of "
            f"{_fmt(w[k])}" + ("" if diff.rejoins else ", and so on to the end"),
            k,
        )
    return (
        f"it differs from step {k} {span}: step {k} runs at {_fmt(g[k])} instead of "
        f"{_fmt(w[k])}{_jump(g, w, k)}",
        k,
    )


def _span(count: int) -> str:
    return f"for {count} step" + ("" if count == 1 else "s")


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)


def _cause(style: str, cls: str, runs: ResumeRuns, resumed: Resumed, restart: bool) -> str:
    """Name why a way of resuming gives another schedule."""
    if style == "state-dict":
        if runs.lambdas is not None:
            return f"{runs.lambdas}: the rebuilt ones are used"
        return f"{cls}.load_state_dict() does not bring back the state the run had"
    if style == "optimizer-first":
        return (
            f"the optimizer's state was loaded before {cls} was built, and the constructor "
            "overwrote the restored lr"
        )
    if style == "last-epoch":
        built = next((n for n in resumed.notes if n.startswith(("built with", "moved as"))), "")
        how = f"{cls} {built}" if built else cls
        if restart:
            return f"{how} starts its schedule again"
        return f"{how} does not rebuild the state an uninterrupted run has"
    return f"{cls} was rebuilt without load_state_dict(): its step count starts again at 0"


def _finding(
    resumed: Resumed,
    runs: ResumeRuns,
    reference: np.ndarray,
    selected: bool,
    rtol: float,
    start: int = 0,
) -> Finding:
    cls = runs.cls
    found = Finding(resumed.style, resumed.at, selected, "match", "", notes=list(resumed.notes))
    if resumed.skipped is not None:
        found.status, found.message = "skipped", resumed.skipped
        return found
    found.lr = resumed.lr
    message, first = _shape(resumed.lr, reference, resumed.at, rtol, start)
    if resumed.error is not None:
        stop = len(resumed.lr)
        found.status, found.first = "differs", first if first is not None else stop
        found.message = (message + "; then " if message else "") + (
            f"it stops at step {stop}: {resumed.error}"
        )
        return found
    if first is None:
        found.message = "the resumed run matches the uninterrupted one"
        return found
    found.status, found.first, found.message = "differs", first, message
    restart = message.startswith("the schedule restarts")
    found.cause = _cause(resumed.style, cls, runs, resumed, restart)
    found.fix = FIXES.get(resumed.style)
    return found


#: what to change in a script that resumes each way, when its schedule differs.
FIXES = {
    "state-dict": "make the scheduler's state complete: pass callable objects (their "
    "attributes are saved), not functions that keep state elsewhere",
    "optimizer-first": "build the scheduler first, then load the optimizer's and the "
    "scheduler's state_dict()",
    "last-epoch": "save scheduler.state_dict() in the checkpoint and load it after building "
    "the scheduler, instead of passing last_epoch",
    "no-state": "save scheduler.state_dict() in the checkpoint and load it after building "
    "the scheduler",
    CHANGED: "decide which schedule the resumed run follows: to switch to the new length, "
    "build the scheduler for it without loading the old state_dict() and pass the step "
    "count (last_epoch=N-1); to keep the old one, keep its kwargs",
}


def _changed_finding(
    resumed: Resumed,
    runs: ResumeRuns,
    changes: list[Change],
    epochs: int,
    rtol: float,
) -> Finding:
    """Explain a run resumed with a changed run length against the new run's plan."""
    plan, cls, at = runs.reference, runs.cls, resumed.at
    found = _finding(resumed, runs, plan, True, rtol, start=at)
    found.fix = FIXES[CHANGED] if found.status == "differs" else None
    if found.status != "differs":
        if found.status == "match" and not changes:
            found.message = (
                f"nothing in {cls}'s kwargs depends on the run length: the resumed run is "
                f"the run planned for {epochs} epochs"
            )
        return found
    lr = resumed.lr
    new = ", ".join(f"{c.name}={c.new}" for c in changes) or f"{epochs} epochs"
    old = ", ".join(f"{c.name}={c.old}" for c in changes)
    kept = runs.kept
    n = min(len(lr), len(kept)) if kept is not None else 0
    if kept is not None and n > at and within(lr[at:n], kept[at:n], rtol, _floor(kept)):
        found.message = (
            f"{cls} keeps the checkpoint's horizon: the resumed run continues the old schedule "
            f"({old}), not the new one ({new})"
        )
        if resumed.error is not None:
            found.message += f"; it stops at step {len(lr)}: {resumed.error}"
        found.cause = f"load_state_dict() restored {old} over the new run's {new}"
        return found
    m = min(len(lr), len(plan))
    tail = next(
        (j for j in range(at, m - 1) if within(lr[j:m], plan[j:m], rtol, _floor(plan))), None
    )
    if tail is not None and tail > at:
        g, w = lr[:, 0], plan[:, 0]
        old_lr = " (the old schedule's, restored with the optimizer)" if tail == at + 1 else ""
        made, planned = g[tail] - g[tail - 1], w[tail] - w[tail - 1]
        found.message = (
            f"{cls} switches to the new schedule ({new}) at step {tail}: after "
            f"{_fmt(g[tail - 1])} at step {tail - 1}{old_lr}, step {tail} runs at "
            f"{_fmt(g[tail])}, a jump of {made:+.4g} where the new run plans {planned:+.4g}"
        )
        found.first = found.first if found.first is not None else tail
        saved = (
            f"{runs.lambdas}, so the rebuilt one, sized for the new run, applies"
            if runs.lambdas is not None
            else "its state_dict() does not hold the horizon"
        )
        found.cause = f"{saved}; the step count comes from the checkpoint"
    return found


def resume_specs(
    spec: ScheduleSpec, options: ResumeOptions
) -> tuple[ScheduleSpec, ScheduleSpec | None, list[Change]]:
    """Return the resolved spec, the one a resume with ``--resume-epochs`` builds, and changes.

    Example:
        >>> from lrplot.spec import make_spec
        >>> old, new, changes = resume_specs(make_spec("cosine", {"T_max": 20}),
        ...                                  ResumeOptions(resume_at=[5], resume_epochs=30))
        >>> new.kwargs["T_max"], [str(c) for c in changes]
        (30, ['T_max=20 → 30'])
    """
    from lrplot.engine import resolve

    resolved = resolve(spec)
    if options.resume_epochs is None:
        return resolved, None, []
    new, changes = with_run_length(spec, options.resume_epochs, old_epochs=resolved.epochs)
    return resolved, new, changes


def check(request: Request, options: ResumeOptions, *, write: bool = True) -> ResumeCheck:
    """Resume the request's schedule at each ``--resume-at`` step and compare; write outputs.

    Args:
        request: a one-schedule request (``pipeline.schedule_request``); its
            ``display.out`` lists the outputs (an image shows both curves).
        options: the resume points, the new run length and the script's way of resuming.
        write: False compares only.

    Raises:
        UsageError: no resume point, several schedules, or a point outside the run.
        SimulationError: the uninterrupted run fails.
    """
    from lrplot.engine import simulate
    from lrplot.engine.resume import resume_runs

    if len(request.specs) != 1:
        raise UsageError("--resume-at checks one schedule, not a sweep", key="resume_at")
    if options.resume_style not in STYLES:
        raise UsageError(
            f"--resume-style must be one of {', '.join(STYLES)}, got {options.resume_style!r}",
            hint=suggest(options.resume_style, list(STYLES)),
            key="resume_style",
        )
    points = sorted(set(options.resume_at or []))
    if not points:
        raise UsageError(
            "--resume-epochs needs --resume-at N: the step of the checkpoint",
            hint="e.g. --resume-at 500",
            key="resume_at",
        )
    request = replace(request, check=True, default_out=None)
    outs = request.outputs if write else []
    export.check_outputs(outs, request_inputs(request))
    result = run(request, write=False)
    spec, new_spec, changes = resume_specs(request.specs[0], options)
    runs = resume_runs(spec, points, new_spec=new_spec)
    reference_spec = spec if new_spec is None else new_spec
    reference = simulate(reference_spec)
    if new_spec is not None:
        findings = [
            _changed_finding(r, runs, changes, options.resume_epochs or 0, RTOL) for r in runs.runs
        ]
    else:
        findings = [
            _finding(r, runs, runs.reference, r.style == options.resume_style, RTOL)
            for r in runs.runs
        ]
    done = ResumeCheck(
        command=request.specs[0].to_command(),
        style=options.resume_style if new_spec is None else CHANGED,
        points=points,
        epochs=options.resume_epochs,
        reference=reference,
        findings=findings,
        diagnostics=result.diagnostics,
        changes=changes,
        notes=runs.notes,
    )
    if outs:
        _write(done, request, outs)
    return done


def _drawn(done: ResumeCheck) -> list[Finding]:
    """Return the resumed runs worth drawing: the selected ones and every one that differs."""
    return [f for f in done.findings if f.lr is not None and (f.selected or f.status != "match")]


def _write(done: ResumeCheck, request: Request, outs: list[str]) -> None:
    from lrplot import render

    shown = _drawn(done)
    display = request.display
    for out in outs:
        if export.is_image(out):
            if done.figure is None:
                done.figure = render.resume_plot(
                    done.reference,
                    [(f.label, f.at, f.lr) for f in shown if f.lr is not None],
                    marks=[(f.first, f.label) for f in shown if f.first is not None],
                    reference_label=_ref_label(done),
                    selected=[f.label for f in shown if f.selected],
                    history=shown[0].lr if done.epochs is not None and shown else None,
                    title=display.title or _check_command(done),
                    x=display.x,  # type: ignore[arg-type]
                    log=display.log,
                )
            render.save(done.figure, out)
        else:
            _write_data(done, shown, out)
        done.written.append(out)


def _check_command(done: ResumeCheck) -> str:
    """Return the ``lrplot check ... --resume-at N`` command line of a check."""
    words = [w for at in done.points for w in ("--resume-at", str(at))]
    if done.epochs is not None:
        words += ["--resume-epochs", str(done.epochs)]
    elif done.style != "state-dict":
        words += ["--resume-style", done.style]
    return done.command.replace("lrplot ", "lrplot check ", 1) + " " + " ".join(words)


def _ref_label(done: ResumeCheck) -> str:
    return "uninterrupted" if done.epochs is None else f"planned for {done.epochs} epochs"


def _write_data(done: ResumeCheck, shown: list[Finding], out: str) -> None:
    """Write the uninterrupted and resumed runs side by side (CSV) or with findings (JSON)."""
    ref = done.reference
    runs = [
        Schedule(lr=f.lr, steps_per_epoch=ref.steps_per_epoch, name=f.label)
        for f in shown
        if f.lr is not None
    ]
    if not out.lower().endswith(".json"):
        export.write_data(
            [ref, *runs], [_ref_label(done), *(r.name for r in runs)], out, several=True
        )
        return

    def write(handle: IO[str]) -> None:
        json.dump(_json(done), handle, indent=1, allow_nan=False)
        handle.write("\n")

    export.atomic_write(out, write)


def _json(done: ResumeCheck) -> dict[str, Any]:
    return {
        "command": done.command,
        "failed": done.failed,
        "uninterrupted": done.reference.lr[:, 0].tolist(),
        "changes": [str(c) for c in done.changes],
        "notes": done.notes,
        "findings": [
            {
                "style": f.style,
                "at": f.at,
                "selected": f.selected,
                "status": f.status,
                "message": f.message,
                "cause": f.cause,
                "first": f.first,
                "notes": f.notes,
                "lr": None if f.lr is None else f.lr[:, 0].tolist(),
            }
            for f in done.findings
        ],
    }
