"""What every config reader shares: reading the file, the plan it returns, overrides.

Example:
    >>> Plan(make_spec("cosine", {"T_max": 5}), "hf").x
    'epoch'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrplot.errors import ConfigError, UsageError
from lrplot.plugins import allowing
from lrplot.spec import FROM_CONFIG, ScheduleSpec, make_spec, run_option

#: the largest config file read, in bytes.
MAX_BYTES = 2_000_000


@dataclass
class Plan:
    """What a config reader found: the spec, the notes that explain it, the x axis to use.

    Attributes:
        spec: the schedule the framework builds, with the run it is stepped through.
        kind: the config's kind (``hf``, ``lightning``, ``mmengine``, ``deepspeed``, ``timm``).
        notes: the numbers lrplot resolved and where each came from.
        x: the x axis that suits the schedule (``step`` for per-step trainers).
    """

    spec: ScheduleSpec
    kind: str
    notes: list[str] = field(default_factory=list)
    x: str = "epoch"


def read_data(path: Path) -> Any:
    """Return the plain data of a JSON or YAML file (YAML read safely: no tags run).

    Raises:
        ConfigError: the file cannot be read or parsed (with the line where it broke).
    """
    try:
        raw = path.read_bytes()[: MAX_BYTES + 1]
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path}: the config is larger than {MAX_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the config is not UTF-8 text ({exc.reason})") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{path}:{exc.lineno}:{exc.colno}: JSON syntax error: {exc.msg}"
            ) from None
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: YAML error: {problem}") from None


def mapping(value: Any, what: str) -> dict[str, Any]:
    """Return ``value`` as a dict (None: empty), or refuse it naming ``what``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{what} should be a mapping, got {type(value).__name__} {value!r}")
    return value


def typed_overrides(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the run-option overrides typed (text from a command line, or typed values)."""
    out: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        try:
            out[key] = run_option(key, value)
        except UsageError as exc:
            exc.key, exc.value = exc.key or key, value
            raise
    return out


def first_lr(value: Any) -> float:
    """Return one learning rate from an ``--lr`` override (the first of a list)."""
    return float(value[0] if isinstance(value, (list, tuple)) else value)


def build_spec(
    scheduler: str,
    kwargs: Mapping[str, Any],
    run: Mapping[str, Any],
    overrides: Mapping[str, Any],
    *,
    lrplot_target: bool,
) -> ScheduleSpec:
    """Build the spec: the config's run, then the user's overrides on top.

    Args:
        lrplot_target: the scheduler is one lrplot chose (a framework's own factory), so
            importing it needs no consent; a class the file names does, and so does every
            scheduler name inside its kwargs (a nested SPEC the file wrote). Nested specs
            lrplot built itself were consented to when they were built.
    """
    merged = {**{k: v for k, v in run.items() if v is not None}, **overrides}
    source = merged.pop("length_from", None)
    chosen = [scheduler] if lrplot_target else []
    nested = kwargs.get("schedulers")
    if isinstance(nested, list):
        chosen += [s.scheduler for s in nested if isinstance(s, ScheduleSpec)]
    with allowing(chosen):
        spec = make_spec(scheduler, dict(kwargs), **merged)
    if source and not {"epochs", "train_steps"} & set(overrides):
        spec.length_from = source
    return spec


def without_defaults(target: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``kwargs`` without those equal to the target's own defaults (a shorter command)."""
    from lrplot.plugins import scheduler_info

    with allowing([target]):
        info = scheduler_info(target)
    out = {}
    for key, value in kwargs.items():
        kw = info.kwarg(key)
        default = None if kw is None or kw.required else kw.default
        same = default is not None and (
            value == default or (isinstance(default, tuple) and list(default) == value)
        )
        if not same:
            out[key] = value
    return out


def length_source(path: Path, text: str) -> str:
    """Return the ``length_from`` of a run whose length the config gave."""
    return f"{FROM_CONFIG}{path.name}: {text}"


def fmt(value: Any) -> str:
    """Return a number as short text (``0.1``, ``3``, ``2.5``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)
