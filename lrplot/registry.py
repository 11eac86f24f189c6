"""The schedulers lrplot knows: names, aliases, kwargs and what each one needs.

Everything here is static data so that ``lrplot --help`` and ``lrplot list`` never
import torch. The kwarg tables mirror the signatures of ``torch.optim.lr_scheduler``;
``tests/test_registry.py`` checks them against the installed torch.

Example:
    >>> resolve("CosineAnnealingLR").name
    'cosine'
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from lrplot.errors import UsageError

TORCH_MODULE = "torch.optim.lr_scheduler"
StepPer = Literal["epoch", "iter"]


class _Required:
    """Marker for a kwarg without a default."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

#: kwargs of a scheduler signature that lrplot supplies itself or does not expose.
HIDDEN_KWARGS = frozenset({"optimizer", "last_epoch", "verbose"})

Kind = Literal["int", "float", "bool", "choice", "floats", "ints", "expr", "specs", "str", "auto"]


@dataclass(frozen=True)
class KwargInfo:
    """One keyword argument of a scheduler, typed from its annotation."""

    name: str
    annotation: str
    default: Any = REQUIRED
    kind: Kind = "auto"
    choices: tuple[str, ...] = ()
    optional: bool = False

    @property
    def required(self) -> bool:
        """Return True when the signature gives no default."""
        return self.default is REQUIRED

    @property
    def repeatable(self) -> bool:
        """Return True for kwargs given once per item (lr_lambda, schedulers)."""
        return self.kind in ("expr", "specs")

    @property
    def metavar(self) -> str:
        """Return the placeholder shown in ``--help``."""
        return {
            "int": "INT",
            "float": "FLOAT",
            "bool": "true|false",
            "choice": "|".join(self.choices),
            "floats": "FLOAT[,FLOAT..]",
            "ints": "INT,INT..",
            "expr": "EXPR",
            "specs": "SPEC",
            "str": "TEXT",
            "auto": "VALUE",
        }[self.kind]


def kwarg_from_annotation(name: str, annotation: str, default: Any = REQUIRED) -> KwargInfo:
    """Type a kwarg from its annotation text (or its default when unannotated).

    Example:
        >>> kwarg_from_annotation("max_lr", "float | list[float]").kind
        'floats'
    """
    text = annotation.replace("typing.", "").replace(" ", "")
    parts = [p for p in re.split(r"\|(?![^\[]*\])", text) if p not in ("", "None")]
    optional = "None" in re.split(r"\|(?![^\[]*\])", text) or default is None
    literal = re.fullmatch(r"Literal\[(.*)\]", parts[0]) if len(parts) == 1 else None
    kind: Kind
    choices: tuple[str, ...] = ()
    if literal:
        kind = "choice"
        choices = tuple(c.strip("'\"") for c in literal.group(1).split(","))
    elif any("Callable" in p for p in parts):
        kind = "expr"
    elif any("Scheduler" in p for p in parts):
        kind = "specs"
    elif set(parts) in ({"int"}, {"float"}, {"bool"}, {"str"}):
        kind = parts[0]  # type: ignore[assignment]
    elif any(re.fullmatch(r"(list|List|Sequence|Iterable|tuple)\[int.*\]", p) for p in parts):
        kind = "ints"
    elif "float" in parts or any("[float]" in p for p in parts):
        kind = "floats"
    elif isinstance(default, bool):
        kind = "bool"
    elif isinstance(default, int):
        kind = "int"
    elif isinstance(default, float):
        kind = "float"
    else:
        kind = "auto"
    return KwargInfo(name, annotation, default, kind, choices, optional)


def _kw(*items: tuple[str, str] | tuple[str, str, Any]) -> tuple[KwargInfo, ...]:
    return tuple(kwarg_from_annotation(*item) for item in items)


@dataclass(frozen=True)
class SchedulerInfo:
    """A scheduler lrplot can build: its names, kwargs and special needs."""

    name: str
    cls: str
    summary: str
    kwargs: tuple[KwargInfo, ...]
    aliases: tuple[str, ...] = ()
    module: str = TORCH_MODULE
    step_per: StepPer = "epoch"
    #: kwargs that run options fill (shown as run options, not as kwargs).
    from_run: tuple[str, ...] = field(default=())

    @property
    def target(self) -> str:
        """Return the ``module:Name`` path of the class."""
        return f"{self.module}:{self.cls}"

    @property
    def required(self) -> tuple[str, ...]:
        """Return the names of the required kwargs."""
        return tuple(k.name for k in self.kwargs if k.required)

    @property
    def cli_kwargs(self) -> tuple[KwargInfo, ...]:
        """Return the kwargs that appear as ``--KWARG`` options."""
        return tuple(k for k in self.kwargs if k.name not in self.from_run)

    def kwarg(self, name: str) -> KwargInfo | None:
        """Return the kwarg called ``name``, or None."""
        return next((k for k in self.kwargs if k.name == name), None)


_LAMBDA = (("lr_lambda", "Callable[[int], float] | list[Callable[[int], float]]"),)

SCHEDULERS: tuple[SchedulerInfo, ...] = (
    SchedulerInfo(
        "step",
        "StepLR",
        "Multiply the lr by gamma every step_size epochs.",
        _kw(("step_size", "int"), ("gamma", "float", 0.1)),
    ),
    SchedulerInfo(
        "multistep",
        "MultiStepLR",
        "Multiply the lr by gamma at each milestone.",
        _kw(("milestones", "Iterable[int]"), ("gamma", "float", 0.1)),
    ),
    SchedulerInfo(
        "exponential",
        "ExponentialLR",
        "Multiply the lr by gamma every epoch.",
        _kw(("gamma", "float")),
        aliases=("exp",),
    ),
    SchedulerInfo(
        "cosine",
        "CosineAnnealingLR",
        "Anneal the lr along a half cosine over T_max steps.",
        _kw(("T_max", "int"), ("eta_min", "float", 0.0)),
    ),
    SchedulerInfo(
        "cosine-restarts",
        "CosineAnnealingWarmRestarts",
        "Cosine annealing restarted every T_0 steps, cycles growing by T_mult (SGDR).",
        _kw(("T_0", "int"), ("T_mult", "int", 1), ("eta_min", "float", 0.0)),
        aliases=("sgdr",),
    ),
    SchedulerInfo(
        "cyclic",
        "CyclicLR",
        "Cycle the lr between base_lr and max_lr (CLR), per batch.",
        _kw(
            ("base_lr", "float | list[float]"),
            ("max_lr", "float | list[float]"),
            ("step_size_up", "int", 2000),
            ("step_size_down", "int | None", None),
            ("mode", "Literal['triangular', 'triangular2', 'exp_range']", "triangular"),
            ("gamma", "float", 1.0),
            ("scale_mode", "Literal['cycle', 'iterations']", "cycle"),
            ("cycle_momentum", "bool", True),
            ("base_momentum", "float", 0.8),
            ("max_momentum", "float", 0.9),
        ),
        step_per="iter",
    ),
    SchedulerInfo(
        "onecycle",
        "OneCycleLR",
        "Warm up to max_lr, then anneal far below it (1cycle), per batch.",
        _kw(
            ("max_lr", "float | list[float]"),
            ("total_steps", "int | None", None),
            ("epochs", "int | None", None),
            ("steps_per_epoch", "int | None", None),
            ("pct_start", "float", 0.3),
            ("anneal_strategy", "Literal['cos', 'linear']", "cos"),
            ("cycle_momentum", "bool", True),
            ("base_momentum", "float | list[float]", 0.85),
            ("max_momentum", "float | list[float]", 0.95),
            ("div_factor", "float", 25.0),
            ("final_div_factor", "float", 10000.0),
            ("three_phase", "bool", False),
        ),
        step_per="iter",
        from_run=("epochs", "steps_per_epoch"),
    ),
    SchedulerInfo(
        "plateau",
        "ReduceLROnPlateau",
        "Cut the lr by factor when a metric stops improving.",
        _kw(
            ("mode", "Literal['min', 'max']", "min"),
            ("factor", "float", 0.1),
            ("patience", "int", 10),
            ("threshold", "float", 0.0001),
            ("threshold_mode", "Literal['rel', 'abs']", "rel"),
            ("cooldown", "int", 0),
            ("min_lr", "list[float] | float", 0),
            ("eps", "float", 1e-08),
        ),
    ),
    SchedulerInfo(
        "lambda",
        "LambdaLR",
        "Set the lr to initial lr times lr_lambda(epoch).",
        _kw(*_LAMBDA),
    ),
    SchedulerInfo(
        "multiplicative",
        "MultiplicativeLR",
        "Multiply the lr by lr_lambda(epoch) every epoch.",
        _kw(*_LAMBDA),
    ),
    SchedulerInfo(
        "constant",
        "ConstantLR",
        "Scale the lr by factor until total_iters, then restore it.",
        _kw(("factor", "float", 1 / 3), ("total_iters", "int", 5)),
    ),
    SchedulerInfo(
        "linear",
        "LinearLR",
        "Scale the lr linearly from start_factor to end_factor.",
        _kw(
            ("start_factor", "float", 1 / 3),
            ("end_factor", "float", 1.0),
            ("total_iters", "int", 5),
        ),
    ),
    SchedulerInfo(
        "poly",
        "PolynomialLR",
        "Decay the lr to zero by a polynomial over total_iters.",
        _kw(("total_iters", "int", 5), ("power", "float", 1.0)),
        aliases=("polynomial",),
    ),
    SchedulerInfo(
        "sequential",
        "SequentialLR",
        "Run schedulers one after another, switching at milestones.",
        _kw(("schedulers", "list[LRScheduler]"), ("milestones", "list[int]")),
    ),
    SchedulerInfo(
        "chained",
        "ChainedScheduler",
        "Apply several schedulers at once (their factors multiply).",
        _kw(("schedulers", "Sequence[LRScheduler]")),
    ),
)

BY_NAME: dict[str, SchedulerInfo] = {}
for _info in SCHEDULERS:
    for _key in (_info.name, *_info.aliases, _info.cls.lower()):
        BY_NAME[_key] = _info


def names() -> list[str]:
    """Return every name a user may type: aliases and class names.

    Example:
        >>> "sgdr" in names()
        True
    """
    return sorted({*BY_NAME, *(i.cls for i in SCHEDULERS)}, key=str.lower)


def is_plugin(name: str) -> bool:
    """Return True when ``name`` looks like ``module.path:Name`` (not ``cosine:T_max``)."""
    return bool(re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", name)) and (
        name.partition(":")[0].lower() not in BY_NAME
    )


def suggest(word: str, candidates: list[str]) -> str | None:
    """Return a ``did you mean ...?`` hint for ``word``, or None.

    Example:
        >>> suggest("cosin", ["cosine", "step"])
        'did you mean cosine?'
    """
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f"did you mean {lowered[close[0]]}?" if close else None


def resolve(name: str) -> SchedulerInfo:
    """Return the built-in scheduler for an alias or class name (case-insensitive).

    Raises:
        UsageError: the name is unknown; the message suggests the closest name.

    Example:
        >>> resolve("SGDR").cls
        'CosineAnnealingWarmRestarts'
    """
    info = BY_NAME.get(name.lower())
    if info is None:
        raise UsageError(
            f"unknown scheduler '{name}'",
            hint=suggest(name, names()) or "run 'lrplot list' to see them all",
        )
    return info
