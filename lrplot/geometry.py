"""Training geometry: optimizer steps per epoch, counted the way each trainer counts them.

From the dataset size N, the per-device batch B, gradient accumulation A, the world size W
(processes) and ``drop_last``, each trainer gets a different number of optimizer steps per
epoch: it shards samples or batches, rounds up or down, and steps (or not) on the short
accumulation window at the end of an epoch. The rules below are the installed frameworks'
(transformers 5.23, Lightning 2.6, mmengine 0.10, timm 1.0's train.py), checked case by
case against their own dataloader and trainer code; ``torch`` is a plain training loop over
a ``DataLoader`` (with a ``DistributedSampler`` when W > 1) that steps the optimizer every A
batches.

Example:
    >>> c = count("hf", Geometry(dataset_size=1000, batch_size=8, grad_accum=4, world_size=2))
    >>> c.batches, c.steps
    (63, 16)
    >>> c.text
    'per-rank batches ceil(1000/(8×2)) = 63, then ceil(63/4) = 16 (HF Trainer, transformers 5.23)'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lrplot.errors import UsageError

#: the trainers whose counting rule lrplot knows (``--trainer``).
TRAINERS: tuple[str, ...] = ("torch", "hf", "lightning", "mmengine", "timm")

_LABELS = {
    "torch": "PyTorch DataLoader loop",
    "hf": "HF Trainer, transformers 5.23",
    "lightning": "Lightning 2.6",
    "mmengine": "mmengine 0.10 runner",
    "timm": "timm train.py",
}


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Geometry:
    """The sizes of a training run: samples, per-device batch, accumulation, processes."""

    dataset_size: int
    batch_size: int
    grad_accum: int = 1
    world_size: int = 1
    drop_last: bool = False

    @property
    def global_batch(self) -> int:
        """Return the samples of one optimizer step over all processes (B × A × W)."""
        return self.batch_size * self.grad_accum * self.world_size


@dataclass(frozen=True)
class Counted:
    """What a trainer makes of a geometry.

    Attributes:
        trainer: the rule's name (``hf``, ``lightning``, ...).
        batches: batches (iterations) each process runs per epoch.
        steps: optimizer steps per epoch.
        step_batches: the 0-based batch index, within the epoch, of each optimizer step.
        text: how the numbers were counted, with the rule's name.
        note: something about the rule the user may not expect, or "".
    """

    trainer: str
    batches: int
    steps: int
    step_batches: tuple[int, ...]
    text: str
    note: str = ""


def _window_ends(batches: int, accum: int, *, last: bool) -> tuple[int, ...]:
    """Return the batch indices where the optimizer steps: every ``accum`` batches
    (and on the last batch of the epoch when ``last``)."""
    ends = [b for b in range(batches) if (b + 1) % accum == 0]
    if last and batches and (not ends or ends[-1] != batches - 1):
        ends.append(batches - 1)
    return tuple(ends)


def _per_rank_samples(g: Geometry) -> tuple[int, str]:
    """Return a process's samples when a ``DistributedSampler`` pads to ``ceil(N/W)``."""
    if g.world_size == 1:
        return g.dataset_size, ""
    samples = _ceil(g.dataset_size, g.world_size)
    return samples, f"per-rank samples ceil({g.dataset_size}/{g.world_size}) = {samples}, "


def _batches_text(samples: int, g: Geometry, drop_last: bool) -> tuple[int, str]:
    if drop_last:
        return samples // g.batch_size, f"batches {samples}//{g.batch_size}"
    return _ceil(samples, g.batch_size), f"batches ceil({samples}/{g.batch_size})"


def _accum_text(batches: int, accum: int, steps: int, how: str) -> str:
    if accum == 1:
        return ""
    op = f"{batches}//{accum}" if how == "floor" else f"ceil({batches}/{accum})"
    return f", then {op} = {steps}"


def _torch(g: Geometry) -> Counted:
    samples, head = _per_rank_samples(g)
    batches, text = _batches_text(samples, g, g.drop_last)
    steps = batches // g.grad_accum
    tail = _accum_text(batches, g.grad_accum, steps, "floor")
    note = (
        "a plain loop steps every A batches: the batches after the last full window do not step"
        if g.grad_accum > 1 and batches % g.grad_accum
        else ""
    )
    return Counted(
        "torch",
        batches,
        steps,
        _window_ends(batches, g.grad_accum, last=False),
        f"{head}{text} = {batches}{tail}",
        note,
    )


def _hf(g: Geometry) -> Counted:
    per = g.batch_size * g.world_size
    shown = f"{g.batch_size}×{g.world_size}" if g.world_size > 1 else str(g.batch_size)
    shown = f"({shown})" if g.world_size > 1 else shown
    if g.drop_last:
        batches, text = g.dataset_size // per, f"{g.dataset_size}//{shown}"
    else:
        batches, text = _ceil(g.dataset_size, per), f"ceil({g.dataset_size}/{shown})"
    steps = max(_ceil(batches, g.grad_accum), 1) if batches else 0
    head = "per-rank batches " if g.world_size > 1 else "batches "
    return Counted(
        "hf",
        batches,
        steps,
        _window_ends(batches, g.grad_accum, last=True),
        f"{head}{text} = {batches}{_accum_text(batches, g.grad_accum, steps, 'ceil')}",
    )


def _lightning(g: Geometry) -> Counted:
    samples, head = _per_rank_samples(g)
    batches, text = _batches_text(samples, g, g.drop_last)
    steps = _ceil(batches, g.grad_accum)
    return Counted(
        "lightning",
        batches,
        steps,
        _window_ends(batches, g.grad_accum, last=True),
        f"{head}{text} = {batches}{_accum_text(batches, g.grad_accum, steps, 'ceil')}",
    )


def _mmengine(g: Geometry) -> Counted:
    samples, head = _per_rank_samples(g)
    batches, text = _batches_text(samples, g, g.drop_last)
    if batches and batches % g.grad_accum:
        raise UsageError(
            f"mmengine accumulates gradients over the run's iterations, not per epoch: "
            f"{batches} iterations per epoch and accumulative_counts {g.grad_accum} give a "
            "different number of optimizer steps in different epochs, which lrplot cannot draw",
            hint=f"choose a batch size or dataset size that gives a multiple of {g.grad_accum} "
            "iterations per epoch",
            key="grad_accum",
        )
    steps = batches // g.grad_accum
    tail = f", optimizer steps {batches}/{g.grad_accum} = {steps}" if g.grad_accum > 1 else ""
    return Counted(
        "mmengine",
        batches,
        steps,
        _window_ends(batches, g.grad_accum, last=False),
        f"{head}{text} = {batches} iterations{tail}",
    )


def _timm(g: Geometry) -> Counted:
    samples, head = _per_rank_samples(g)
    batches, text = _batches_text(samples, g, True)
    steps = _ceil(batches, g.grad_accum)
    note = "" if g.drop_last else "timm's train loader always drops the last partial batch"
    return Counted(
        "timm",
        batches,
        steps,
        _window_ends(batches, g.grad_accum, last=True),
        f"{head}{text} = {batches}{_accum_text(batches, g.grad_accum, steps, 'ceil')}",
        note,
    )


_RULES: dict[str, Callable[[Geometry], Counted]] = {
    "torch": _torch,
    "hf": _hf,
    "lightning": _lightning,
    "mmengine": _mmengine,
    "timm": _timm,
}


def count(trainer: str, geometry: Geometry) -> Counted:
    """Return the batches and optimizer steps per epoch that ``trainer`` gets.

    Raises:
        UsageError: unknown trainer, a size below 1, or no batch (or no optimizer step)
            in an epoch.

    Example:
        >>> count("lightning", Geometry(13, 2, grad_accum=2)).step_batches
        (1, 3, 5, 6)
        >>> count("torch", Geometry(13, 2, grad_accum=2)).steps
        3
    """
    rule = _RULES.get(trainer)
    if rule is None:
        raise UsageError(
            f"--trainer must be one of {', '.join(TRAINERS)}, got {trainer!r}", key="trainer"
        )
    for key in ("dataset_size", "batch_size", "grad_accum", "world_size"):
        if getattr(geometry, key) < 1:
            flag = "--" + key.replace("_", "-")
            raise UsageError(f"{flag} must be at least 1, got {getattr(geometry, key)}", key=key)
    counted = rule(geometry)
    text = f"{counted.text} ({_LABELS[trainer]})"
    counted = Counted(
        counted.trainer,
        counted.batches,
        counted.steps,
        counted.step_batches,
        text,
        counted.note,
    )
    if counted.steps < 1:
        raise UsageError(
            f"{geometry.dataset_size} samples give no optimizer step per epoch: {text}",
            hint="lower --batch-size, --grad-accum or --world-size, or drop --drop-last",
            key="dataset_size",
        )
    return counted


def plain_loop(steps_per_epoch: int, grad_accum: int) -> tuple[int, tuple[int, ...]]:
    """Return the batches per epoch and the batch of each optimizer step without a dataset.

    With only ``--steps-per-epoch`` and ``--grad-accum``, every window is full.

    Example:
        >>> plain_loop(3, 2)
        (6, (1, 3, 5))
    """
    batches = steps_per_epoch * grad_accum
    return batches, _window_ends(batches, grad_accum, last=False)


def label(trainer: str) -> str:
    """Return the trainer's display name, e.g. ``HF Trainer, transformers 5.23``."""
    return _LABELS[trainer]
