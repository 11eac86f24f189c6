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
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from lrplot.errors import UsageError

TORCH_MODULE = "torch.optim.lr_scheduler"
StepPer = Literal["epoch", "iter"]
#: the run length, in epochs, of a schedule that has no end of its own.
DEFAULT_EPOCHS = 100


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


HorizonKind = Literal["decay", "cycle", "interval", "milestones"]


class SpecView(Protocol):
    """What a trait may read of a spec: its kwargs (or their defaults) and nested specs."""

    scheduler: str

    def get(self, key: str) -> Any:
        """Return the kwarg's value, else its signature default, else None."""

    @property
    def subs(self) -> list[Any]:
        """Return the nested specs (``schedulers``), each a ``SpecView``."""

    def horizon(self) -> int | None:
        """Return the scheduler steps that show the whole schedule, or None."""


def _int(value: Any) -> int | None:
    """Return ``value`` as an int when it is an integral number, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if float(value).is_integer() else None


def ints(value: Any) -> list[int]:
    """Return the integral numbers of a list (or of a single value).

    Example:
        >>> ints([30, 80.0, "x"]), ints(5)
        ([30, 80], [5])
    """
    items = value if isinstance(value, (list, tuple)) else [value]
    return [i for i in (_int(v) for v in items) if i is not None]


Events = list[tuple[int, str, str]]


@dataclass(frozen=True)
class Traits:
    """What is special about a scheduler family: data the spec, engine and checks read.

    Traits are attached to a class *object* (``traits_for``), never to a name, so a
    third-party class that happens to share a torch class's name gets none of them.

    Attributes:
        step_per: when the family's ``step()`` runs by default.
        from_run: kwargs the run options fill (OneCycleLR's epochs/steps_per_epoch).
        total_kwarg: the kwarg that sizes the whole run (OneCycleLR's total_steps).
        length: scheduler steps that show the whole schedule, or None if it has no end.
        length_kwargs: the kwargs ``length`` reads, named when a run's length comes from them.
        horizons: ``(kwarg, values, kind)`` of each horizon kwarg, for the unit checks.
        events: ``(scheduler step, kind, label)`` of the decays, restarts and phases.
        climbs_after: the kwarg past which the curve climbs back (CosineAnnealingLR's T_max).
        warmup: ``"linear"``/``"constant"`` when the family can act as a warmup phase.
        cyclic: the lr ends where it started by design.
        metric: ``step(metric)``, as ReduceLROnPlateau.
        composite: ``"sequential"``/``"chained"`` for schedulers made of ``schedulers``.
        optimizer_keyword: the optimizer is passed as ``optimizer=`` after the schedulers.
    """

    step_per: StepPer = "epoch"
    from_run: tuple[str, ...] = ()
    total_kwarg: str | None = None
    length: Callable[[SpecView], int | None] | None = None
    length_kwargs: tuple[str, ...] = ()
    horizons: Callable[[SpecView], list[tuple[str, list[int], HorizonKind]]] | None = None
    events: Callable[[SpecView, int], Events] | None = None
    climbs_after: str | None = None
    warmup: Literal["linear", "constant"] | None = None
    cyclic: bool = False
    metric: bool = False
    composite: Literal["sequential", "chained"] | None = None
    optimizer_keyword: bool = False


NO_TRAITS = Traits()


def _horizon(key: str, kind: HorizonKind) -> Callable[[SpecView], Any]:
    return lambda s: [
        (key, sorted(set(ints(s.get(key)))) if kind == "milestones" else ints(s.get(key)), kind)
    ]


def _step_events(s: SpecView, n: int) -> Events:
    size, gamma = _int(s.get("step_size")) or 0, s.get("gamma")
    return [(k, "decay", f"×{gamma:g}") for k in range(size, n, size)] if size > 0 else []


def _multistep_events(s: SpecView, n: int) -> Events:
    gamma = s.get("gamma")
    return [(m, "decay", f"×{gamma:g}") for m in sorted(set(ints(s.get("milestones"))))]


def _restart_events(s: SpecView, n: int) -> Events:
    found: Events = []
    t, length, mult = 0, _int(s.get("T_0")) or 0, _int(s.get("T_mult")) or 1
    while length > 0 and t + length < n:
        t += length
        found.append((t, "restart", "restart"))
        length *= mult
    return found


def _phase_events(s: SpecView, n: int) -> Events:
    subs = s.subs
    return [
        (m, "phase", f"→ {subs[i + 1].scheduler}")
        for i, m in enumerate(ints(s.get("milestones")))
        if i + 1 < len(subs)
    ]


def _sgdr_length(s: SpecView) -> int | None:
    t0, mult = _int(s.get("T_0")), _int(s.get("T_mult")) or 1
    return None if t0 is None else t0 * (1 + mult + mult * mult)


def _cyclic_length(s: SpecView) -> int:
    up = _int(s.get("step_size_up")) or 0
    return 2 * (up + (_int(s.get("step_size_down")) or up))


def _sequential_length(s: SpecView) -> int:
    last = s.subs[-1] if s.subs else None
    tail = (last.horizon() if last is not None else None) or DEFAULT_EPOCHS
    return max(ints(s.get("milestones")) or [0]) + tail


def _linear_horizons(s: SpecView) -> list[tuple[str, list[int], HorizonKind]]:
    if (s.get("end_factor") or 0) < (s.get("start_factor") or 0):  # a decay, not a warmup
        return [("total_iters", ints(s.get("total_iters")), "decay")]
    return []


def _twice_total_iters(s: SpecView) -> int:
    return 2 * (_int(s.get("total_iters")) or 0)


#: torch class name -> its traits; attached to the class object by ``traits_for``.
TORCH_TRAITS: dict[str, Traits] = {
    "StepLR": Traits(
        length=lambda s: max(DEFAULT_EPOCHS, 3 * (_int(s.get("step_size")) or 0)),
        length_kwargs=("step_size",),
        horizons=_horizon("step_size", "interval"),
        events=_step_events,
    ),
    "MultiStepLR": Traits(
        length=lambda s: max(DEFAULT_EPOCHS, -(-max(ints(s.get("milestones")) or [0]) * 5 // 4)),
        length_kwargs=("milestones",),
        horizons=_horizon("milestones", "milestones"),
        events=_multistep_events,
    ),
    "CosineAnnealingLR": Traits(
        length=lambda s: _int(s.get("T_max")),
        length_kwargs=("T_max",),
        horizons=_horizon("T_max", "decay"),
        climbs_after="T_max",
    ),
    "CosineAnnealingWarmRestarts": Traits(
        length=_sgdr_length,
        length_kwargs=("T_0", "T_mult"),
        horizons=_horizon("T_0", "cycle"),
        events=_restart_events,
        cyclic=True,
    ),
    "CyclicLR": Traits(
        step_per="iter",
        length=_cyclic_length,
        length_kwargs=("step_size_up", "step_size_down"),
        horizons=_horizon("step_size_up", "cycle"),
        cyclic=True,
    ),
    "OneCycleLR": Traits(
        step_per="iter",
        from_run=("epochs", "steps_per_epoch"),
        total_kwarg="total_steps",
        length=lambda s: _int(s.get("total_steps")) or None,
        length_kwargs=("total_steps",),
        horizons=lambda s: _horizon("total_steps", "decay")(s) if s.get("total_steps") else [],
    ),
    "ReduceLROnPlateau": Traits(metric=True),
    "ConstantLR": Traits(
        length=_twice_total_iters, length_kwargs=("total_iters",), warmup="constant"
    ),
    "LinearLR": Traits(
        length=_twice_total_iters,
        length_kwargs=("total_iters",),
        horizons=_linear_horizons,
        warmup="linear",
    ),
    "PolynomialLR": Traits(
        length=lambda s: _int(s.get("total_iters")),
        length_kwargs=("total_iters",),
        horizons=_horizon("total_iters", "decay"),
    ),
    "SequentialLR": Traits(
        length=_sequential_length,
        length_kwargs=("milestones",),
        events=_phase_events,
        composite="sequential",
    ),
    "ChainedScheduler": Traits(
        length=lambda s: max((sub.horizon() or 0) for sub in s.subs) or None,
        composite="chained",
        optimizer_keyword=True,
    ),
}


def traits_for(obj: Any) -> Traits:
    """Return the traits of a scheduler class or factory object (``NO_TRAITS`` if unknown).

    A class gets a torch family's traits only if it *is* that torch class or a subclass
    of it, matched by identity along its MRO. The torch module is looked up in
    ``sys.modules`` only: a class that subclasses torch's has already imported it.

    Example:
        >>> traits_for(object) is NO_TRAITS
        True
    """
    torch_module = sys.modules.get(TORCH_MODULE)
    if torch_module is None or not isinstance(obj, type):
        return NO_TRAITS
    for klass in obj.__mro__:
        for name, traits in TORCH_TRAITS.items():
            if klass is getattr(torch_module, name, None):
                return traits
    return NO_TRAITS


@dataclass(frozen=True)
class SchedulerInfo:
    """A scheduler lrplot can build: its names, kwargs and traits."""

    name: str
    cls: str
    summary: str
    kwargs: tuple[KwargInfo, ...]
    aliases: tuple[str, ...] = ()
    module: str = TORCH_MODULE
    traits: Traits = NO_TRAITS
    #: the loaded object of a plug-in (None for the built-ins, loaded by the engine).
    obj: Any = field(default=None, compare=False, repr=False)

    @property
    def builtin(self) -> bool:
        """Return True for torch's own schedulers, listed by ``lrplot list``."""
        return self.obj is None

    @property
    def target(self) -> str:
        """Return the ``module:Name`` path of the class."""
        return f"{self.module}:{self.cls}"

    @property
    def step_per(self) -> StepPer:
        """Return the default stepping of this scheduler."""
        return self.traits.step_per

    @property
    def from_run(self) -> tuple[str, ...]:
        """Return the kwargs that run options fill (shown as run options, not as kwargs)."""
        return self.traits.from_run

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


def _torch(
    name: str, cls: str, summary: str, kwargs: tuple[KwargInfo, ...], aliases: tuple[str, ...] = ()
) -> SchedulerInfo:
    traits = TORCH_TRAITS.get(cls, NO_TRAITS)
    return SchedulerInfo(name, cls, summary, kwargs, aliases, traits=traits)


_LAMBDA = (("lr_lambda", "Callable[[int], float] | list[Callable[[int], float]]"),)

SCHEDULERS: tuple[SchedulerInfo, ...] = (
    _torch(
        "step",
        "StepLR",
        "Multiply the lr by gamma every step_size epochs.",
        _kw(("step_size", "int"), ("gamma", "float", 0.1)),
    ),
    _torch(
        "multistep",
        "MultiStepLR",
        "Multiply the lr by gamma at each milestone.",
        _kw(("milestones", "Iterable[int]"), ("gamma", "float", 0.1)),
    ),
    _torch(
        "exponential",
        "ExponentialLR",
        "Multiply the lr by gamma every epoch.",
        _kw(("gamma", "float")),
        aliases=("exp",),
    ),
    _torch(
        "cosine",
        "CosineAnnealingLR",
        "Anneal the lr along a half cosine over T_max steps.",
        _kw(("T_max", "int"), ("eta_min", "float", 0.0)),
    ),
    _torch(
        "cosine-restarts",
        "CosineAnnealingWarmRestarts",
        "Cosine annealing restarted every T_0 steps, cycles growing by T_mult (SGDR).",
        _kw(("T_0", "int"), ("T_mult", "int", 1), ("eta_min", "float", 0.0)),
        aliases=("sgdr",),
    ),
    _torch(
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
    ),
    _torch(
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
    ),
    _torch(
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
    _torch(
        "lambda",
        "LambdaLR",
        "Set the lr to initial lr times lr_lambda(epoch).",
        _kw(*_LAMBDA),
    ),
    _torch(
        "multiplicative",
        "MultiplicativeLR",
        "Multiply the lr by lr_lambda(epoch) every epoch.",
        _kw(*_LAMBDA),
    ),
    _torch(
        "constant",
        "ConstantLR",
        "Scale the lr by factor until total_iters, then restore it.",
        _kw(("factor", "float", 1 / 3), ("total_iters", "int", 5)),
    ),
    _torch(
        "linear",
        "LinearLR",
        "Scale the lr linearly from start_factor to end_factor.",
        _kw(
            ("start_factor", "float", 1 / 3),
            ("end_factor", "float", 1.0),
            ("total_iters", "int", 5),
        ),
    ),
    _torch(
        "poly",
        "PolynomialLR",
        "Decay the lr to zero by a polynomial over total_iters.",
        _kw(("total_iters", "int", 5), ("power", "float", 1.0)),
        aliases=("polynomial",),
    ),
    _torch(
        "sequential",
        "SequentialLR",
        "Run schedulers one after another, switching at milestones.",
        _kw(("schedulers", "list[LRScheduler]"), ("milestones", "list[int]")),
    ),
    _torch(
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
