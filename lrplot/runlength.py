"""Kwargs sized to the run: the same schedule as a script builds it for another run length.

A training script sizes some kwargs from its run: ``T_max=epochs``,
``num_training_steps=len(loader) * epochs // accumulation``, OneCycleLR's ``epochs``. When
the run length changes (a resume with more epochs) or is computed wrongly (accumulation
or world size left out), those kwargs change with it and the others (a warmup of 500
steps, ``step_size=30``) stay. A kwarg counts as sized to the run when it ends where the
run ends: its value, plus the step its scheduler starts at (after ``--warmup``, or at its
``SequentialLR`` milestone), equals the run length in scheduler steps.

Example:
    >>> from lrplot.spec import make_spec
    >>> spec, changes = with_run_length(make_spec("cosine", {"T_max": 100}, epochs=100), 150)
    >>> spec.kwargs["T_max"], [str(c) for c in changes]
    (150, ['T_max=100 → 150'])
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lrplot.registry import ints
from lrplot.spec import GIVEN, ScheduleSpec

__all__ = ["Change", "run_steps", "scale_counts", "with_run_length"]


@dataclass(frozen=True)
class Change:
    """One kwarg that changes with the run: its name (``schedulers[1].T_max``) and values."""

    name: str
    old: Any
    new: Any
    filled: bool = False

    def __str__(self) -> str:
        return f"{self.name}={_text(self.old)} → {_text(self.new)}"


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(map(_text, value)) + "]"
    return str(value)


def run_steps(spec: ScheduleSpec) -> int:
    """Return a resolved spec's run length in scheduler steps (epochs, or optimizer steps).

    Example:
        >>> from lrplot.spec import make_spec
        >>> run_steps(make_spec("cosine", {"T_max": 5}, epochs=4, steps_per_epoch=10,
        ...                     step_per="iter").resolved())
        40
    """
    return (spec.epochs or 0) if spec.step_per == "epoch" else spec.n_steps


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _starts(spec: ScheduleSpec, count: int) -> list[int]:
    """Return where each nested scheduler starts, in the outer scheduler's steps."""
    if spec.traits.composite == "sequential":
        starts = [0, *ints(spec.get("milestones"))]
        return [starts[i] if i < len(starts) else starts[-1] for i in range(count)]
    return [0] * count


def _resize(
    spec: ScheduleSpec, offset: int, old: int, new: int, changes: list[Change], prefix: str
) -> ScheduleSpec:
    kwargs = dict(spec.kwargs)
    for key, value in spec.kwargs.items():
        subs = spec.subs if key == "schedulers" else []
        if subs:
            starts = _starts(spec, len(subs))
            kwargs[key] = [
                _resize(sub, offset + start, old, new, changes, f"{prefix}{key}[{i}].")
                for i, (sub, start) in enumerate(zip(subs, starts, strict=True))
            ]
        elif _is_count(value) and value + offset == old:
            kwargs[key] = value + new - old
            changes.append(Change(prefix + key, value, kwargs[key]))
    return replace(spec, kwargs=kwargs)


def _filled(old: ScheduleSpec, new: ScheduleSpec, changes: list[Change], prefix: str = "") -> None:
    """Add the kwargs lrplot fills from the run (OneCycleLR's epochs) that changed."""
    named = {c.name for c in changes}
    for key, value in new.kwargs.items():
        before = old.kwargs.get(key)
        if key == "schedulers" and new.subs and len(old.subs) == len(new.subs):
            for i, (a, b) in enumerate(zip(old.subs, new.subs, strict=True)):
                _filled(a, b, changes, f"{prefix}{key}[{i}].")
        elif prefix + key not in named and before is not None and before != value:
            changes.append(Change(prefix + key, before, value, filled=True))


def with_run_length(
    spec: ScheduleSpec, epochs: int, *, old_epochs: int | None = None
) -> tuple[ScheduleSpec, list[Change]]:
    """Return ``spec`` as its script builds it for a run of ``epochs``, and what changed.

    Args:
        spec: the spec as given (kwargs lrplot fills from the run are filled again).
        epochs: the new run length.
        old_epochs: the old run length when lrplot did not derive it from ``spec`` alone
            (a factory that returns it); default ``spec.resolved().epochs``.

    Example:
        >>> from lrplot.spec import make_spec
        >>> seq = make_spec("sequential", {"schedulers": ["linear:total_iters=5",
        ...                 "cosine:T_max=95"], "milestones": [5]}, epochs=100)
        >>> [str(c) for c in with_run_length(seq, 200)[1]]
        ['schedulers[1].T_max=95 → 195']
    """
    base = replace(spec, epochs=old_epochs) if old_epochs is not None else spec
    old = base.resolved()
    target = replace(spec, epochs=epochs, length_from=GIVEN)
    new_run = epochs if old.step_per == "epoch" else epochs * spec.steps_per_epoch
    changes: list[Change] = []
    resized = _resize(target, spec.warmup, run_steps(old), new_run, changes, "")
    _filled(old, resized.resolved(), changes)
    return resized, changes


def scale_counts(spec: ScheduleSpec, factor: int) -> tuple[ScheduleSpec, list[Change]]:
    """Multiply every kwarg counted in steps (its trait names a unit) by ``factor``.

    What a script gets when it computes every step count (warmup included) from a step
    count ``factor`` times too large. Run options (``--warmup``) are scaled too.

    Example:
        >>> from lrplot.spec import make_spec
        >>> spec, changes = scale_counts(make_spec("step", {"step_size": 3, "gamma": 0.5}), 2)
        >>> spec.kwargs, [str(c) for c in changes]
        ({'step_size': 6, 'gamma': 0.5}, ['step_size=3 → 6'])
    """
    changes: list[Change] = []
    scaled = _scale(spec, factor, changes, "")
    if spec.warmup:
        changes.append(Change("--warmup", spec.warmup, spec.warmup * factor))
        scaled = replace(scaled, warmup=spec.warmup * factor)
    return scaled, changes


def _scale(spec: ScheduleSpec, factor: int, changes: list[Change], prefix: str) -> ScheduleSpec:
    kwargs = dict(spec.kwargs)
    traits = spec.traits
    for key, value in spec.kwargs.items():
        subs = spec.subs if key == "schedulers" else []
        if subs:
            kwargs[key] = [
                _scale(sub, factor, changes, f"{prefix}{key}[{i}].") for i, sub in enumerate(subs)
            ]
            continue
        if traits.unit(key) is None:
            continue
        if _is_count(value):
            kwargs[key] = value * factor
        elif isinstance(value, list) and value and all(_is_count(v) for v in value):
            kwargs[key] = [v * factor for v in value]
        else:
            continue
        changes.append(Change(prefix + key, value, kwargs[key]))
    return replace(spec, kwargs=kwargs)
