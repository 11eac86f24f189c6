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
