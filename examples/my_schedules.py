"""An example plug-in: your own scheduler class, drawn by lrplot like a built-in one.

From this directory (a module in the current directory is found, as ``python -m`` finds it)::

    lrplot my_schedules:WarmupCosine --warmup 5 --total 100 --epochs 100
    lrplot my_schedules:WarmupCosine --help        # its kwargs, from this docstring
    lrplot explore my_schedules:WarmupCosine --warmup 500 --total 10000 --epochs 10000
"""

from __future__ import annotations

import math

from torch.optim.lr_scheduler import LRScheduler


class WarmupCosine(LRScheduler):
    """Warm up linearly, then anneal along a half cosine down to a floor.

    Args:
        optimizer: the wrapped optimizer.
        warmup: scheduler steps of the linear warmup (from lr/warmup up to lr).
        total: scheduler steps of the whole schedule, warmup included.
        floor: the lr at the end of the cosine.
        last_epoch: the index of the last step (-1 for a new schedule).
    """

    def __init__(
        self, optimizer, warmup: int, total: int, floor: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.warmup = warmup
        self.total = total
        self.floor = floor
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Return the lr of every param group at step ``self.last_epoch``."""
        t = self.last_epoch
        if t < self.warmup:
            return [base * (t + 1) / self.warmup for base in self.base_lrs]
        done = min(1.0, (t - self.warmup) / max(1, self.total - self.warmup))
        cosine = 0.5 * (1 + math.cos(math.pi * done))
        return [self.floor + (base - self.floor) * cosine for base in self.base_lrs]
