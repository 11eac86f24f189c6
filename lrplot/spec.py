"""What to simulate: ``ScheduleSpec`` and the typing of kwargs, SPEC strings and sweeps.

Every value a user gives is typed here, from the scheduler's signature, so the command
line, SPEC strings (``compare``), YAML configs and the Python API all behave the same.
Values may arrive as text (the command line) or already typed (YAML, Python); typed
values are checked, never turned into text and parsed again.

Example:
    >>> spec = parse_spec("multistep:milestones=[30,80],gamma=0.5")
    >>> spec.kwargs["milestones"], spec.resolved().epochs
    ([30, 80], 100)
"""

from __future__ import annotations

import ast
import math
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from lrplot import registry
from lrplot.errors import UsageError
from lrplot.geometry import TRAINERS, Counted, Geometry, plain_loop
from lrplot.geometry import count as count_steps
from lrplot.metric import metric_length
from lrplot.options import DEFAULT_MAX_STEPS, DEFAULT_WARMUP_START, RUN_KEYS, option
from lrplot.plugins import scheduler_info
from lrplot.registry import DEFAULT_EPOCHS, KwargInfo, SchedulerInfo, StepPer, Traits

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_MAX_STEPS",
    "MAX_GROUPS",
    "MAX_LIST",
    "MAX_NESTED",
    "RUN_KEYS",
    "ScheduleSpec",
    "check_steps",
    "coerce_spec",
    "horizon",
    "make_spec",
    "parse_spec",
    "parse_sweeps",
    "parse_value",
    "sweep",
    "sweep_grid",
]

#: the most values one kwarg may take (milestones, one value per param group, ...).
MAX_LIST = 1000
#: the most param groups (``--lr`` values) a run may have.
MAX_GROUPS = 256
#: the most schedulers one SequentialLR or ChainedScheduler may hold.
MAX_NESTED = 64

Optimizer = Literal["sgd", "adam", "adamw"]
OPTIMIZERS: tuple[str, ...] = option("optimizer").choices
#: horizon kwargs that divide by themselves in torch: 0 or less crashes mid-run.
POSITIVE_INTS = frozenset(
    {
        "step_size",
        "T_max",
        "T_0",
        "T_mult",
        "step_size_up",
        "step_size_down",
        "total_steps",
        "total_iters",
    }
)


@dataclass
class ScheduleSpec:
    """A scheduler with its kwargs and the run that steps it.

    ``kwargs`` hold typed values: numbers, lists, parsed expressions (or Python
    callables) for ``lr_lambda`` and nested ``ScheduleSpec`` for ``schedulers``.
    """

    scheduler: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    lr: tuple[float, ...] = (0.1,)
    epochs: int | None = None
    steps_per_epoch: int = 1
    step_per: StepPer | None = None
    optimizer: Optimizer = "sgd"
    warmup: int = 0
    warmup_start_factor: float = DEFAULT_WARMUP_START
    metric: Any = None
    dataset_size: int | None = None
    batch_size: int | None = None
    grad_accum: int = 1
    world_size: int = 1
    drop_last: bool = False
    trainer: str | None = None
    train_steps: int | None = None
    frequency: int = 1
    warmup_step_per: StepPer | None = None
    fractional_epoch: bool = False
    label: str | None = None
    #: where the run length came from, once resolved: ``--epochs`` (given), the kwargs it
    #: was derived from (``T_max=100``), ``metric length`` or ``default`` (see ``resolved``).
    length_from: str | None = None

    @property
    def info(self) -> SchedulerInfo:
        """Return the registry entry (loading a plug-in if needed)."""
        return scheduler_info(self.scheduler)

    @property
    def traits(self) -> Traits:
        """Return the scheduler family's traits (empty for an unknown plug-in)."""
        return self.info.traits

    @property
    def metric_driven(self) -> bool:
        """Return True when the scheduler is stepped with a metric (ReduceLROnPlateau)."""
        return self.traits.metric_driven(self)

    @property
    def groups(self) -> int:
        """Return the number of param groups (one curve each)."""
        return len(self.lr)

    @property
    def n_steps(self) -> int:
        """Return the number of optimizer steps (rows) once resolved."""
        steps = (self.epochs or 0) * self.steps_per_epoch
        return min(steps, self.train_steps) if self.train_steps else steps

    @property
    def trainer_rule(self) -> str:
        """Return whose rule counts the steps: ``--trainer``, else the family's trainer.

        Example:
            >>> make_spec("cosine", {"T_max": 5}).trainer_rule
            'torch'
        """
        if self.trainer:
            return self.trainer
        if self.traits.composite:
            for sub in self.subs:
                if sub.traits.trainer != "torch":
                    return sub.traits.trainer
        return self.traits.trainer

    @property
    def geometry(self) -> Geometry | None:
        """Return the run's geometry (``--dataset-size`` and ``--batch-size``), or None."""
        if self.dataset_size is None or self.batch_size is None:
            return None
        return Geometry(
            self.dataset_size, self.batch_size, self.grad_accum, self.world_size, self.drop_last
        )

    def counted(self) -> Counted | None:
        """Return how ``trainer_rule`` counts the geometry (None without a dataset size).

        Example:
            >>> make_spec("cosine", {"T_max": 5}, dataset_size=100, batch_size=32).counted().text
            'batches ceil(100/32) = 4 (PyTorch DataLoader loop)'
        """
        geometry = self.geometry
        return None if geometry is None else count_steps(self.trainer_rule, geometry)

    def loop(self) -> tuple[int, tuple[int, ...]]:
        """Return the batches per epoch and the batch index of each optimizer step in it.

        Example:
            >>> make_spec("cosine", {"T_max": 5}, steps_per_epoch=2, grad_accum=3).loop()
            (6, (2, 5))
        """
        counted = self.counted()
        if counted is not None:
            return counted.batches, counted.step_batches
        return plain_loop(self.steps_per_epoch, self.grad_accum)

    @property
    def samples_per_step(self) -> int | None:
        """Return the samples of one optimizer step (batch x accumulation x world size)."""
        if self.batch_size is None:
            return None
        return self.batch_size * self.grad_accum * self.world_size

    @property
    def mixed_warmup(self) -> bool:
        """Return True when a per-iteration --warmup precedes a per-epoch scheduler."""
        if not self.warmup or self.warmup_step_per != "iter":
            return False
        return (self.step_per or self.traits.default_step_per(self)) == "epoch"

    @property
    def warmup_units(self) -> int:
        """Return the main scheduler's steps the --warmup takes (epochs when it is mixed)."""
        if self.mixed_warmup:
            return -(-self.warmup // self.steps_per_epoch)
        return self.warmup

    @property
    def name(self) -> str:
        """Return a short display name: the label, else the scheduler name."""
        return self.label or self.scheduler

    @property
    def subs(self) -> list[ScheduleSpec]:
        """Return the nested schedulers of a SequentialLR / ChainedScheduler (else [])."""
        subs = self.kwargs.get("schedulers") or []
        return [s for s in subs if isinstance(s, ScheduleSpec)]

    def get(self, key: str) -> Any:
        """Return a kwarg's value, else the signature's default, else None.

        Example:
            >>> make_spec("step", {"step_size": 30}).get("gamma")
            0.1
        """
        if key in self.kwargs:
            return self.kwargs[key]
        kw = self.info.kwarg(key)
        return None if kw is None or kw.required else kw.default

    def horizon(self) -> int | None:
        """Return how many scheduler steps show the whole schedule (see ``horizon``)."""
        return horizon(self)

    def resolved(self) -> ScheduleSpec:
        """Return a copy with every default filled in (epochs, step_per, OneCycleLR kwargs).

        ``length_from`` records where the run length came from.

        Example:
            >>> spec = make_spec("cosine", {"T_max": 20}).resolved()
            >>> spec.epochs, spec.length_from
            (20, 'T_max=20')
        """
        return _resolve(self)

    @property
    def length_given(self) -> bool:
        """Return True when the run length is the user's (``--epochs``), not lrplot's guess."""
        source = self.length_from
        return self.epochs is not None and (
            source in (None, GIVEN, RETURNED) or source.startswith(("--train-steps", FROM_CONFIG))
        )

    def to_spec_string(self) -> str:
        """Return the SPEC form, e.g. ``cosine:T_max=150``."""
        items = [f"{k}={_spec_value(v)}" for k, v in self.kwargs.items()]
        return self.scheduler + (":" + ",".join(items) if items else "")

    def to_command(self) -> str:
        """Return the ``lrplot`` command line that reproduces this spec."""
        words = ["lrplot", self.scheduler]
        for key, value in self.kwargs.items():
            if key in self.info.from_run:
                continue
            kw = self.info.kwarg(key)
            if kw is not None and kw.repeatable:
                for item in value if isinstance(value, list) else [value]:
                    words += [f"--{key}", _cli_value(item)]
            else:
                words += [f"--{key}", _cli_value(value)]
        base = ScheduleSpec(self.scheduler)
        for key in _COMMAND_KEYS:
            value = getattr(self, key)
            if key == "steps_per_epoch" and self.dataset_size is not None:
                continue  # counted from the geometry
            if value != getattr(base, key) and value is not None:
                flag = f"--{key.replace('_', '-')}"
                words += [flag] if isinstance(value, bool) else [flag, _cli_value(value)]
        if self.warmup and self.warmup_start_factor != DEFAULT_WARMUP_START:
            words += ["--warmup-start-factor", _cli_value(self.warmup_start_factor)]
        if self.warmup and self.warmup_step_per is not None:
            words += ["--warmup-step-per", self.warmup_step_per]
        if isinstance(self.metric, str):
            words += ["--metric", self.metric]
        elif isinstance(self.metric, (list, tuple)):
            words += ["--metric", ",".join(repr(float(v)) for v in self.metric)]
        return quote_words(words)


#: run options ``to_command`` writes, in this order, when they differ from the defaults.
_COMMAND_KEYS = (
    "lr",
    "epochs",
    "steps_per_epoch",
    "step_per",
    "optimizer",
    "warmup",
    "dataset_size",
    "batch_size",
    "grad_accum",
    "world_size",
    "drop_last",
    "trainer",
    "train_steps",
    "frequency",
    "fractional_epoch",
)


def quote_words(words: Sequence[str]) -> str:
    """Join command-line words, quoting only those the shell would split or expand.

    Example:
        >>> quote_words(["lrplot", "lambda", "--lr_lambda", "0.95**epoch"])
        "lrplot lambda --lr_lambda '0.95**epoch'"
    """
    return " ".join(w if re.fullmatch(r"[\w.,:=@/+-]+", w) else shlex.quote(w) for w in words)


def display_value(value: Any) -> str:
    """Return a typed value as command-line text: ``true``, ``30,60``, ``0.001``.

    Example:
        >>> display_value([30, 60]), display_value(True), display_value("x")
        ('30,60', 'true', 'x')
    """
    if isinstance(value, (list, tuple)):
        return ",".join(map(display_value, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def literal_text(value: Any) -> str:
    """Return a value as a Python literal that ``ast.literal_eval`` reads back.

    Strings take double quotes, so the shell quotes the whole with single ones.

    Example:
        >>> literal_text({"num_decay_steps": 200, "ratios": (0.5, 1.0)})
        '{"num_decay_steps": 200, "ratios": (0.5, 1.0)}'
    """
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{literal_text(k)}: {literal_text(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, tuple):
        inner = ", ".join(literal_text(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(literal_text(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def _nested(value: Any) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, (list, tuple)) and any(isinstance(v, (list, tuple, dict)) for v in value)
    )


def _cli_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if _nested(value):
        return literal_text(value)
    if isinstance(value, (list, tuple)):
        return ",".join(_cli_value(v) for v in value)
    if isinstance(value, ScheduleSpec):
        return value.to_spec_string()
    if hasattr(value, "source"):
        return str(value.source)
    if callable(value):  # a Python function: its name, never <function ... at 0x...>
        return str(getattr(value, "__qualname__", None) or getattr(value, "__name__", "function"))
    return repr(value) if isinstance(value, float) else str(value)


def _spec_value(value: Any) -> str:
    if _nested(value):
        return repr(literal_text(value))
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_spec_value(v) for v in value) + "]"
    if isinstance(value, ScheduleSpec) or hasattr(value, "source"):
        return repr(_cli_value(value))
    return _cli_value(value)


# --------------------------------------------------------------------------- values

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _where(scheduler: str, key: str) -> str:
    return f"{scheduler} --{key}"


def parse_int(text: str, what: str, minimum: int | None = None) -> int:
    """Parse an integer (``1e3`` and ``10.0`` allowed when integral)."""
    try:
        value = float(text)
        if not value.is_integer():
            raise ValueError
        number = int(value)
    except (ValueError, OverflowError):
        raise UsageError(f"{what} expects an integer, got {text!r}") from None
    if minimum is not None and number < minimum:
        raise UsageError(f"{what} must be at least {minimum}, got {number}")
    return number


def parse_float(text: str, what: str) -> float:
    """Parse a finite float."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{what} expects a number, got {text!r}") from None
    if not math.isfinite(value):
        raise UsageError(f"{what} must be a finite number, got {text!r}")
    return value


def parse_value(kw: KwargInfo, raw: Any, scheduler: str = "") -> Any:
    """Type one kwarg value from text, or check an already typed value.

    ``raw`` is the text the user typed, a list (repeated options, a YAML list or a Python
    list) whose items are texts or typed values, or a typed Python value.

    Example:
        >>> parse_value(registry.resolve("onecycle").kwarg("max_lr"), "0.1,0.01")
        [0.1, 0.01]
        >>> parse_value(registry.resolve("multistep").kwarg("milestones"), [30, 80.0])
        [30, 80]
    """
    what = _where(scheduler, kw.name)
    try:
        return _parse_value(kw, raw, scheduler, what)
    except UsageError as exc:
        if exc.key is None:
            exc.key, exc.value = kw.name, raw
        raise


def _check_length(what: str, count: int, cap: int, items: str = "values") -> None:
    """Refuse a list longer than ``cap`` (the caps are documented in the README)."""
    if count > cap:
        raise UsageError(f"{what} has {count:,} {items}; at most {cap:,}")


def _parse_value(kw: KwargInfo, raw: Any, scheduler: str, what: str) -> Any:
    if (kw.optional and isinstance(raw, str) and raw.strip().lower() == "none") or raw is None:
        return None
    count = len(raw) if isinstance(raw, (list, tuple)) else 1
    if isinstance(raw, str) and kw.kind not in ("expr", "specs"):
        count = raw.count(",") + 1
    if kw.kind == "specs":
        _check_length(what, count, MAX_NESTED, "schedulers")
    else:
        _check_length(what, count, MAX_LIST)
    if isinstance(raw, str) and (
        kw.kind == "literal" or (kw.kind == "auto" and raw.strip()[:1] in ("[", "{", "("))
    ):
        return _literal(raw, what)
    if kw.kind == "expr":
        return [_expression(item) for item in (raw if isinstance(raw, list) else [raw])]
    if kw.kind == "specs":
        subs = [
            item if isinstance(item, ScheduleSpec) else parse_spec(str(item))
            for item in (raw if isinstance(raw, list) else [raw])
        ]
        for sub in subs:
            _check_nested(sub, what)
        return subs
    if isinstance(raw, (list, tuple)):
        items: list[Any] = [i.strip() if isinstance(i, str) else i for i in raw]
    elif isinstance(raw, str):
        items = [t.strip() for t in raw.split(",")]
    else:
        return _scalar(kw, raw, what)
    if kw.kind in ("ints", "floats") or (kw.kind == "auto" and len(items) > 1):
        if any(i == "" for i in items):
            raise UsageError(f"{what} has an empty item in {raw!r}")
        scalar = KwargInfo(kw.name, kw.annotation, kind="int" if kw.kind == "ints" else "float")
        values = [_scalar(scalar if kw.kind != "auto" else kw, i, what) for i in items]
        return (
            values[0]
            if kw.kind == "floats" and len(values) == 1 and isinstance(raw, str)
            else values
        )
    if len(items) != 1:
        raise UsageError(f"{what} takes one value, got {raw!r}")
    return _scalar(kw, items[0], what)


def _scalar(kw: KwargInfo, item: Any, what: str) -> Any:
    """Type one item: parse text by the kwarg's kind, or check a typed value."""
    if not isinstance(item, str):
        return _check_typed(kw, item, what)
    if kw.kind in ("int", "ints"):
        return parse_int(item, what)
    if kw.kind in ("float", "floats"):
        return parse_float(item, what)
    if kw.kind == "bool":
        if item.lower() in _TRUE | _FALSE:
            return item.lower() in _TRUE
        raise UsageError(f"{what} expects true or false, got {item!r}")
    if kw.kind == "choice":
        if item in kw.choices:
            return item
        hint = registry.suggest(item, list(kw.choices)) or "choose one of " + ", ".join(kw.choices)
        raise UsageError(f"{what} must be one of {', '.join(kw.choices)}, got {item!r}", hint=hint)
    if kw.kind == "auto":
        return _auto(item)
    return item


def _check_nested(sub: ScheduleSpec, what: str) -> None:
    """Refuse run options inside a nested SPEC: the outer run drives every sub-scheduler."""
    plain = ScheduleSpec(sub.scheduler)
    given = [k for k in RUN_KEYS if k != "label" and getattr(sub, k) != getattr(plain, k)]
    if given:
        raise UsageError(
            f"{what} {sub.scheduler}: run options ({', '.join(given)}) belong to the outer "
            "command, not to a nested SPEC",
            hint="give them once, e.g. --warmup or --epochs on the command line",
        )


def _literal(text: str, what: str) -> Any:
    """Parse a Python literal (numbers, strings, lists, tuples, dicts); never ``eval``."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise UsageError(
            f"{what} expects a Python literal such as {{'min_lr': 1e-5}} or [1, 2], got {text!r}"
        ) from None


def _auto(text: str) -> Any:
    if text.lower() in _TRUE - {"1"} | _FALSE - {"0"}:
        return text.lower() in _TRUE
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _check_typed(kw: KwargInfo, value: Any, what: str) -> Any:
    kind = {"ints": "int", "floats": "float"}.get(kw.kind, kw.kind)
    if kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise UsageError(f"{what} expects an integer, got {value!r}")
    if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise UsageError(f"{what} expects a number, got {value!r}")
    if kind == "float" and not math.isfinite(value):
        raise UsageError(f"{what} must be a finite number, got {value!r}")
    if kind == "bool" and not isinstance(value, bool):
        raise UsageError(f"{what} expects true or false, got {value!r}")
    if kind == "choice" and value not in kw.choices:
        raise UsageError(f"{what} must be one of {', '.join(kw.choices)}, got {value!r}")
    return value


def _expression(item: Any) -> Any:
    if callable(item):
        return item
    from lrplot.expr import parse_expression

    return parse_expression(str(item))


# --------------------------------------------------------------------------- specs


def make_spec(
    scheduler: str,
    kwargs: Mapping[str, Any] | None = None,
    **run: Any,
) -> ScheduleSpec:
    """Build a validated spec from a scheduler name, kwargs (text or typed) and run options.

    Raises:
        UsageError: unknown scheduler or kwarg, bad value, missing required kwarg.

    Example:
        >>> make_spec("cosine", {"T_max": "150"}).kwargs
        {'T_max': 150}
    """
    info = scheduler_info(scheduler)
    name = scheduler if registry.is_plugin(scheduler) else info.name
    typed: dict[str, Any] = {}
    run = dict(run)
    for key, raw in (kwargs or {}).items():
        if raw is None:
            continue
        if key in info.from_run:
            run.setdefault(key, raw)
            continue
        kw = info.kwarg(key)
        if kw is None and info.extra_kwargs:  # f(optimizer, **kwargs): typed by its text
            kw = KwargInfo(key, "", kind="auto")
        if kw is None:
            known = [k.name for k in info.cli_kwargs]
            hint = registry.suggest(key, known + list(RUN_KEYS))
            raise UsageError(
                f"{name} has no kwarg '{key}'",
                hint=hint or ("its kwargs: " + ", ".join(known) if known else "it takes no kwargs"),
                key=key,
                value=raw,
                at_key=True,
            )
        typed[key] = parse_value(kw, raw, name)
        if key in POSITIVE_INTS and isinstance(typed[key], int) and typed[key] < 1:
            raise UsageError(
                f"{name} --{key} must be at least 1, got {typed[key]}", key=key, value=raw
            )
    ordered = {kw.name: typed[kw.name] for kw in info.kwargs if kw.name in typed}  # as --help
    typed = ordered | {k: v for k, v in typed.items() if k not in ordered}  # **kwargs extras
    missing = [k for k in info.required if k not in typed]
    if missing:
        flags = " ".join(f"--{m} {info.kwarg(m).metavar}" for m in missing)  # type: ignore[union-attr]
        raise UsageError(f"{name} needs {', '.join(missing)}", hint=f"add {flags}", key=missing[0])
    spec = ScheduleSpec(name, typed)
    return _apply_run(spec, run)


def _apply_run(spec: ScheduleSpec, run: Mapping[str, Any]) -> ScheduleSpec:
    changes: dict[str, Any] = {}
    for key, value in run.items():
        if value is None:
            continue
        try:
            changes[key] = _run_value(key, value)
        except UsageError as exc:
            exc.key, exc.value = exc.key or key, value
            raise
    spec = replace(spec, **changes)
    _check_groups(spec)
    spec = _apply_geometry(spec, given_steps="steps_per_epoch" in changes)
    _check_stepping(spec)
    traits = spec.traits
    if spec.warmup and (traits.composite or spec.metric_driven):
        raise UsageError(
            f"--warmup cannot wrap {spec.info.cls}: torch's SequentialLR does not support it",
            hint="drop --warmup"
            if spec.metric_driven
            else "put a linear SPEC first in --schedulers instead",
            key="warmup",
        )
    if spec.warmup and traits.step_rule is not None:
        raise UsageError(
            f"--warmup wraps torch schedulers in SequentialLR; {spec.info.cls} is a "
            f"{traits.family} scheduler",
            hint="use its own warmup kwargs",
            key="warmup",
        )
    _check_step_rule(spec)
    return spec


def _apply_geometry(spec: ScheduleSpec, *, given_steps: bool) -> ScheduleSpec:
    """Count the optimizer steps per epoch of ``--dataset-size`` by the trainer's rule.

    A ``--steps-per-epoch`` given as well must agree with the count.
    """
    if spec.dataset_size is None:
        extra = [
            flag
            for flag, on in (
                ("--world-size", spec.world_size != 1),
                ("--drop-last", spec.drop_last),
            )
            if on
        ]
        if extra:
            raise UsageError(
                f"{' and '.join(extra)} change how the optimizer steps are counted from "
                "--dataset-size, which is not given",
                hint="add --dataset-size N --batch-size B (or drop them)",
                key="dataset_size",
            )
        return spec
    if spec.batch_size is None:
        raise UsageError(
            "--dataset-size needs --batch-size (the batch size per device)",
            hint="add --batch-size B",
            key="batch_size",
        )
    counted = spec.counted()
    assert counted is not None
    if given_steps and spec.steps_per_epoch != counted.steps:
        raise UsageError(
            f"--steps-per-epoch {spec.steps_per_epoch} disagrees with the geometry: {counted.text}",
            hint="drop --steps-per-epoch (the geometry gives it), or change the geometry",
            key="steps_per_epoch",
        )
    return replace(spec, steps_per_epoch=counted.steps)


def _check_stepping(spec: ScheduleSpec) -> None:
    """Refuse --frequency, --warmup-step-per and --fractional-epoch where they mean nothing."""
    torch_family = spec.traits.step_rule is None
    step_per = spec.step_per or spec.traits.default_step_per(spec)
    if spec.frequency != 1:
        if spec.trainer_rule != "lightning":
            raise UsageError(
                f"--frequency {spec.frequency} is Lightning's lr_scheduler frequency; "
                f"the {spec.trainer_rule} trainer steps the scheduler whenever it is due",
                hint="add --trainer lightning",
                key="frequency",
            )
        if not torch_family:
            raise UsageError(
                f"--frequency: Lightning steps torch schedulers, not {spec.traits.family} ones",
                key="frequency",
            )
    if spec.warmup_step_per is not None and not spec.warmup:
        raise UsageError(
            "--warmup-step-per says how a --warmup steps, and no --warmup is given",
            hint="add --warmup N",
            key="warmup_step_per",
        )
    if spec.warmup_step_per == "epoch" and step_per == "iter":
        raise UsageError(
            "--warmup-step-per epoch before a scheduler stepped every iteration is not a loop "
            "lrplot knows",
            hint="give the warmup in iterations: --warmup-step-per iter (or drop it)",
            key="warmup_step_per",
        )
    if spec.fractional_epoch:
        what = None
        if not torch_family or spec.traits.composite or spec.metric_driven:
            what = f"{spec.info.cls} cannot be stepped with a fractional epoch"
        elif spec.warmup:
            what = "--fractional-epoch cannot be combined with --warmup"
        elif step_per == "iter":
            what = (
                f"--fractional-epoch steps {spec.info.cls} with the epoch count, not per iteration"
            )
        elif spec.frequency != 1:
            what = "--fractional-epoch cannot be combined with --frequency"
        if what:
            raise UsageError(
                what,
                hint="--fractional-epoch is for torch schedulers such as "
                "CosineAnnealingWarmRestarts; drop --step-per, --warmup and --frequency",
                key="fractional_epoch",
            )


def _check_step_rule(spec: ScheduleSpec) -> None:
    """Refuse a ``--step-per`` that the scheduler's framework would never use."""
    traits = spec.traits
    if spec.step_per is None or traits.step_rule is None:
        return
    usual = traits.default_step_per(spec)
    if spec.step_per != usual:
        unit = "epoch" if usual == "epoch" else "iteration"
        raise UsageError(
            f"{spec.info.cls} is stepped once per {unit} here: {traits.step_rule}",
            hint="drop --step-per; change the scheduler's own kwargs to change its stepping",
            key="step_per",
        )


def run_option(key: str, value: Any) -> Any:
    """Return one run option's value typed as ``make_spec`` types it (text or typed).

    Example:
        >>> run_option("lr", "0.1,0.01"), run_option("drop_last", "yes")
        ((0.1, 0.01), True)
    """
    return _run_value(key, value)


def _run_value(key: str, value: Any) -> Any:
    """Type one run option (text or typed)."""
    if key not in RUN_KEYS:
        raise UsageError(f"unknown run option '{key}'", hint=registry.suggest(key, list(RUN_KEYS)))
    flag = "--" + key.replace("_", "-")
    if key == "lr":
        count = value.count(",") + 1 if isinstance(value, str) else 1
        count = len(value) if isinstance(value, (list, tuple)) else count
        _check_length("--lr", count, MAX_GROUPS, "param groups")
        items = (
            [t.strip() for t in value.split(",")]
            if isinstance(value, str)
            else list(value)
            if isinstance(value, (list, tuple))
            else [value]
        )
        lrs = tuple(_number(v, "--lr") for v in items)
        if any(v <= 0 for v in lrs):
            raise UsageError(f"--lr must be positive, got {value!r}")
        return lrs
    if key in (
        "epochs",
        "steps_per_epoch",
        "warmup",
        "dataset_size",
        "batch_size",
        "grad_accum",
        "world_size",
        "train_steps",
        "frequency",
    ):
        return _integer(value, flag, minimum=0 if key == "warmup" else 1)
    if key in ("drop_last", "fractional_epoch"):
        return _boolean(value, flag)
    if key == "trainer" and value not in TRAINERS:
        raise UsageError(
            f"--trainer must be one of {', '.join(TRAINERS)}, got {value!r}",
            hint=registry.suggest(str(value), list(TRAINERS)),
        )
    if key == "warmup_step_per" and value not in ("epoch", "iter"):
        raise UsageError(f"--warmup-step-per must be epoch or iter, got {value!r}")
    if key == "warmup_start_factor":
        number = _number(value, flag)
        if not 0 < number <= 1:
            raise UsageError(f"--warmup-start-factor must be in (0, 1], got {number}")
        return number
    if key == "step_per" and value not in ("epoch", "iter"):
        raise UsageError(f"--step-per must be epoch or iter, got {value!r}")
    if key == "optimizer":
        value = str(value).lower()
        if value not in OPTIMIZERS:
            raise UsageError(
                f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {value!r}",
                hint=registry.suggest(value, list(OPTIMIZERS)),
            )
    return value


def _boolean(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise UsageError(f"{what} expects true or false, got {value!r}")


def _number(value: Any, what: str) -> float:
    if isinstance(value, str):
        return parse_float(value, what)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"{what} expects a finite number, got {value!r}")
    return float(value)


def _integer(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, str):
        return parse_int(value, what, minimum=minimum)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{what} expects an integer, got {value!r}")
    if value < minimum:
        raise UsageError(f"{what} must be at least {minimum}, got {value}")
    return value


def _check_groups(spec: ScheduleSpec) -> None:
    for key, value in spec.kwargs.items():
        kw = spec.info.kwarg(key)
        if kw is None:
            continue
        if kw.per_group and isinstance(value, list) and len(value) not in (1, spec.groups):
            raise UsageError(
                f"{spec.scheduler} --{key} has {len(value)} values for {spec.groups} param "
                f"group(s)",
                hint="give one value, or one per --lr group",
                key=key,
            )


def horizon(spec: ScheduleSpec) -> int | None:
    """Return how many scheduler steps show the whole schedule, or None if it has no end.

    The rule is the scheduler family's ``length`` trait (none for unknown plug-ins).

    Example:
        >>> horizon(make_spec("cosine", {"T_max": 150}))
        150
    """
    length = spec.traits.length
    return length(spec) if length is not None else None


#: ``length_from`` of a run whose length the user gave (``--epochs``, ``epochs=``).
GIVEN = "--epochs"
#: the start of ``length_from`` of a run whose length a training config gave.
FROM_CONFIG = "from "
#: ``length_from`` of a run as long as the factory said the training runs (timm's
#: ``create_scheduler_v2`` returns ``num_epochs``, which its train script uses as is).
RETURNED = "num_epochs"
#: ``length_from`` of a run of ``DEFAULT_EPOCHS`` because nothing said how long it is.
DEFAULT = "default"
#: ``length_from`` of a ReduceLROnPlateau run as long as the metric data.
METRIC = "metric length"


def length_source(spec: ScheduleSpec) -> str:
    """Return the kwargs a spec's horizon (its run length) is derived from, as text.

    Example:
        >>> length_source(make_spec("cosine", {"T_max": 20}, warmup=5))
        'T_max=20 + --warmup 5'
    """
    traits = spec.traits
    words = [
        f"{key}={display_value(spec.get(key))}"
        for key in traits.length_kwargs
        if spec.get(key) is not None
    ]
    subs = spec.subs
    if traits.composite and subs:
        longest = subs[-1] if traits.composite == "sequential" else max(subs, key=_sub_horizon)
        if longest.horizon() is not None:
            words.append(f"{longest.scheduler} {length_source(longest)}")
    text = " and ".join(words) or f"{spec.info.cls}'s own length"
    return text + (f" + --warmup {spec.warmup}" if spec.warmup else "")


def _sub_horizon(spec: ScheduleSpec) -> int:
    return spec.horizon() or 0


def _resolve(spec: ScheduleSpec, budget: int | None = None) -> ScheduleSpec:
    """Fill in defaults; ``budget`` is how many scheduler steps a nested scheduler gets."""
    traits = spec.traits
    step_per: StepPer = spec.step_per or traits.default_step_per(spec)
    if spec.fractional_epoch:
        step_per = "epoch"  # stepped every batch, but with the epoch count: kwargs count epochs
    spec = replace(spec, step_per=step_per)
    epochs = spec.epochs
    length_from = spec.length_from or GIVEN
    if epochs is None and spec.train_steps:
        epochs = -(-spec.train_steps // spec.steps_per_epoch)
        length_from = spec.length_from or f"--train-steps {spec.train_steps}"
    if epochs is None:
        data = metric_length(spec.metric) if traits.metric else None
        steps = horizon(spec) if data is None else data
        if steps is None:
            epochs, length_from = DEFAULT_EPOCHS, DEFAULT
        else:
            length_from = METRIC if data is not None else length_source(spec)
            steps += spec.warmup_units
            epochs = steps if step_per == "epoch" else -(-steps // spec.steps_per_epoch)
    epochs = max(1, epochs)
    n_sched = epochs if step_per == "epoch" else epochs * spec.steps_per_epoch
    avail = budget if budget is not None else n_sched - spec.warmup_units
    kwargs = dict(spec.kwargs)
    if traits.fill is not None:  # what the framework's trainer passes when it is not given
        for key, value in traits.fill(spec, epochs, spec.steps_per_epoch).items():
            kwargs.setdefault(key, value)
    total = traits.total_kwarg
    if total and not kwargs.get(total):
        if budget is None and not spec.warmup:
            # as a training script writes it (OneCycleLR(epochs=E, steps_per_epoch=K)),
            # however often it then calls step(): diagnose says when that is not per batch
            sizes = {"epochs": epochs, "steps_per_epoch": spec.steps_per_epoch}
            for key in traits.from_run:
                kwargs.setdefault(key, sizes[key])
        else:
            kwargs[total] = max(1, avail)  # the scheduler steps it will really get
    if traits.composite:
        subs = kwargs["schedulers"]
        bounds = [0, *kwargs.get("milestones", []), avail]
        run: dict[str, Any] = {
            "epochs": epochs,
            "steps_per_epoch": spec.steps_per_epoch,
            "step_per": step_per,
        }
        sequential = traits.composite == "sequential"
        kwargs["schedulers"] = [
            _resolve(
                replace(sub, **run),
                max(1, bounds[i + 1] - bounds[i]) if sequential and i + 1 < len(bounds) else avail,
            )
            for i, sub in enumerate(subs)
        ]
    return replace(spec, epochs=epochs, step_per=step_per, kwargs=kwargs, length_from=length_from)


# --------------------------------------------------------------------------- SPEC strings

_SPEC_HEAD = re.compile(
    r"(?P<name>[A-Za-z_][\w.]*:[A-Za-z_]\w*|[A-Za-z_][\w-]*)(?::(?P<rest>.*))?$", re.S
)

_SPEC_HEAD_BUILTIN = re.compile(r"(?P<name>[A-Za-z_][\w-]*)(?::(?P<rest>.*))?$", re.S)


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside brackets and quotes.

    Example:
        >>> split_top("a=[1,2],b='x,y'")
        ['a=[1,2]', "b='x,y'"]
    """
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise UsageError(f"unbalanced ']' in {text!r}")
        elif ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    if quote or depth:
        raise UsageError(f"unclosed {'quote' if quote else '['} in {text!r}")
    parts.append("".join(current))
    return parts


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _spec_item(text: str) -> str | list[str]:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_unquote(t) for t in split_top(inner)] if inner else []
    return _unquote(text)


def parse_spec(text: str, **run: Any) -> ScheduleSpec:
    """Parse a SPEC string ``name:k=v,k=v`` (lists in brackets, strings quoted).

    Run options (``epochs=``, ``lr=``, ``steps_per_epoch=``, ``label=``, ...) may be
    mixed with the scheduler kwargs; keyword arguments are defaults for them.

    Example:
        >>> parse_spec("lambda:lr_lambda='0.95**epoch'").kwargs["lr_lambda"][0](2)
        0.9025
    """
    match = _SPEC_HEAD.match(text.strip())
    if match and not registry.is_plugin(match.group("name")) and ":" in match.group("name"):
        match = _SPEC_HEAD_BUILTIN.match(text.strip())
    if not match:
        raise UsageError(f"bad SPEC {text!r}", hint="write name:key=value,key=value")
    info = scheduler_info(match.group("name"))
    kwargs: dict[str, Any] = {}
    run_opts: dict[str, Any] = dict(run)
    rest = (match.group("rest") or "").strip()
    for part in split_top(rest) if rest else []:
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or not key:
            raise UsageError(f"bad item {part!r} in SPEC {text!r}", hint="write key=value")
        is_kwarg = info.kwarg(key) is not None and key not in info.from_run
        target = run_opts if key in RUN_KEYS and not is_kwarg else kwargs
        if key in target and key not in run:
            raise UsageError(f"'{key}' given twice in SPEC {text!r}", key=key, at_key=True)
        target[key] = _spec_item(value)
    return make_spec(match.group("name"), kwargs, **run_opts)


def coerce_spec(value: str | ScheduleSpec, **run: Any) -> ScheduleSpec:
    """Return ``value`` as a spec (parsing a SPEC string), with the run options applied."""
    if isinstance(value, ScheduleSpec):
        return _apply_run(value, run) if run else value
    return parse_spec(value, **run)


# --------------------------------------------------------------------------- sweeps

#: the most values one sweep axis may take.
MAX_SWEEP_VALUES = 12
Axis = tuple[str, list[Any]]


def parse_sweeps(texts: Sequence[str]) -> list[Axis]:
    """Parse ``--sweep KWARG=v1,v2`` texts into axes of text values.

    Values are separated by commas, or by ``;`` when each value is itself a list
    (``--sweep "milestones=30,60;50,80"``).

    Example:
        >>> parse_sweeps(["T_max=50,100", "milestones=30,60;50,80"])
        [('T_max', ['50', '100']), ('milestones', ['30,60', '50,80'])]
    """
    axes: list[Axis] = []
    for text in texts:
        key, eq, values = text.partition("=")
        key = key.strip()
        if not eq or not key or not values.strip():
            raise UsageError(f"bad --sweep {text!r}", hint="write --sweep KWARG=v1,v2,v3")
        sep = ";" if ";" in values else ","
        axes.append((key, [v.strip() for v in values.split(sep) if v.strip()]))
    return axes


def sweep_text(axis: Axis) -> str:
    """Return the ``--sweep`` text of an axis (``;`` between values that hold commas).

    Example:
        >>> sweep_text(("milestones", [[30, 60], [50, 80]]))
        'milestones=30,60;50,80'
    """
    key, values = axis
    words = [display_value(v) for v in values]
    return f"{key}=" + (";" if any("," in w for w in words) else ",").join(words)


def sweep(base: ScheduleSpec, axes: Sequence[Axis | str]) -> list[list[ScheduleSpec]]:
    """Return the grid of specs for one or two swept kwargs (or run options).

    Each axis is ``(key, values)`` with text or typed values, or a ``--sweep`` text.
    Each spec is labelled ``KWARG=value``; every cell gets the same run length.

    Example:
        >>> [s.label for s in sweep(make_spec("cosine", {"T_max": 10}), ["T_max=5,10"])[0]]
        ['T_max=5', 'T_max=10']
    """
    parsed = [parse_sweeps([a])[0] if isinstance(a, str) else a for a in axes]
    if len(parsed) > 2:
        raise UsageError(f"--sweep is given {len(parsed)} times; at most 2 (rows x columns)")
    seen: set[str] = set()
    for key, values in parsed:
        if key in seen:
            raise UsageError(
                f"--sweep {key} is given twice", hint="sweep two different kwargs", key=key
            )
        seen.add(key)
        if base.info.kwarg(key) is None and key not in RUN_KEYS:
            known = [k.name for k in base.info.cli_kwargs] + list(RUN_KEYS)
            raise UsageError(
                f"--sweep: {base.scheduler} has no kwarg '{key}'",
                hint=registry.suggest(key, known),
                key=key,
                at_key=True,
            )
        if len(values) > MAX_SWEEP_VALUES:
            raise UsageError(
                f"--sweep {key} has {len(values)} values; at most {MAX_SWEEP_VALUES}", key=key
            )
    rows = parsed[0][1] if len(parsed) == 2 else [None]
    cols_key, cols = parsed[-1]
    grid = []
    for row in rows:
        line = []
        for col in cols:
            changes = {cols_key: col} if row is None else {parsed[0][0]: row, cols_key: col}
            line.append(_with_changes(base, changes))
        grid.append(line)
    if base.epochs is None and "epochs" not in dict(parsed):  # one run length for every cell
        resolved = [cell.resolved() for row in grid for cell in row]
        longest = max(resolved, key=lambda cell: cell.epochs or 0)
        source = f"{longest.length_from} (the longest curve)"
        if longest.length_from in (DEFAULT, METRIC):
            source = longest.length_from
        grid = [
            [replace(cell, epochs=longest.epochs, length_from=source) for cell in row]
            for row in grid
        ]
    return grid


def sweep_grid(
    scheduler: str, kwargs: Mapping[str, Any], sweeps: Sequence[Axis | str], **run: Any
) -> tuple[ScheduleSpec, list[list[ScheduleSpec]]]:
    """Return the base spec (without the swept kwargs) and the grid of a command's sweeps.

    A swept kwarg need not also be given on its own: its first value stands in while the
    base spec is checked (so a required kwarg can be swept).

    Example:
        >>> base, grid = sweep_grid("cosine", {}, ["T_max=5,10"])
        >>> base.to_command(), [s.label for s in grid[0]]
        ('lrplot cosine', ['T_max=5', 'T_max=10'])
    """
    axes = [parse_sweeps([a])[0] if isinstance(a, str) else a for a in sweeps]
    filled = dict(kwargs)
    for key, values in axes:
        if key in RUN_KEYS and scheduler_info(scheduler).kwarg(key) is None:
            continue
        if filled.get(key) is None and values:
            filled[key] = values[0]
    base = make_spec(scheduler, filled, **run)
    if not axes:
        return base, [[base]]
    grid = sweep(base, axes)
    swept = {key for key, _ in axes}
    base.kwargs = {k: v for k, v in base.kwargs.items() if k not in swept}
    return base, grid


#: bytes a run holds per optimizer step and param group while stepping (lr and momentum).
BYTES_PER_STEP = 16


def check_steps(specs: Sequence[ScheduleSpec], max_steps: int = DEFAULT_MAX_STEPS) -> int:
    """Refuse runs longer than ``max_steps`` optimizer steps in all; return the total.

    The limit is on every curve of the run together (a sweep, a comparison), and the
    message gives the total and about how much memory it would take.

    Example:
        >>> check_steps([make_spec("cosine", {"T_max": 10})], max_steps=5)
        Traceback (most recent call last):
        ...
        lrplot.errors.UsageError: the run has 10 optimizer steps (about 160 bytes of memory), ...
    """
    resolved = [s.resolved() for s in specs]
    total = sum(s.n_steps for s in resolved)
    if total <= max_steps:
        return total
    what = "the run has" if len(specs) == 1 else f"the {len(specs)} curves have"
    if total >= 10**15:
        raise UsageError(
            f"{what} over 10^{len(str(total)) - 1} optimizer steps"
            f"{'' if len(specs) == 1 else ' in all'}, over the limit of {max_steps:,}",
            hint="use fewer epochs or steps per epoch (or raise --max-steps)",
            key="max_steps",
        )
    need = sum(s.n_steps * s.groups for s in resolved) * BYTES_PER_STEP
    have = _physical_memory()
    raise UsageError(
        f"{what} {total:,} optimizer steps{'' if len(specs) == 1 else ' in all'} "
        f"(about {_size(need)} of memory), over the limit of {max_steps:,}",
        hint=f"that is more memory than this machine has ({_size(have)}): use fewer "
        + ("curves, " if len(specs) > 1 else "")
        + "epochs or steps per epoch"
        if have and need > have
        else f"raise it with --max-steps {total}",
        key="max_steps",
    )


def _physical_memory() -> int:
    """Return this machine's memory in bytes (0 when the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 0


def _size(n: float) -> str:
    """Return a byte count for people: ``160 bytes``, ``1.2 GB``.

    Example:
        >>> _size(160), _size(115_200_000_000)
        ('160 bytes', '115 GB')
    """
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} bytes"


def _with_changes(base: ScheduleSpec, changes: dict[str, Any]) -> ScheduleSpec:
    kwargs: dict[str, Any] = dict(base.kwargs)
    run = {k: getattr(base, k) for k in RUN_KEYS if k != "label"}
    if base.dataset_size is not None:
        run.pop("steps_per_epoch")  # counted again from the (maybe swept) geometry
    for key, value in changes.items():
        if key in RUN_KEYS and base.info.kwarg(key) is None:
            run[key] = value
        else:
            kwargs[key] = value
    spec = make_spec(base.scheduler, kwargs, **run)
    spec.label = ", ".join(f"{k}={display_value(v)}" for k, v in changes.items())
    return spec
