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
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
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

#: kwargs of a scheduler signature that lrplot supplies itself or does not expose: the
#: optimizer, and the resume counters and logging switches of torch, mmengine and DeepSpeed.
HIDDEN_KWARGS = frozenset(
    {"optimizer", "last_epoch", "verbose", "last_step", "last_batch_iteration"}
)
#: the unit of a kwarg counted in torch scheduler steps (``step()`` calls).
SCHEDULER_STEPS = "scheduler steps (epochs or batches, as --step-per says)"
#: the unit of a kwarg counted in optimizer steps (a framework steps it after each one).
OPTIMIZER_STEPS = "optimizer steps"

Kind = Literal[
    "int", "float", "bool", "choice", "floats", "ints", "expr", "specs", "str", "literal", "auto"
]


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
    def per_group(self) -> bool:
        """Return True for kwargs given once or once per param group (max_lr, lr_lambda).

        A list-only annotation (``Sequence[float]``) is one list, not one value per group.

        Example:
            >>> kwarg_from_annotation("max_lr", "float | list[float]").per_group
            True
            >>> kwarg_from_annotation("restart_weights", "Sequence[float]").per_group
            False
        """
        if self.kind == "expr":
            return True
        scalars = re.sub(r"\w+\[[^\]]*\]", "", self.annotation)
        return self.kind == "floats" and (not self.annotation or "float" in scalars)

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
            "literal": "LITERAL",
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
    elif any(re.match(r"(dict|Dict|Mapping|tuple|Tuple)\b", p) for p in parts):
        kind = "literal"  # a Python literal: {'min_lr': 1e-5}, (0.9, 0.99)
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


def is_sequence_annotation(annotation: str) -> bool:
    """Return True when an annotation takes a list (``list[LRScheduler]``), not one item.

    Example:
        >>> is_sequence_annotation("list[LRScheduler]"), is_sequence_annotation("LRScheduler")
        (True, False)
    """
    text = annotation.replace("typing.", "").replace(" ", "")
    return bool(re.match(r"(Optional\[)?(list|List|Sequence|Iterable|tuple|Tuple)\[", text))


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

    Traits are attached to a class or factory *object* (``traits_for``), never to a name,
    so a third-party class that happens to share a torch class's name gets none of them.

    Attributes:
        step_per: when the family's ``step()`` runs by default (or a function of the
            kwargs, for frameworks whose scheduler says it: timm's ``t_in_epochs``).
        step_rule: set when the framework's own loop fixes the stepping: why, for the
            error that refuses a different ``--step-per``.
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
        fill: kwargs the framework's trainer fills from the run when they are not given,
            as ``fill(spec, epochs, steps_per_epoch)`` (timm's ``updates_per_epoch``,
            mmengine's ``end``).
        defaults: kwarg defaults lrplot supplies (ignite's ``param_name='lr'``).
        supplied: kwargs a base class fills itself (mmengine's ``param_name``): not options.
        hidden: kwargs that make no sense here (logging switches, output lists).
        units: ``(kwarg, unit)`` for the ``--help`` line of kwargs counted in steps.
        returns_epochs: the factory returns ``(scheduler, num_epochs)`` and the run is
            ``num_epochs`` epochs long (timm's ``create_scheduler_v2``).
        family: the framework, for messages (``torch``, ``timm``, ...).
        trainer: the trainer whose rule counts the optimizer steps of ``--dataset-size``
            (``lrplot.geometry``): ``hf``, ``timm``, ``mmengine`` or ``torch``.
        builders: ``(kwarg, classmethod, meaning)``: a true/false kwarg that builds the
            object with another constructor of its class (mmengine's
            ``convert_to_iter_based`` calls ``build_iter_from_epoch`` with the iterations
            per epoch), as its framework does.
        warmup_kwargs: kwargs that count the warmup in scheduler steps (the checks compare
            them with the run).
        peak_kwarg: ``(kwarg, default)`` of a kwarg that sets the peak lr instead of the
            optimizer's lr (DeepSpeed's ``warmup_max_lr``); a None default means the lr.
        warmup_shape: ``(kwarg, default)`` of the warmup-shape kwarg (DeepSpeed's
            ``warmup_type``, ``log`` unless told).
        fractional: int kwargs that also take fractions (mmengine's ``begin``/``end``,
            scaled by the epoch length when converted to iterations).
    """

    step_per: StepPer | Callable[[SpecView], StepPer] = "epoch"
    step_rule: str | None = None
    from_run: tuple[str, ...] = ()
    total_kwarg: str | None = None
    length: Callable[[SpecView], int | None] | None = None
    length_kwargs: tuple[str, ...] = ()
    horizons: Callable[[SpecView], list[tuple[str, list[int], HorizonKind]]] | None = None
    events: Callable[[SpecView, int], Events] | None = None
    climbs_after: str | None = None
    warmup: Literal["linear", "constant"] | None = None
    cyclic: bool = False
    metric: bool | Callable[[SpecView], bool] = False
    composite: Literal["sequential", "chained"] | None = None
    optimizer_keyword: bool = False
    fill: Callable[[SpecView, int, int], dict[str, Any]] | None = None
    defaults: tuple[tuple[str, Any], ...] = ()
    supplied: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    units: tuple[tuple[str, str], ...] = ()
    returns_epochs: bool = False
    family: str = "torch"
    trainer: str = "torch"
    builders: tuple[tuple[str, str, str], ...] = ()
    warmup_kwargs: tuple[str, ...] = ()
    peak_kwarg: tuple[str, Any] | None = None
    warmup_shape: tuple[str, str] | None = None
    fractional: tuple[str, ...] = ()

    def default_step_per(self, spec: SpecView) -> StepPer:
        """Return when this family's scheduler steps by default, for ``spec``'s kwargs."""
        return self.step_per(spec) if callable(self.step_per) else self.step_per

    def metric_driven(self, spec: SpecView) -> bool:
        """Return True when ``spec``'s scheduler is stepped with a metric (plateau)."""
        return self.metric(spec) if callable(self.metric) else self.metric

    def unit(self, kwarg: str) -> str | None:
        """Return the unit a kwarg is counted in (``scheduler steps``), or None."""
        return dict(self.units).get(kwarg)


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


def _steps(*keys: str, unit: str = SCHEDULER_STEPS) -> tuple[tuple[str, str], ...]:
    return tuple((key, unit) for key in keys)


#: torch class name -> its traits; attached to the class object by ``traits_for``.
TORCH_TRAITS: dict[str, Traits] = {
    "StepLR": Traits(
        units=_steps("step_size"),
        length=lambda s: max(DEFAULT_EPOCHS, 3 * (_int(s.get("step_size")) or 0)),
        length_kwargs=("step_size",),
        horizons=_horizon("step_size", "interval"),
        events=_step_events,
    ),
    "MultiStepLR": Traits(
        units=_steps("milestones"),
        length=lambda s: max(DEFAULT_EPOCHS, -(-max(ints(s.get("milestones")) or [0]) * 5 // 4)),
        length_kwargs=("milestones",),
        horizons=_horizon("milestones", "milestones"),
        events=_multistep_events,
    ),
    "CosineAnnealingLR": Traits(
        units=_steps("T_max"),
        length=lambda s: _int(s.get("T_max")),
        length_kwargs=("T_max",),
        horizons=_horizon("T_max", "decay"),
        climbs_after="T_max",
    ),
    "CosineAnnealingWarmRestarts": Traits(
        units=_steps("T_0"),
        length=_sgdr_length,
        length_kwargs=("T_0", "T_mult"),
        horizons=_horizon("T_0", "cycle"),
        events=_restart_events,
        cyclic=True,
    ),
    "CyclicLR": Traits(
        units=_steps("step_size_up", "step_size_down"),
        step_per="iter",
        length=_cyclic_length,
        length_kwargs=("step_size_up", "step_size_down"),
        horizons=_horizon("step_size_up", "cycle"),
        cyclic=True,
    ),
    "OneCycleLR": Traits(
        units=_steps("total_steps"),
        step_per="iter",
        from_run=("epochs", "steps_per_epoch"),
        total_kwarg="total_steps",
        length=lambda s: _int(s.get("total_steps")) or None,
        length_kwargs=("total_steps",),
        horizons=lambda s: _horizon("total_steps", "decay")(s) if s.get("total_steps") else [],
    ),
    "ReduceLROnPlateau": Traits(units=_steps("patience", "cooldown"), metric=True),
    "ConstantLR": Traits(
        units=_steps("total_iters"),
        length=_twice_total_iters,
        length_kwargs=("total_iters",),
        warmup="constant",
    ),
    "LinearLR": Traits(
        units=_steps("total_iters"),
        length=_twice_total_iters,
        length_kwargs=("total_iters",),
        horizons=_linear_horizons,
        warmup="linear",
    ),
    "PolynomialLR": Traits(
        units=_steps("total_iters"),
        length=lambda s: _int(s.get("total_iters")),
        length_kwargs=("total_iters",),
        horizons=_horizon("total_iters", "decay"),
    ),
    "SequentialLR": Traits(
        units=_steps("milestones"),
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


# --------------------------------------------------------------------------- frameworks
# Each family's traits are keyed by "module:attribute" of the defining module and matched by
# the identity of that object (looked up in sys.modules: the plug-in's import loaded it).


def _first(value: Any) -> Any:
    """Return the first nested spec of a ``specs`` kwarg (a list of specs), or None."""
    return value[0] if isinstance(value, (list, tuple)) and value else None


def _sub_horizon(value: Any) -> int:
    sub = _first(value)
    return (sub.horizon() if sub is not None and hasattr(sub, "horizon") else None) or 0


# transformers: the Trainer steps the scheduler after every optimizer step.
_HF_UNITS = _steps(
    "num_warmup_steps",
    "num_training_steps",
    "num_decay_steps",
    "num_stable_steps",
    "timescale",
    unit=OPTIMIZER_STEPS,
)


def _hf_length(s: SpecView) -> int | None:
    total = _int(s.get("num_training_steps"))
    if total is None and s.get("num_decay_steps") is not None:  # warmup-stable-decay
        parts = [
            _int(s.get(k)) for k in ("num_warmup_steps", "num_stable_steps", "num_decay_steps")
        ]
        total = sum(parts) if None not in parts else None  # type: ignore[arg-type]
    return total or None


_HF = Traits(
    step_per="iter",
    length=_hf_length,
    horizons=lambda s: (
        _horizon("num_training_steps", "decay")(s) if s.get("num_training_steps") else []
    ),
    units=_HF_UNITS,
    family="transformers",
    trainer="hf",
    warmup_kwargs=("num_warmup_steps",),
)
#: the Trainer steps ReduceLROnPlateau and GreedyLR after each evaluation (with its metric).
_HF_METRIC = replace(_HF, step_per="epoch", length=None, horizons=None, metric=True)
_HF_METRIC_NAMES = ("reduce_lr_on_plateau", "greedy")
_HF_FACTORIES = (
    "get_constant_schedule",
    "get_constant_schedule_with_warmup",
    "get_linear_schedule_with_warmup",
    "get_cosine_schedule_with_warmup",
    "get_cosine_with_hard_restarts_schedule_with_warmup",
    "get_polynomial_decay_schedule_with_warmup",
    "get_inverse_sqrt_schedule",
    "get_cosine_with_min_lr_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
    "get_wsd_schedule",
)

# timm: train.py calls step_update(num_updates) after every optimizer update and
# step(epoch + 1, metric) after every epoch; t_in_epochs decides which one moves the lr.
_TIMM_RULE = (
    "timm's train script calls step_update() after every optimizer update and step(epoch) "
    "after every epoch, and t_in_epochs decides which one moves the lr"
)
_TIMM_T = "epochs (updates when t_in_epochs=false)"


def _timm_step_per(s: SpecView) -> StepPer:
    return "iter" if s.get("t_in_epochs") is False else "epoch"


def _timm_cycles(s: SpecView) -> int | None:
    """Return the steps of a cosine/tanh/poly scheduler's cycles (its get_cycle_length())."""
    t, mul = _int(s.get("t_initial")), s.get("cycle_mul") or 1.0
    cycles = max(1, _int(s.get("cycle_limit")) or 1)
    if t is None:
        return None
    length = t * cycles if mul == 1 else math.floor(-t * (mul**cycles - 1) / (1 - mul))
    return length + (_int(s.get("warmup_t")) or 0) * bool(s.get("warmup_prefix"))


def _timm(**changes: Any) -> Traits:
    base = Traits(
        step_per=_timm_step_per,
        step_rule=_TIMM_RULE,
        units=_steps("t_initial", "warmup_t", "decay_t", "patience_t", "cooldown_t", unit=_TIMM_T),
        family="timm",
        trainer="timm",
        warmup_kwargs=("warmup_t",),
    )
    return replace(base, **changes)


def _timm_v2_step_per(s: SpecView) -> StepPer:
    return "iter" if s.get("step_on_epochs") is False else "epoch"


# pytorch-ignite: the handler is fired by Events.ITERATION_STARTED, before every iteration.
_IGNITE_RULE = "an ignite Engine fires the handler at the start of every iteration"
_IGNITE = Traits(
    step_per="iter",
    step_rule=_IGNITE_RULE,
    defaults=(("param_name", "lr"),),
    hidden=("save_history", "output_simulated_values"),
    units=_steps("cycle_size", "warmup_duration", "durations", unit="iterations"),
    family="ignite",
)


def _piecewise_length(s: SpecView) -> int | None:
    points = s.get("milestones_values") or []
    last = ints([p[0] for p in points if isinstance(p, (list, tuple)) and p])
    return -(-max(last) * 5 // 4) if last else None


def _concat_length(s: SpecView) -> int | None:
    subs = s.get("schedulers") or []
    tail = (subs[-1].horizon() if subs and hasattr(subs[-1], "horizon") else None) or 0
    return sum(ints(s.get("durations"))) + tail or None


# mmengine: ParamSchedulerHook steps by_epoch schedulers after every epoch, the others after
# every iteration; the Runner gives a scheduler without `end` the run's length.
_MM_RULE = "mmengine's runner steps it after every epoch when by_epoch=true, else every iteration"
_MM_UNIT = "epochs (iterations when by_epoch=false)"
_MM_INF = 1_000_000_000


def _mm_step_per(s: SpecView) -> StepPer:
    if s.get("convert_to_iter_based"):  # built by build_iter_from_epoch: by_epoch=False
        return "iter"
    return "iter" if s.get("by_epoch") is False else "epoch"


def _mm_length(s: SpecView) -> int | None:
    end = _int(s.get("end"))
    if end is None or end >= _MM_INF:
        t_max = _int(s.get("T_max")) or _int(s.get("total_steps"))
        end = (_int(s.get("begin")) or 0) + t_max if t_max else None
    if end is not None and s.get("convert_to_iter_based"):
        return None  # in epochs, while the scheduler steps per iteration
    return end


def _mm_fill(s: SpecView, epochs: int, steps_per_epoch: int) -> dict[str, Any]:
    """Fill ``end`` as ``Runner._build_param_scheduler`` does: the run's epochs or iterations.

    The default is set before ``convert_to_iter_based`` scales it, so it follows
    ``by_epoch`` (epochs unless false), not the stepping after conversion.
    """
    end = _int(s.get("end"))
    if end is not None and end < _MM_INF:
        return {}
    return {"end": epochs if s.get("by_epoch") is not False else epochs * steps_per_epoch}


_MM = Traits(
    step_per=_mm_step_per,
    step_rule=_MM_RULE,
    length=_mm_length,
    horizons=lambda s: _horizon("T_max", "decay")(s) if s.get("T_max") else [],
    fill=_mm_fill,
    units=_steps(
        "begin",
        "end",
        "T_max",
        "T_0",
        "total_steps",
        "step_size",
        "milestones",
        "patience",
        "cooldown",
        unit=_MM_UNIT,
    ),
    family="mmengine",
    trainer="mmengine",
    builders=(
        (
            "convert_to_iter_based",
            "build_iter_from_epoch",
            "Build it as mmengine's runner does for this key: begin, end and the horizon in "
            "epochs are multiplied by the iterations per epoch, and it steps every iteration.",
        ),
    ),
    fractional=("begin", "end"),
)

# DeepSpeed: the engine steps the scheduler after every optimizer step.
_DS_RULE = "the DeepSpeed engine steps it after every optimizer step"
_DS = Traits(
    step_per="iter",
    step_rule=_DS_RULE,
    units=_steps(
        "total_num_steps",
        "warmup_num_steps",
        "cycle_first_step_size",
        "cycle_second_step_size",
        "decay_step_size",
        "lr_range_test_step_size",
        unit=OPTIMIZER_STEPS,
    ),
    family="DeepSpeed",
    trainer="hf",
    warmup_kwargs=("warmup_num_steps",),
    warmup_shape=("warmup_type", "log"),
)


def _ds_cycle(s: SpecView) -> int | None:
    first = _int(s.get("cycle_first_step_size")) or 0
    second = _int(s.get("cycle_second_step_size")) or first
    return 2 * (first + second) or None


#: "module:attribute" of a framework's scheduler class or factory -> its traits.
FRAMEWORK_TRAITS: dict[str, Traits] = {
    **{f"transformers.optimization:{name}": _HF for name in _HF_FACTORIES},
    "transformers.optimization:get_scheduler": replace(
        _HF,
        metric=lambda s: s.get("name") in _HF_METRIC_NAMES,
        step_per=lambda s: "epoch" if s.get("name") in _HF_METRIC_NAMES else "iter",
    ),
    "transformers.optimization:get_reduce_on_plateau_schedule": _HF_METRIC,
    "transformers.optimization:get_greedy_schedule": _HF_METRIC,
    "transformers.optimization:GreedyLR": _HF_METRIC,
    "timm.scheduler.cosine_lr:CosineLRScheduler": _timm(length=_timm_cycles, cyclic=False),
    "timm.scheduler.tanh_lr:TanhLRScheduler": _timm(length=_timm_cycles),
    "timm.scheduler.poly_lr:PolyLRScheduler": _timm(length=_timm_cycles),
    "timm.scheduler.wsd_lr:WSDLRScheduler": _timm(
        length=lambda s: (_int(s.get("t_initial")) or 0) + (_int(s.get("warmup_t")) or 0) or None
    ),
    "timm.scheduler.step_lr:StepLRScheduler": _timm(
        length=lambda s: max(DEFAULT_EPOCHS, 3 * (_int(s.get("decay_t")) or 0))
    ),
    "timm.scheduler.multistep_lr:MultiStepLRScheduler": _timm(
        length=lambda s: max(DEFAULT_EPOCHS, -(-max(ints(s.get("decay_t")) or [0]) * 5 // 4))
    ),
    "timm.scheduler.plateau_lr:PlateauLRScheduler": _timm(metric=True),
    "timm.scheduler.scheduler:Scheduler": _timm(),
    "timm.scheduler.scheduler_factory:create_scheduler_v2": _timm(
        step_per=_timm_v2_step_per,
        step_rule=_TIMM_RULE.replace("t_in_epochs", "step_on_epochs"),
        fill=lambda s, epochs, spe: {"updates_per_epoch": spe},
        hidden=("updates_per_epoch",),  # --steps-per-epoch gives it, as train.py does
        returns_epochs=True,
        warmup_kwargs=("warmup_epochs",),
        metric=lambda s: s.get("sched") == "plateau",
        units=_steps(
            "num_epochs",
            "decay_epochs",
            "decay_milestones",
            "cooldown_epochs",
            "patience_epochs",
            "warmup_epochs",
            unit="epochs",
        ),
    ),
    "ignite.handlers.param_scheduler:CyclicalScheduler": replace(
        _IGNITE,
        length=lambda s: (
            (_int(s.get("cycle_size")) or 0) + (_int(s.get("warmup_duration")) or 0) or None
        ),
        horizons=_horizon("cycle_size", "cycle"),
        cyclic=True,
    ),
    "ignite.handlers.param_scheduler:PiecewiseLinear": replace(_IGNITE, length=_piecewise_length),
    "ignite.handlers.param_scheduler:ConcatScheduler": replace(_IGNITE, length=_concat_length),
    "ignite.handlers.param_scheduler:LRScheduler": replace(
        _IGNITE, length=lambda s: _sub_horizon(s.get("lr_scheduler")) or None
    ),
    "ignite.handlers.param_scheduler:create_lr_scheduler_with_warmup": replace(
        _IGNITE,
        length=lambda s: (
            (_int(s.get("warmup_duration")) or 0) + _sub_horizon(s.get("lr_scheduler"))
        ),
    ),
    "ignite.handlers.param_scheduler:ParamGroupScheduler": replace(
        _IGNITE,
        length=lambda s: (
            max([sub.horizon() or 0 for sub in s.get("schedulers") or []] or [0]) or None
        ),
    ),
    "ignite.handlers.param_scheduler:ReduceLROnPlateauScheduler": replace(
        _IGNITE, step_per="epoch", step_rule=None, metric=True
    ),
    "ignite.handlers.param_scheduler:ParamScheduler": _IGNITE,
    "mmengine.optim.scheduler.lr_scheduler:LRSchedulerMixin": replace(
        _MM, supplied=("param_name",)
    ),
    "mmengine.optim.scheduler.momentum_scheduler:MomentumSchedulerMixin": replace(
        _MM, supplied=("param_name",)
    ),
    "mmengine.optim.scheduler.param_scheduler:ReduceOnPlateauParamScheduler": replace(
        _MM, metric=True
    ),
    "mmengine.optim.scheduler.param_scheduler:_ParamScheduler": _MM,
    "deepspeed.runtime.lr_schedules:WarmupDecayLR": replace(
        _DS,
        peak_kwarg=("warmup_max_lr", 0.001),
        length=lambda s: _int(s.get("total_num_steps")),
        horizons=_horizon("total_num_steps", "decay"),
    ),
    "deepspeed.runtime.lr_schedules:WarmupCosineLR": replace(
        _DS,
        length=lambda s: _int(s.get("total_num_steps")),
        horizons=_horizon("total_num_steps", "decay"),
    ),
    "deepspeed.runtime.lr_schedules:WarmupLR": replace(
        _DS,
        length=lambda s: 2 * max(2, _int(s.get("warmup_num_steps")) or 1000),
        peak_kwarg=("warmup_max_lr", None),
    ),
    "deepspeed.runtime.lr_schedules:OneCycle": replace(_DS, length=_ds_cycle),
    "deepspeed.runtime.lr_schedules:LRRangeTest": _DS,
}

#: "module:attribute" of objects that look like schedulers but are not -> why lrplot refuses.
NOT_SCHEDULERS: dict[str, str] = {
    "torch.optim.optimizer:Optimizer": (
        "it is an optimizer, not a scheduler; schedule-free optimizers change the lr inside "
        "optimizer.step(), so there is no schedule for lrplot to show"
    ),
    "schedulefree.wrap_schedulefree:ScheduleFreeWrapper": (
        "schedule-free optimizers change the lr inside optimizer.step(); there is no "
        "schedule for lrplot to show"
    ),
    "pytorch_warmup.base:BaseWarmup": (
        "pytorch_warmup's warmups are dampeners that scale another scheduler's lr inside "
        "'with warmup.dampening():'; they are not schedulers lrplot can step"
    ),
    "transformers.optimization:AdafactorSchedule": (
        "AdafactorSchedule is a proxy that reports the lr Adafactor computes inside its own "
        "step(); there is no schedule for lrplot to show"
    ),
    "transformers.optimization:get_adafactor_schedule": (
        "it returns AdafactorSchedule, a proxy for the lr Adafactor computes inside its own "
        "step(); there is no schedule for lrplot to show"
    ),
}


def _lookup(key: str) -> Any:
    """Return the object named ``module:attribute`` if its module is already imported."""
    module, _, attr = key.partition(":")
    found = sys.modules.get(module)
    return getattr(found, attr, None) if found is not None else None


def _match(obj: Any, table: dict[str, Any]) -> Any:
    """Return the entry of ``table`` whose object is ``obj`` or (for classes) a base of it."""
    chain = obj.__mro__ if isinstance(obj, type) else (obj,)
    objects = [(_lookup(key), value) for key, value in table.items()]
    for klass in chain:
        for target, value in objects:
            if target is not None and klass is target:
                return value
    return None


def traits_for(obj: Any) -> Traits:
    """Return the traits of a scheduler class or factory object (``NO_TRAITS`` if unknown).

    A class gets a family's traits only if it *is* that class or a subclass of it, and a
    factory only if it is that very function, matched by identity (a class's MRO from the
    most derived class up). The framework modules are looked up in ``sys.modules`` only:
    loading the plug-in has already imported them.

    Example:
        >>> traits_for(object) is NO_TRAITS
        True
    """
    torch_module = sys.modules.get(TORCH_MODULE)
    if torch_module is not None and isinstance(obj, type):
        for klass in obj.__mro__:
            for name, traits in TORCH_TRAITS.items():
                if klass is getattr(torch_module, name, None):
                    return traits
    found = _match(obj, FRAMEWORK_TRAITS)
    return found if found is not None else NO_TRAITS


def refusal(obj: Any) -> str | None:
    """Return why lrplot cannot show ``obj`` (an optimizer, a warmup dampener), or None.

    Example:
        >>> refusal(object) is None
        True
    """
    return _match(obj, NOT_SCHEDULERS)


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
    #: the parameter that takes the optimizer; None when there is none (ignite's
    #: ``LRScheduler`` reaches it through the scheduler it wraps).
    optimizer_arg: str | None = "optimizer"
    #: pass the optimizer first, by position (else by its name).
    optimizer_positional: bool = True
    #: the signature ends in ``**kwargs`` that lrplot cannot resolve: any ``--key value``.
    extra_kwargs: bool = False
    #: ``(kwarg, description)`` from a plug-in's docstring (the built-ins' are read lazily).
    docs: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    @property
    def builtin(self) -> bool:
        """Return True for torch's own schedulers, listed by ``lrplot list``."""
        return self.obj is None

    @property
    def target(self) -> str:
        """Return the ``module:Name`` path of the class."""
        return f"{self.module}:{self.cls}"

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


def canonical_name(name: str) -> str:
    """Return a dotted class path as a name lrplot resolves (``class_path`` in configs).

    torch's own path becomes the class name; any other ``package.module.Name`` becomes
    the plug-in ``package.module:Name``; other names are returned unchanged.

    Example:
        >>> canonical_name("torch.optim.lr_scheduler.CosineAnnealingLR")
        'CosineAnnealingLR'
        >>> canonical_name("timm.scheduler.CosineLRScheduler")
        'timm.scheduler:CosineLRScheduler'
    """
    text = name.strip()
    if ":" in text or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", text):
        return text
    module, _, attr = text.rpartition(".")
    if module == TORCH_MODULE and attr.lower() in BY_NAME:
        return attr
    return f"{module}:{attr}"


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
