"""Stepping protocols: each framework's scheduler, stepped the way its own training loop does.

A protocol is chosen from what the built object *is*: ``isinstance`` against the
framework's base classes, looked up in ``sys.modules`` (the plug-in's import loaded the
framework; lrplot never imports one to compare). Row ``i`` of a schedule is still the lr
that optimizer step ``i`` uses; a protocol says what the framework does around it::

    for epoch in range(epochs):
        for batch in range(steps_per_epoch):       # i = epoch * steps_per_epoch + batch
            protocol.before_step(i)                # ignite: Events.ITERATION_STARTED
            row[i] = optimizer.param_groups[g]["lr"]   # what optimizer.step() uses
            protocol.after_step(i, metric)         # per-iteration stepping
        protocol.after_epoch(epoch, metric)        # per-epoch stepping

- torch (``LRScheduler``, ``ReduceLROnPlateau``, transformers' ``GreedyLR``): ``step()``
  (``step(metric)``) per epoch or per iteration.
- timm (``Scheduler``): ``step_update(num_updates)`` after every update and
  ``step(epoch + 1, metric)`` after every epoch, as its train.py does.
- ignite (``BaseParamScheduler``, ``ParamGroupScheduler``): fired on
  ``Events.ITERATION_STARTED``; a plateau handler after each evaluation.
- mmengine (``_ParamScheduler``, or a runner's list of them): ``ParamSchedulerHook``.
- DeepSpeed (``lr_schedules``): ``step()`` after every optimizer step.

``Loop`` says how the loop around the optimizer runs: the batches (iterations) of an epoch
and which of them end an accumulation window with an optimizer step. It matters where a
framework counts batches, not optimizer steps: ignite and mmengine step iteration-based
schedulers every iteration (A times per optimizer step under accumulation A), Lightning's
``frequency`` counts the batch index within the epoch, and ``--fractional-epoch`` passes
``epoch + batch / batches``.

``tests/frameworks`` compares each protocol, row by row, with the framework's own loop
(``Trainer``, ``Engine``, ``Runner``, DeepSpeed engine, timm's train-script loop).

Example:
    >>> protocol_for(object()) is None
    True
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from lrplot.registry import StepPer

__all__ = [
    "PROTOCOLS",
    "DeepSpeedProtocol",
    "IgniteProtocol",
    "Loop",
    "MMEngineProtocol",
    "Protocol",
    "TimmProtocol",
    "TorchProtocol",
    "WarmupThenProtocol",
    "protocol_for",
]


@dataclass(frozen=True)
class Loop:
    """The training loop around the optimizer steps of one epoch.

    Attributes:
        batches: batches (iterations) per epoch.
        step_batches: the 0-based batch index of each optimizer step within the epoch.
        grad_accum: batches per optimizer step (``A``).
        frequency: Lightning's ``frequency`` (1: every time the scheduler is due).
        fractional: ``scheduler.step(epoch + batch / batches)`` after every optimizer step.

    Example:
        >>> Loop.plain(3).step_batches
        (0, 1, 2)
    """

    batches: int
    step_batches: tuple[int, ...]
    grad_accum: int = 1
    frequency: int = 1
    fractional: bool = False

    @classmethod
    def plain(cls, steps_per_epoch: int) -> Loop:
        """Return the loop of one batch per optimizer step."""
        return cls(steps_per_epoch, tuple(range(steps_per_epoch)))

    @property
    def steps(self) -> int:
        """Return the optimizer steps per epoch."""
        return len(self.step_batches)

    def batch_of(self, i: int) -> int:
        """Return the batch index, within its epoch, of optimizer step ``i``."""
        return self.step_batches[i % self.steps]

    def iteration_of(self, i: int) -> int:
        """Return the 0-based iteration (batch over the whole run) of optimizer step ``i``."""
        return (i // self.steps) * self.batches + self.batch_of(i)

    def iterations_before(self, i: int) -> int:
        """Return the iterations that ran since optimizer step ``i - 1``, step ``i``'s included.

        Example:
            >>> loop = Loop(7, (1, 3, 5), grad_accum=2)  # a loop that steps every 2 batches
            >>> [loop.iterations_before(i) for i in range(5)]
            [2, 2, 2, 3, 2]
        """
        return self.iteration_of(i) - (self.iteration_of(i - 1) if i else -1)


#: mmengine's "no end" (``mmengine.optim.scheduler.param_scheduler.INF``).
_MM_INF = 1_000_000_000


def _classes(keys: Sequence[str]) -> tuple[type, ...]:
    """Return the classes named ``module:attribute`` whose modules are already imported."""
    found = []
    for key in keys:
        module, _, attr = key.partition(":")
        klass = getattr(sys.modules.get(module), attr, None)
        if isinstance(klass, type):
            found.append(klass)
    return tuple(found)


def _is(obj: Any, keys: Sequence[str]) -> bool:
    classes = _classes(keys)
    return bool(classes) and isinstance(obj, classes)


class Protocol:
    """How one framework's training loop drives a built scheduler object.

    Attributes:
        scheduler: the framework's object (mmengine: a list of them, as a runner holds).
        step_per: when it moves the lr: ``epoch`` or ``iter``.
        run_epochs: the run length the factory returned with it (timm's ``num_epochs``).
    """

    family: ClassVar[str] = "torch"
    #: ``module:attribute`` of the classes this protocol steps.
    bases: ClassVar[tuple[str, ...]] = ()

    def __init__(self, scheduler: Any, step_per: StepPer = "epoch") -> None:
        self.scheduler = scheduler
        self.step_per: StepPer = step_per
        self.run_epochs: int | None = None
        self.loop = Loop.plain(1)

    @property
    def fast(self) -> bool:
        """Return True when the engine's fast torch loops apply (``step()`` only)."""
        return False

    def setup(self, loop: Loop) -> None:
        """Say how the loop around the optimizer runs (before the first step)."""
        self.loop = loop

    @classmethod
    def matches(cls, obj: Any) -> bool:
        """Return True when ``obj`` is one of this framework's schedulers."""
        return _is(obj, cls.bases)

    @property
    def metric(self) -> bool:
        """Return True when the scheduler is stepped with a metric (a plateau scheduler)."""
        return False

    @property
    def optimizer(self) -> Any:
        """Return the optimizer the scheduler drives."""
        return getattr(self.scheduler, "optimizer", None)

    def before_step(self, i: int) -> None:
        """Run what the framework runs before optimizer step ``i`` (0-based)."""

    def after_step(self, i: int, metric: float | None) -> None:
        """Run what the framework runs after optimizer step ``i``."""

    def after_epoch(self, epoch: int, metric: float | None) -> None:
        """Run what the framework runs after epoch ``epoch`` (0-based) ends."""

    def horizon(self, steps_per_epoch: int) -> int | None:
        """Return the optimizer step where the schedule ends, as the object says, or None."""
        if self.run_epochs is not None:
            return self.run_epochs * steps_per_epoch
        return None

    def state_dict(self) -> Any:
        """Return the scheduler's state (for a resume round trip)."""
        return self.scheduler.state_dict()

    def load_state_dict(self, state: Any) -> None:
        """Load a state returned by ``state_dict``."""
        self.scheduler.load_state_dict(state)

    def fast_forward(self, steps: int, epochs: int) -> bool:
        """Move a fresh scheduler to ``steps`` optimizer steps (``epochs`` whole epochs) done.

        This is how the framework's own script resumes without the scheduler's state;
        False when it has no such call (a ``last_epoch`` kwarg, or nothing, does it).
        """
        return False


class TorchProtocol(Protocol):
    """torch schedulers: ``step()`` (``step(metric)`` for plateau) per epoch or iteration.

    Also any object with ``step()`` and an ``optimizer`` that no other protocol claims
    (a plug-in scheduler written without torch's base class).
    """

    family = "torch"
    bases = (
        "torch.optim.lr_scheduler:LRScheduler",
        "torch.optim.lr_scheduler:ReduceLROnPlateau",
        "transformers.optimization:GreedyLR",
    )
    _metric_bases = (
        "torch.optim.lr_scheduler:ReduceLROnPlateau",
        "transformers.optimization:GreedyLR",
    )

    @property
    def fast(self) -> bool:
        """Return True unless Lightning's frequency or fractional epochs apply."""
        return self.loop.frequency == 1 and not self.loop.fractional

    def setup(self, loop: Loop) -> None:
        """Take the loop; fractional epochs step after every optimizer step."""
        super().setup(loop)
        if loop.fractional:
            self.step_per = "iter"

    @classmethod
    def matches(cls, obj: Any) -> bool:
        """Return True for torch's schedulers and other objects with ``step()``."""
        return _is(obj, cls.bases) or (
            callable(getattr(obj, "step", None)) and hasattr(obj, "optimizer")
        )

    @property
    def metric(self) -> bool:
        """Return True for ``ReduceLROnPlateau`` (and subclasses) and ``GreedyLR``."""
        return _is(self.scheduler, self._metric_bases)

    def _step(self, metric: float | None) -> None:
        if self.metric:
            self.scheduler.step(metric)
        else:
            self.scheduler.step()

    def after_step(self, i: int, metric: float | None) -> None:
        """Step per iteration: when (batch index + 1) % frequency == 0, as Lightning does.

        With fractional epochs: ``step(epoch + batch / batches)``, as torch's docs show for
        ``CosineAnnealingWarmRestarts``.
        """
        loop = self.loop
        if loop.fractional:
            self.scheduler.step(i // loop.steps + loop.batch_of(i) / loop.batches)
        elif self.step_per == "iter" and (loop.batch_of(i) + 1) % loop.frequency == 0:
            self._step(metric)

    def after_epoch(self, epoch: int, metric: float | None) -> None:
        """Step per epoch: when (epoch + 1) % frequency == 0, as Lightning does."""
        if self.step_per == "epoch" and (epoch + 1) % self.loop.frequency == 0:
            self._step(metric)

    def horizon(self, steps_per_epoch: int) -> int | None:
        """Return the ``num_training_steps`` a ``LambdaLR``'s lambda was built with.

        transformers' factories (and the libraries that share them, such as diffusers)
        build their lambda as ``functools.partial(f, num_training_steps=..., ...)``.
        """
        lambdas = getattr(self.scheduler, "lr_lambdas", None) or [None]
        keywords = getattr(lambdas[0], "keywords", None)
        if not isinstance(keywords, dict):
            return None
        total = keywords.get("num_training_steps")
        if total is None and "num_decay_steps" in keywords:  # warmup-stable-decay
            parts = [keywords.get(k) for k in ("num_warmup_steps", "num_stable_steps")]
            total = sum(p for p in parts if isinstance(p, int)) + keywords["num_decay_steps"]
        if not isinstance(total, int) or isinstance(total, bool):
            return None
        return total * (steps_per_epoch if self.step_per == "epoch" else 1)


class WarmupThenProtocol(TorchProtocol):
    """A per-iteration warmup, then a per-epoch torch scheduler (``--warmup-step-per iter``).

    The canonical loop (``warmup`` is a ``LinearLR`` built after ``main`` on the same
    optimizer, so it scales the lr ``main`` set)::

        for epoch in range(epochs):
            for batch in range(steps_per_epoch):
                optimizer.step()                    # step i
                if i < warmup_steps: warmup.step()
            if epoch >= ceil(warmup_steps / steps_per_epoch): main.step()
    """

    def __init__(self, scheduler: Any, warmup: Any, warmup_steps: int) -> None:
        super().__init__(scheduler, "epoch")
        self.warmup, self.warmup_steps = warmup, warmup_steps

    @property
    def fast(self) -> bool:
        """Return False: the two schedulers step at different times."""
        return False

    def after_step(self, i: int, metric: float | None) -> None:
        """Step the warmup after each of its optimizer steps."""
        if i < self.warmup_steps:
            self.warmup.step()

    def after_epoch(self, epoch: int, metric: float | None) -> None:
        """Step the main scheduler after each epoch that began after the warmup."""
        if epoch * self.loop.steps >= self.warmup_steps:
            self._step(metric)

    def state_dict(self) -> Any:
        """Return the states of the main scheduler and the warmup."""
        return [self.scheduler.state_dict(), self.warmup.state_dict()]

    def load_state_dict(self, state: Any) -> None:
        """Load the states returned by ``state_dict``."""
        self.scheduler.load_state_dict(state[0])
        self.warmup.load_state_dict(state[1])


class TimmProtocol(Protocol):
    """timm: ``step_update(num_updates)`` after every update, ``step(epoch + 1)`` per epoch.

    timm's train.py calls both, always; the scheduler's ``t_in_epochs`` decides which one
    changes the lr (the other returns at once). The constructor already set the lr of
    step 0 (train.py never calls ``step(0)``). The plateau scheduler gets the epoch's
    metric with ``step``.
    """

    family = "timm"
    bases = ("timm.scheduler.scheduler:Scheduler",)

    def __init__(self, scheduler: Any, step_per: StepPer = "epoch") -> None:
        super().__init__(scheduler, "epoch" if getattr(scheduler, "t_in_epochs", True) else "iter")

    @property
    def metric(self) -> bool:
        """Return True for ``PlateauLRScheduler``."""
        return _is(self.scheduler, ("timm.scheduler.plateau_lr:PlateauLRScheduler",))

    def after_step(self, i: int, metric: float | None) -> None:
        """Call ``step_update(num_updates=i + 1)`` (train.py passes the running loss)."""
        self.scheduler.step_update(num_updates=i + 1, metric=metric if self.metric else None)

    def after_epoch(self, epoch: int, metric: float | None) -> None:
        """Call ``step(epoch + 1, metric)``."""
        self.scheduler.step(epoch + 1, metric if self.metric else None)

    def fast_forward(self, steps: int, epochs: int) -> bool:
        """Resume as train.py does: ``step_update(steps)`` or ``step(start_epoch)``."""
        if self.step_per == "iter":
            self.scheduler.step_update(num_updates=steps)
        elif epochs > 0:
            self.scheduler.step(epochs)
        return True

    def horizon(self, steps_per_epoch: int) -> int | None:
        """Return ``num_epochs`` (create_scheduler_v2) or ``get_cycle_length()``, in steps."""
        if self.run_epochs is not None:
            return self.run_epochs * steps_per_epoch
        cycle = getattr(self.scheduler, "get_cycle_length", None)
        if cycle is None:
            return None
        length = int(cycle())
        return length * steps_per_epoch if self.step_per == "epoch" else length


class IgniteProtocol(Protocol):
    """ignite: the handler fires on ``Events.ITERATION_STARTED``, before every iteration.

    Without an engine it is fired as ``scheduler(None)``, exactly what ignite's own
    ``simulate_values`` does. ``ReduceLROnPlateauScheduler`` is attached to an evaluator
    instead: it is fired after each epoch with a real ``ignite.engine.Engine`` whose
    ``state.metrics`` holds the metric.
    """

    family = "ignite"
    bases = (
        "ignite.handlers.param_scheduler:BaseParamScheduler",
        "ignite.handlers.param_scheduler:ParamGroupScheduler",
    )

    def __init__(self, scheduler: Any, step_per: StepPer = "iter") -> None:
        super().__init__(scheduler, "epoch" if self._plateau(scheduler) else "iter")
        self._evaluator: Any = None

    @staticmethod
    def _plateau(obj: Any) -> bool:
        return _is(obj, ("ignite.handlers.param_scheduler:ReduceLROnPlateauScheduler",))

    @property
    def metric(self) -> bool:
        """Return True for ``ReduceLROnPlateauScheduler``."""
        return self._plateau(self.scheduler)

    @property
    def optimizer(self) -> Any:
        """Return the optimizer (a ``ParamGroupScheduler`` lists its schedulers' one)."""
        found = getattr(self.scheduler, "optimizer", None)
        if isinstance(found, list):
            return found[0] if found and all(o is found[0] for o in found) else None
        return found

    def before_step(self, i: int) -> None:
        """Fire the handler (Events.ITERATION_STARTED) for each iteration of the window."""
        if not self.metric:
            for _ in range(self.loop.iterations_before(i)):
                self.scheduler(None)

    def after_epoch(self, epoch: int, metric: float | None) -> None:
        """Fire a plateau handler as the evaluator's Events.COMPLETED would."""
        if not self.metric:
            return
        if self._evaluator is None:
            engine_cls = sys.modules["ignite.engine"].Engine
            self._evaluator = engine_cls(lambda engine, batch: None)
        self._evaluator.state.metrics = {self.scheduler.metric_name: metric}
        self.scheduler(self._evaluator)

    def horizon(self, steps_per_epoch: int) -> int | None:
        """Return a ``PiecewiseLinear``'s last milestone (held after it), else None."""
        if _is(self.scheduler, ("ignite.handlers.param_scheduler:PiecewiseLinear",)):
            return -(-int(self.scheduler.milestones[-1]) // self.loop.grad_accum)
        return None


class MMEngineProtocol(Protocol):
    """mmengine: ``ParamSchedulerHook`` steps each scheduler of the runner's list.

    After every iteration: ``step()`` for those not ``by_epoch``; after every epoch:
    ``step()`` for those ``by_epoch``, then (validation) ``step(metrics)`` for plateau
    schedulers. The constructor already applied step 0. A single scheduler or a list.
    """

    family = "mmengine"
    bases = ("mmengine.optim.scheduler.param_scheduler:_ParamScheduler",)

    def __init__(self, scheduler: Any, step_per: StepPer = "epoch") -> None:
        self.schedulers = list(scheduler) if isinstance(scheduler, (list, tuple)) else [scheduler]
        by_epoch = all(getattr(s, "by_epoch", True) for s in self.schedulers)
        super().__init__(scheduler, "epoch" if by_epoch else "iter")

    @classmethod
    def matches(cls, obj: Any) -> bool:
        """Return True for an mmengine scheduler or a non-empty list of them."""
        if isinstance(obj, (list, tuple)):
            return bool(obj) and all(_is(s, cls.bases) for s in obj)
        return _is(obj, cls.bases)

    @property
    def metric(self) -> bool:
        """Return True when a scheduler needs the validation metrics (ReduceOnPlateau)."""
        return any(getattr(s, "need_val_args", False) for s in self.schedulers)

    @property
    def optimizer(self) -> Any:
        """Return the optimizer of the first scheduler."""
        return getattr(self.schedulers[0], "optimizer", None)

    def before_step(self, i: int) -> None:
        """ParamSchedulerHook.after_train_iter of the window's iterations before this one.

        Under ``accumulative_counts`` A, the optimizer steps on the last of A iterations.
        """
        for _ in range(self.loop.iterations_before(i) - 1):
            self.after_step(i, None)

    def after_step(self, i: int, metric: float | None) -> None:
        """ParamSchedulerHook.after_train_iter."""
        for s in self.schedulers:
            if not s.by_epoch:
                s.step()

    def after_epoch(self, epoch: int, metric: float | None) -> None:
        """ParamSchedulerHook.after_train_epoch, then after_val_epoch."""
        for s in self.schedulers:
            if s.by_epoch:
                s.step()
        for s in self.schedulers:
            if s.by_epoch and getattr(s, "need_val_args", False):
                s.step({s.monitor: metric})

    def horizon(self, steps_per_epoch: int) -> int | None:
        """Return the latest ``end`` (held after it), in optimizer steps, or None."""
        accum = self.loop.grad_accum
        ends = [
            int(s.end) * steps_per_epoch if s.by_epoch else -(-int(s.end) // accum)
            for s in self.schedulers
            if s.end < _MM_INF
        ]
        return max(ends) if ends and len(ends) == len(self.schedulers) else None

    def state_dict(self) -> Any:
        """Return the states of every scheduler."""
        return [s.state_dict() for s in self.schedulers]

    def load_state_dict(self, state: Any) -> None:
        """Load the states returned by ``state_dict``."""
        for s, one in zip(self.schedulers, state, strict=True):
            s.load_state_dict(one)


class DeepSpeedProtocol(Protocol):
    """DeepSpeed: the engine calls ``step()`` after every optimizer step.

    The constructor already wrote the lr of iteration -1, which optimizer step 0 uses.
    """

    family = "DeepSpeed"
    bases = (
        "deepspeed.runtime.lr_schedules:WarmupLR",
        "deepspeed.runtime.lr_schedules:WarmupCosineLR",
        "deepspeed.runtime.lr_schedules:OneCycle",
        "deepspeed.runtime.lr_schedules:LRRangeTest",
    )

    def __init__(self, scheduler: Any, step_per: StepPer = "iter") -> None:
        super().__init__(scheduler, "iter")

    def after_step(self, i: int, metric: float | None) -> None:
        """Step after the optimizer step (engine._take_model_step)."""
        self.scheduler.step()

    def horizon(self, steps_per_epoch: int) -> int | None:
        """Return ``total_num_steps`` (WarmupDecayLR, WarmupCosineLR), else None."""
        total = getattr(self.scheduler, "total_num_steps", None)
        return int(total) if isinstance(total, int) else None


#: the protocols, most specific first (torch last: it also takes any object with step()).
PROTOCOLS: tuple[type[Protocol], ...] = (
    TimmProtocol,
    IgniteProtocol,
    MMEngineProtocol,
    DeepSpeedProtocol,
    TorchProtocol,
)


def protocol_for(obj: Any, step_per: StepPer = "epoch") -> Protocol | None:
    """Return the protocol that steps ``obj`` as its framework does, or None.

    ``step_per`` applies to torch schedulers; every other framework decides it itself.
    """
    for protocol in PROTOCOLS:
        if protocol.matches(obj):
            return protocol(obj, step_per)
    return None
