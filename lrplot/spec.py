"""What to simulate: ``ScheduleSpec`` and the parsing of kwargs, SPEC strings and configs.

Every value a user types is typed here, from the scheduler's signature, so the command
line, SPEC strings (``compare``) and YAML configs all behave the same.

Example:
    >>> spec = parse_spec("multistep:milestones=[30,80],gamma=0.5")
    >>> spec.kwargs["milestones"], spec.resolved().epochs
    ([30, 80], 100)
"""

from __future__ import annotations

import csv
import importlib
import inspect
import math
import os
import random
import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from lrplot import registry
from lrplot.errors import UsageError
from lrplot.registry import REQUIRED, KwargInfo, SchedulerInfo, StepPer

Optimizer = Literal["sgd", "adam", "adamw"]
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "adamw")
DEFAULT_EPOCHS = 100
DEFAULT_MAX_STEPS = 50_000_000
DEFAULT_WARMUP_START = 0.01
#: keys of a SPEC string / config entry that are run options, not scheduler kwargs.
RUN_KEYS = (
    "lr",
    "epochs",
    "steps_per_epoch",
    "step_per",
    "optimizer",
    "warmup",
    "warmup_start_factor",
    "metric",
    "label",
)
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
    label: str | None = None

    @property
    def info(self) -> SchedulerInfo:
        """Return the registry entry (loading a plug-in if needed)."""
        return scheduler_info(self.scheduler)

    @property
    def groups(self) -> int:
        """Return the number of param groups (one curve each)."""
        return len(self.lr)

    @property
    def n_steps(self) -> int:
        """Return the number of optimizer steps (rows) once resolved."""
        return (self.epochs or 0) * self.steps_per_epoch

    @property
    def name(self) -> str:
        """Return a short display name: the label, else the scheduler name."""
        return self.label or self.scheduler

    def resolved(self) -> ScheduleSpec:
        """Return a copy with every default filled in (epochs, step_per, OneCycleLR kwargs)."""
        return _resolve(self)

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
            if self.info.kwarg(key) and self.info.kwarg(key).repeatable:  # type: ignore[union-attr]
                for item in value if isinstance(value, list) else [value]:
                    words += [f"--{key}", _cli_value(item)]
            else:
                words += [f"--{key}", _cli_value(value)]
        base = ScheduleSpec(self.scheduler)
        for key in ("lr", "epochs", "steps_per_epoch", "step_per", "optimizer", "warmup"):
            value = getattr(self, key)
            if value != getattr(base, key) and value is not None:
                words += [f"--{key.replace('_', '-')}", _cli_value(value)]
        if self.warmup and self.warmup_start_factor != DEFAULT_WARMUP_START:
            words += ["--warmup-start-factor", _cli_value(self.warmup_start_factor)]
        if isinstance(self.metric, str):
            words += ["--metric", self.metric]
        return " ".join(w if re.fullmatch(r"[\w.,:=@/+-]+", w) else shlex.quote(w) for w in words)


def _cli_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_cli_value(v) for v in value)
    if isinstance(value, ScheduleSpec):
        return value.to_spec_string()
    if hasattr(value, "source"):
        return str(value.source)
    return repr(value) if isinstance(value, float) else str(value)


def _spec_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_spec_value(v) for v in value) + "]"
    if isinstance(value, ScheduleSpec) or hasattr(value, "source"):
        return repr(_cli_value(value))
    return _cli_value(value)


# --------------------------------------------------------------------------- plug-ins

_PLUGINS: dict[str, SchedulerInfo] = {}


def load_target(target: str) -> Any:
    """Import ``module.path:Name`` and return the object.

    Raises:
        UsageError: the module cannot be imported or has no such name.
    """
    module_name, _, attr = target.partition(":")
    if os.getcwd() not in sys.path:  # as `python -m` would: a module in the current directory
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure is the user's module failing
        raise UsageError(f"cannot import '{module_name}' for '{target}': {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        public = [n for n in dir(module) if not n.startswith("_")]
        raise UsageError(
            f"module '{module_name}' has no '{attr}'", hint=registry.suggest(attr, public)
        ) from None


def scheduler_info(name: str) -> SchedulerInfo:
    """Return the registry entry for a built-in name or a ``module:Name`` plug-in.

    Example:
        >>> scheduler_info("exp").cls
        'ExponentialLR'
    """
    if not registry.is_plugin(name):
        return registry.resolve(name)
    if name not in _PLUGINS:
        obj = load_target(name)
        if not callable(obj):
            raise UsageError(f"'{name}' is not a scheduler class or factory")
        try:
            params = list(inspect.signature(obj).parameters.values())
        except (TypeError, ValueError) as exc:
            raise UsageError(f"cannot read the signature of '{name}': {exc}") from None
        if not inspect.isclass(obj):
            params = params[1:]  # a factory takes the optimizer first
        kwargs = tuple(
            registry.kwarg_from_annotation(
                p.name,
                "" if p.annotation is p.empty else _annotation_text(p.annotation),
                REQUIRED if p.default is p.empty else p.default,
            )
            for p in params
            if p.name not in registry.HIDDEN_KWARGS
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        )
        doc = (inspect.getdoc(obj) or "").strip().splitlines()
        module, _, cls = name.partition(":")
        _PLUGINS[name] = SchedulerInfo(
            name, cls, doc[0] if doc else f"plug-in {name}", kwargs, module=module
        )
    return _PLUGINS[name]


def _annotation_text(annotation: Any) -> str:
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


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


def _items(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [t.strip() for t in raw.split(",")]
    if isinstance(raw, (list, tuple)):
        return [str(r).strip() for r in raw]
    return [str(raw)]


def parse_value(kw: KwargInfo, raw: Any, scheduler: str = "") -> Any:
    """Type one kwarg value from text (or pass an already typed value through).

    ``raw`` is the text the user typed, a list of texts (repeated options or a YAML
    list), or a typed Python value from the API.

    Example:
        >>> parse_value(registry.resolve("onecycle").kwarg("max_lr"), "0.1,0.01")
        [0.1, 0.01]
    """
    what = _where(scheduler, kw.name)
    if (kw.optional and isinstance(raw, str) and raw.strip().lower() == "none") or raw is None:
        return None
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
    if not isinstance(raw, (str, list, tuple)):
        return _check_typed(kw, raw, what)
    items = _items(raw)
    if kw.kind in ("ints", "floats") or (kw.kind == "auto" and len(items) > 1):
        if any(i == "" for i in items):
            raise UsageError(f"{what} has an empty item in {raw!r}")
        if kw.kind == "ints":
            return [parse_int(i, what) for i in items]
        values = [parse_float(i, what) for i in items]
        return values[0] if len(values) == 1 and isinstance(raw, str) else values
    if len(items) != 1:
        raise UsageError(f"{what} takes one value, got {raw!r}")
    text = items[0]
    if kw.kind == "int":
        return parse_int(text, what)
    if kw.kind == "float":
        return parse_float(text, what)
    if kw.kind == "bool":
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise UsageError(f"{what} expects true or false, got {text!r}")
    if kw.kind == "choice":
        if text in kw.choices:
            return text
        hint = registry.suggest(text, list(kw.choices)) or "choose one of " + ", ".join(kw.choices)
        raise UsageError(f"{what} must be one of {', '.join(kw.choices)}, got {text!r}", hint=hint)
    if kw.kind == "auto":
        return _auto(text)
    return text


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
    if kw.kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise UsageError(f"{what} expects an integer, got {value!r}")
    if kw.kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise UsageError(f"{what} expects a number, got {value!r}")
    if kw.kind == "float" and not math.isfinite(value):
        raise UsageError(f"{what} must be a finite number, got {value!r}")
    if kw.kind == "bool" and not isinstance(value, bool):
        raise UsageError(f"{what} expects true or false, got {value!r}")
    if kw.kind == "choice" and value not in kw.choices:
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
        if kw is None:
            known = [k.name for k in info.cli_kwargs]
            hint = registry.suggest(key, known + list(RUN_KEYS))
            raise UsageError(
                f"{name} has no kwarg '{key}'",
                hint=hint or ("its kwargs: " + ", ".join(known) if known else "it takes no kwargs"),
            )
        typed[key] = parse_value(kw, raw, name)
        if key in POSITIVE_INTS and isinstance(typed[key], int) and typed[key] < 1:
            raise UsageError(f"{name} --{key} must be at least 1, got {typed[key]}")
    missing = [k for k in info.required if k not in typed]
    if missing:
        flags = " ".join(f"--{m} {info.kwarg(m).metavar}" for m in missing)  # type: ignore[union-attr]
        raise UsageError(f"{name} needs {', '.join(missing)}", hint=f"add {flags}")
    spec = ScheduleSpec(name, typed)
    return _apply_run(spec, run)


def _apply_run(spec: ScheduleSpec, run: Mapping[str, Any]) -> ScheduleSpec:
    changes: dict[str, Any] = {}
    for key, value in run.items():
        if value is None:
            continue
        if key not in RUN_KEYS:
            raise UsageError(
                f"unknown run option '{key}'", hint=registry.suggest(key, list(RUN_KEYS))
            )
        if key == "lr":
            items = _items(value) if isinstance(value, (str, list, tuple)) else [value]
            lrs = tuple(parse_float(str(v), "--lr") for v in items)
            if any(v <= 0 for v in lrs):
                raise UsageError(f"--lr must be positive, got {value!r}")
            value = lrs
        elif key in ("epochs", "steps_per_epoch"):
            value = parse_int(str(value), "--" + key.replace("_", "-"), minimum=1)
        elif key == "warmup":
            value = parse_int(str(value), "--warmup", minimum=0)
        elif key == "warmup_start_factor":
            value = parse_float(str(value), "--warmup-start-factor")
            if not 0 < value <= 1:
                raise UsageError(f"--warmup-start-factor must be in (0, 1], got {value}")
        elif key == "step_per" and value not in ("epoch", "iter"):
            raise UsageError(f"--step-per must be epoch or iter, got {value!r}")
        elif key == "optimizer":
            value = str(value).lower()
            if value not in OPTIMIZERS:
                raise UsageError(
                    f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {value!r}",
                    hint=registry.suggest(value, list(OPTIMIZERS)),
                )
        changes[key] = value
    spec = replace(spec, **changes)
    _check_groups(spec)
    if spec.warmup and spec.info.cls in ("SequentialLR", "ChainedScheduler", "ReduceLROnPlateau"):
        raise UsageError(
            f"--warmup cannot wrap {spec.info.cls}: torch's SequentialLR does not support it",
            hint="put a linear SPEC first in --schedulers instead"
            if spec.info.cls != "ReduceLROnPlateau"
            else "drop --warmup",
        )
    return spec


def _check_groups(spec: ScheduleSpec) -> None:
    for key, value in spec.kwargs.items():
        kw = spec.info.kwarg(key)
        if kw is None:
            continue
        if (
            kw.kind in ("floats", "expr")
            and isinstance(value, list)
            and len(value) not in (1, spec.groups)
        ):
            raise UsageError(
                f"{spec.scheduler} --{key} has {len(value)} values for {spec.groups} param "
                f"group(s)",
                hint="give one value, or one per --lr group",
            )


def horizon(spec: ScheduleSpec) -> int | None:
    """Return how many scheduler steps show the whole schedule, or None if it has no end.

    Example:
        >>> horizon(make_spec("cosine", {"T_max": 150}))
        150
    """
    kw = spec.kwargs
    name = spec.info.cls
    if name == "CosineAnnealingLR":
        return int(kw["T_max"])
    if name == "CosineAnnealingWarmRestarts":
        t0, mult = int(kw["T_0"]), int(kw.get("T_mult", 1))
        return t0 * (1 + mult + mult * mult)
    if name in ("PolynomialLR",):
        return int(kw.get("total_iters", 5))
    if name in ("LinearLR", "ConstantLR"):
        return 2 * int(kw.get("total_iters", 5))
    if name == "StepLR":
        return max(DEFAULT_EPOCHS, 3 * int(kw["step_size"]))
    if name == "MultiStepLR":
        return max(DEFAULT_EPOCHS, -(-max(kw["milestones"] or [0]) * 5 // 4))
    if name == "CyclicLR":
        up = int(kw.get("step_size_up", 2000))
        down = kw.get("step_size_down") or up
        return 2 * (up + int(down))
    if name == "OneCycleLR" and kw.get("total_steps"):
        return int(kw["total_steps"])
    if name == "SequentialLR":
        last = horizon(kw["schedulers"][-1]) or DEFAULT_EPOCHS
        return max(kw["milestones"] or [0]) + last
    if name == "ChainedScheduler":
        return max((horizon(s) or 0) for s in kw["schedulers"]) or None
    return None


def _resolve(spec: ScheduleSpec, budget: int | None = None) -> ScheduleSpec:
    """Fill in defaults; ``budget`` is how many scheduler steps a nested scheduler gets."""
    info = spec.info
    step_per: StepPer = spec.step_per or info.step_per
    epochs = spec.epochs
    if epochs is None:
        steps = horizon(spec)
        if steps is None:
            epochs = DEFAULT_EPOCHS
        else:
            steps += spec.warmup
            epochs = steps if step_per == "epoch" else -(-steps // spec.steps_per_epoch)
    epochs = max(1, epochs)
    n_sched = epochs if step_per == "epoch" else epochs * spec.steps_per_epoch
    avail = budget if budget is not None else n_sched - spec.warmup
    kwargs = dict(spec.kwargs)
    if info.cls == "OneCycleLR" and not kwargs.get("total_steps"):
        if budget is None and not spec.warmup and step_per == "iter":
            kwargs.setdefault("epochs", epochs)  # as a training script would write it
            kwargs.setdefault("steps_per_epoch", spec.steps_per_epoch)
        else:
            kwargs["total_steps"] = max(1, avail)  # the scheduler steps it will really get
    if "schedulers" in kwargs:
        subs = kwargs["schedulers"]
        bounds = [0, *kwargs.get("milestones", []), avail]
        run = {"epochs": epochs, "steps_per_epoch": spec.steps_per_epoch, "step_per": step_per}
        kwargs["schedulers"] = [
            _resolve(
                replace(sub, **run),
                avail
                if info.cls != "SequentialLR" or i + 1 >= len(bounds)
                else max(1, bounds[i + 1] - bounds[i]),
            )
            for i, sub in enumerate(subs)
        ]
    return replace(spec, epochs=epochs, step_per=step_per, kwargs=kwargs)


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
    parts, depth, quote, current = [], 0, "", []
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
            raise UsageError(f"'{key}' given twice in SPEC {text!r}")
        target[key] = _spec_item(value)
    return make_spec(match.group("name"), kwargs, **run_opts)


def coerce_spec(value: str | ScheduleSpec, **run: Any) -> ScheduleSpec:
    """Return ``value`` as a spec (parsing a SPEC string), with the run options applied."""
    if isinstance(value, ScheduleSpec):
        return _apply_run(value, run) if run else value
    return parse_spec(value, **run)


# --------------------------------------------------------------------------- metrics

#: The default metric for ReduceLROnPlateau: a loss that falls, then plateaus with noise.
SYNTHETIC_METRIC = "0.5 + 2*exp(-epoch/8) + noise(0.02), seed 0"


def synthetic_metric(n: int, seed: int = 0) -> list[float]:
    """Return the seeded synthetic loss: ``0.5 + 2 exp(-t/8)`` plus N(0, 0.02) noise.

    Example:
        >>> [round(v, 3) for v in synthetic_metric(2)]
        [2.519, 2.237]
    """
    rng = random.Random(seed)
    return [0.5 + 2.0 * math.exp(-t / 8) + rng.gauss(0.0, 0.02) for t in range(n)]


def metric_values(metric: Any, n: int) -> tuple[list[float], str | None]:
    """Return the ``n`` metric values ReduceLROnPlateau receives, and a note if padded.

    ``metric`` is None (the synthetic loss), a sequence of numbers, a callable of the
    scheduler-step index, or text: a comma list (``1,0.9,0.9``), a single number, an
    expression of ``epoch`` (``1/(1+epoch)``) or ``@file.csv[:column]``. A list shorter
    than the run repeats its last value.

    Example:
        >>> metric_values("1,0.5", 3)
        ([1.0, 0.5, 0.5], 'metric has 2 values for 3 scheduler steps; the last one repeats')
    """
    if metric is None:
        return synthetic_metric(n), None
    if callable(metric):
        values = [float(metric(i)) for i in range(n)]
    elif isinstance(metric, str):
        text = metric.strip()
        if text.startswith("@"):
            values = _metric_file(text[1:])
        else:
            items = [t.strip() for t in text.split(",")]
            try:
                values = [float(t) for t in items]
            except ValueError:
                if len(items) > 1 and all(_is_number(t) or not t for t in items):
                    raise UsageError(
                        f"--metric {text!r} is neither a number list nor an expression"
                    ) from None
                from lrplot.expr import parse_expression

                expression = parse_expression(text)
                values = [expression(i) for i in range(n)]
    else:
        try:
            values = [float(v) for v in metric]
        except (TypeError, ValueError):
            raise UsageError(f"--metric must be numbers, got {metric!r}") from None
    if not values:
        raise UsageError("--metric has no values")
    bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
    if bad is not None:
        raise UsageError(f"--metric value {values[bad]} at scheduler step {bad} is not finite")
    note = None
    if len(values) < n:
        note = f"metric has {len(values)} values for {n} scheduler steps; the last one repeats"
        values = values + [values[-1]] * (n - len(values))
    return values[:n], note


def _metric_file(ref: str) -> list[float]:
    path, _, column = ref.partition(":")
    if len(path) == 1 and column and re.match(r"[\\/]", column):  # Windows drive letter
        path, _, column = ref.partition(":")[2].partition(":")
        path = ref[:2] + path
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.reader(handle) if r]
    except OSError as exc:
        raise UsageError(f"--metric cannot read {path!r}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"--metric {path!r} is not a readable CSV: {exc}") from None
    if not rows:
        raise UsageError(f"--metric file {path!r} is empty")
    header = rows[0]
    has_header = any(_not_number(cell) for cell in header)
    body = rows[1:] if has_header else rows
    if column:
        if has_header and column in header:
            index = header.index(column)
        elif column.isdigit():
            index = int(column)
        else:
            raise UsageError(
                f"--metric file {path!r} has no column {column!r}",
                hint=registry.suggest(column, header) if has_header else "give a column index",
            )
    else:
        index = len(header) - 1
    try:
        return [float(row[index]) for row in body]
    except (IndexError, ValueError) as exc:
        raise UsageError(f"--metric file {path!r}, column {index}: {exc}") from None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _not_number(cell: str) -> bool:
    return not _is_number(cell)


# --------------------------------------------------------------------------- sweeps


def sweep(base: ScheduleSpec, sweeps: list[str]) -> list[list[ScheduleSpec]]:
    """Return the grid of specs for ``--sweep KWARG=v1,v2`` (one or two sweeps).

    Values are separated by commas, or by ``;`` when each value is itself a list
    (``--sweep "milestones=30,60;50,80"``). Each spec is labelled ``KWARG=value``.

    Example:
        >>> [s.label for s in sweep(make_spec("cosine", {"T_max": 10}), ["T_max=5,10"])[0]]
        ['T_max=5', 'T_max=10']
    """
    if len(sweeps) > 2:
        raise UsageError(f"--sweep is given {len(sweeps)} times; at most 2 (rows x columns)")
    axes: list[tuple[str, list[Any]]] = []
    for text in sweeps:
        key, eq, values = text.partition("=")
        key = key.strip()
        if not eq or not key or not values.strip():
            raise UsageError(f"bad --sweep {text!r}", hint="write --sweep KWARG=v1,v2,v3")
        if any(key == k for k, _ in axes):
            raise UsageError(f"--sweep {key} is given twice", hint="sweep two different kwargs")
        kw = base.info.kwarg(key)
        if kw is None and key not in RUN_KEYS:
            known = [k.name for k in base.info.cli_kwargs] + list(RUN_KEYS)
            raise UsageError(
                f"--sweep: {base.scheduler} has no kwarg '{key}'", hint=registry.suggest(key, known)
            )
        sep = ";" if ";" in values else ","
        items = [v.strip() for v in values.split(sep) if v.strip()]
        if len(items) > 12:
            raise UsageError(f"--sweep {key} has {len(items)} values; at most 12")
        axes.append((key, items))
    rows = axes[0][1] if len(axes) == 2 else [None]
    cols_key, cols = axes[-1]
    grid = []
    for row in rows:
        line = []
        for col in cols:
            changes = {cols_key: col} if row is None else {axes[0][0]: row, cols_key: col}
            line.append(_with_changes(base, changes))
        grid.append(line)
    if base.epochs is None and "epochs" not in dict(axes):  # one run length for every cell
        longest = max(cell.resolved().epochs or 0 for row in grid for cell in row)
        grid = [[replace(cell, epochs=longest) for cell in row] for row in grid]
    return grid


def sweep_grid(
    scheduler: str, kwargs: Mapping[str, Any], sweeps: list[str], **run: Any
) -> tuple[ScheduleSpec, list[list[ScheduleSpec]]]:
    """Return the base spec (without the swept kwargs) and the grid of a command's sweeps.

    A swept kwarg need not also be given on its own: its first value stands in while the
    base spec is checked (so a required kwarg can be swept).

    Example:
        >>> base, grid = sweep_grid("cosine", {}, ["T_max=5,10"])
        >>> base.to_command(), [s.label for s in grid[0]]
        ('lrplot cosine', ['T_max=5', 'T_max=10'])
    """
    filled = dict(kwargs)
    swept = set()
    for text in sweeps:
        key, _, values = text.partition("=")
        key = key.strip()
        swept.add(key)
        if key and key not in RUN_KEYS and filled.get(key) is None:
            filled[key] = values.split(";" if ";" in values else ",")[0]
    base = make_spec(scheduler, filled, **run)
    if not sweeps:
        return base, [[base]]
    grid = sweep(base, sweeps)
    base.kwargs = {k: v for k, v in base.kwargs.items() if k not in swept}
    return base, grid


def check_steps(specs: list[ScheduleSpec], max_steps: int = DEFAULT_MAX_STEPS) -> None:
    """Refuse runs longer than ``max_steps`` optimizer steps, naming the figure.

    Example:
        >>> check_steps([make_spec("cosine", {"T_max": 10})], max_steps=5)
        Traceback (most recent call last):
        ...
        lrplot.errors.UsageError: the run has 10 optimizer steps, over the limit of 5 (...)
    """
    total = max(s.resolved().n_steps for s in specs)
    if total > max_steps:
        huge = total >= 10**15
        shown = f"over 10^{len(str(total)) - 1}" if huge else f"{total:,}"
        raise UsageError(
            f"the run has {shown} optimizer steps, over the limit of {max_steps:,}",
            hint="use fewer epochs or steps per epoch (or raise --max-steps)"
            if huge
            else f"raise it with --max-steps {total}",
        )


def _with_changes(base: ScheduleSpec, changes: dict[str, str]) -> ScheduleSpec:
    kwargs: dict[str, Any] = dict(base.kwargs)
    run = {k: getattr(base, k) for k in RUN_KEYS if k != "label"}
    for key, value in changes.items():
        if key in RUN_KEYS and base.info.kwarg(key) is None:
            run[key] = value
        else:
            kwargs[key] = value
    spec = make_spec(base.scheduler, kwargs, **run)
    spec.label = ", ".join(f"{k}={v}" for k, v in changes.items())
    return spec
