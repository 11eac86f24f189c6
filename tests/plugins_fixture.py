"""Plug-in schedulers for ``tests/test_plugins.py`` (``lrplot tests.plugins_fixture:Name``)."""

from __future__ import annotations

import math

from torch.optim.lr_scheduler import LambdaLR, LRScheduler


class WarmupCosine(LRScheduler):
    """Warm up linearly for warmup steps, then anneal along a cosine to floor."""

    def __init__(
        self, optimizer, warmup: int, total: int, floor: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.warmup = warmup
        self.total = total
        self.floor = floor
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Return the lr of every group at ``self.last_epoch``."""
        t = self.last_epoch
        out = []
        for base in self.base_lrs:
            if t < self.warmup:
                out.append(base * (t + 1) / self.warmup)
            else:
                progress = min(1.0, (t - self.warmup) / max(1, self.total - self.warmup))
                cosine = 0.5 * (1 + math.cos(math.pi * progress))
                out.append(self.floor + (base - self.floor) * cosine)
        return out


def warmup_lambda(optimizer, warmup: int = 5, decay: float = 0.9) -> LambdaLR:
    """Return a LambdaLR: linear warmup, then exponential decay."""

    def factor(epoch: int) -> float:
        if epoch < warmup:
            return (epoch + 1) / warmup
        return decay ** (epoch - warmup)

    return LambdaLR(optimizer, factor)


NOT_A_SCHEDULER = 3


def not_a_factory(optimizer, scale: float = 1.0) -> dict:
    """Return something that is not a scheduler."""
    return {"optimizer": optimizer, "scale": scale}


def other_optimizer(optimizer, lr: float = 0.1):
    """Return a real scheduler, but on an optimizer of its own."""
    import torch

    own = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    return LambdaLR(own, lambda epoch: 1.0)


class RaisesInInit(LRScheduler):
    """A scheduler whose constructor fails with an unexpected error."""

    def __init__(self, optimizer, size: int = 1) -> None:
        raise RuntimeError("constructor exploded")


class RampCosine(WarmupCosine):
    """WarmupCosine with kwarg names that no lrplot option uses (ramp, total, floor)."""

    def __init__(
        self, optimizer, ramp: int, total: int, floor: float = 0.0, last_epoch: int = -1
    ) -> None:
        super().__init__(optimizer, ramp, total, floor, last_epoch)


BROKEN_MODULE = "lrplot_test_broken_plugin"


def write_broken_module(directory) -> str:
    """Write a module whose import raises RuntimeError('boom'); return its name.

    It lives in a temporary directory (put it on ``sys.path``), not in ``tests/``, so that
    pytest's ``--doctest-modules`` collection never imports it.
    """
    from pathlib import Path

    (Path(directory) / f"{BROKEN_MODULE}.py").write_text('raise RuntimeError("boom")\n')
    return BROKEN_MODULE


class CosineAnnealingLR(LRScheduler):
    """Not torch's class: a linear decay over `length` steps that happens to share the name."""

    def __init__(self, optimizer, length: int, end: float = 0.0, last_epoch: int = -1) -> None:
        self.length = length
        self.end = end
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Return the lr of every group at ``self.last_epoch``."""
        share = min(1.0, self.last_epoch / self.length)
        return [base + (self.end - base) * share for base in self.base_lrs]


class TorchCosineSubclass(__import__("torch").optim.lr_scheduler.CosineAnnealingLR):
    """A real subclass of torch's CosineAnnealingLR (it inherits the torch traits)."""


# --------------------------------------------------------------- binding and introspection


class _ScaledBase(LRScheduler):
    """Scale the lr by a factor that changes by ``rate`` every step.

    Args:
        optimizer: Wrapped optimizer.
        rate: Multiplicative change per scheduler step. Default: 0.9.
        hold (int): Scheduler steps before the first change.
    """

    def __init__(self, optimizer, rate: float = 0.9, hold: int = 0, last_epoch: int = -1) -> None:
        self.rate, self.hold = rate, hold
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Return the lr of every group at ``self.last_epoch``."""
        steps = max(0, self.last_epoch - self.hold)
        return [max(self.floor, base * self.rate**steps) for base in self.base_lrs]


class Scaled(_ScaledBase):
    """Exponential decay after a hold, down to a floor.

    Its ``__init__`` takes ``*args, **kwargs`` and passes them on, as ignite's and
    mmengine's classes do: the kwargs are its base class's.

    Args:
        floor: The lowest lr.
    """

    def __init__(self, *args, floor: float = 0.0, **kwargs) -> None:
        self.floor = floor
        super().__init__(*args, **kwargs)


def scheduler_by_name(name: str, optimizer, steps: int = 10):
    """Return a scheduler chosen by name; the optimizer is not the first parameter.

    Args:
        name: 'linear' or 'constant'.
        optimizer: The optimizer.
        steps: Scheduler steps of the linear decay.
    """
    from torch.optim.lr_scheduler import ConstantLR, LinearLR

    if name == "constant":
        return ConstantLR(optimizer, factor=1.0, total_iters=1)
    return LinearLR(optimizer, start_factor=1.0, end_factor=0.01, total_iters=steps)


def plateau_factory(optimizer, **kwargs):
    """Return torch's ReduceLROnPlateau with any kwargs (a function taking **kwargs)."""
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    return ReduceLROnPlateau(optimizer, **kwargs)


def with_extras(optimizer, decay: float = 0.5):
    """Return (scheduler, a number), as some factories do; lrplot unwraps the scheduler."""
    from torch.optim.lr_scheduler import ExponentialLR

    return ExponentialLR(optimizer, gamma=decay), 42


def configured(optimizer, settings: dict | None = None):
    """Return an ExponentialLR configured by a dict.

    Args:
        optimizer: The optimizer.
        settings: A mapping with the key ``gamma``.
    """
    from torch.optim.lr_scheduler import ExponentialLR

    return ExponentialLR(optimizer, **(settings or {"gamma": 0.9}))


class Stepper:
    """A scheduler without torch's base class: it only has step() and an optimizer."""

    def __init__(self, optimizer, drop: float = 0.5, every: int = 3) -> None:
        self.optimizer, self.drop, self.every, self.count = optimizer, drop, every, 0

    def step(self) -> None:
        """Drop the lr every ``every`` steps."""
        self.count += 1
        if self.count % self.every == 0:
            for group in self.optimizer.param_groups:
                group["lr"] *= self.drop


def _warmup_decay(step: int, *, num_warmup_steps: int, num_training_steps: int) -> float:
    if step < num_warmup_steps:
        return (step + 1) / num_warmup_steps
    return max(0.0, (num_training_steps - step) / max(1, num_training_steps - num_warmup_steps))


def warmup_then_decay(optimizer, num_warmup_steps: int = 2, num_training_steps: int = 20):
    """Return a LambdaLR built as transformers builds its schedules (a partial lambda)."""
    import functools

    lam = functools.partial(
        _warmup_decay, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps
    )
    return LambdaLR(optimizer, lam)
