"""pytorch-ignite: lrplot equals a real ``Engine`` firing the handler, row by row.

An ignite param scheduler is an event handler; ``trainer.add_event_handler(
Events.ITERATION_STARTED, scheduler)`` fires it before every iteration. The plateau
scheduler is attached to an evaluator and reads ``engine.state.metrics``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.frameworks.conftest import assert_rows, lrplot_rows, quiet, tiny, train_step

pytest.importorskip("ignite")

import torch
from ignite.engine import Engine, Events
from ignite.handlers import param_scheduler as ps

import lrplot
from lrplot.engine import simulate
from lrplot.plugins import scheduler_info

IG = "ignite.handlers"


def run_engine(
    make: Callable[[Any], Any], iterations: int, lrs: tuple[float, ...] = (0.1,)
) -> list[list[float]]:
    """Train ``iterations`` iterations with an Engine firing ``make(optimizer)``."""
    model, optimizer, rows = tiny(lrs)
    handler = make(optimizer)
    trainer = Engine(lambda engine, batch: train_step(model, optimizer))
    trainer.add_event_handler(Events.ITERATION_STARTED, handler)
    with quiet():
        trainer.run(list(range(iterations)), max_epochs=1)
    return rows


CASES: list[tuple[str, str, dict, Callable[[Any], Any]]] = [
    (
        "cosine",
        "CosineAnnealingScheduler",
        {"start_value": 0.1, "end_value": 0.01, "cycle_size": 7, "cycle_mult": 2.0},
        lambda o: ps.CosineAnnealingScheduler(o, "lr", 0.1, 0.01, 7, cycle_mult=2.0),
    ),
    (
        "linear-cyclical",
        "LinearCyclicalScheduler",
        {"start_value": 0.01, "end_value": 0.1, "cycle_size": 6, "start_value_mult": 0.5},
        lambda o: ps.LinearCyclicalScheduler(o, "lr", 0.01, 0.1, 6, start_value_mult=0.5),
    ),
    (
        "cosine-warmup",
        "CosineAnnealingScheduler",
        {"start_value": 0.1, "end_value": 0.0, "cycle_size": 8, "warmup_duration": 3},
        lambda o: ps.CosineAnnealingScheduler(o, "lr", 0.1, 0.0, 8, warmup_duration=3),
    ),
    (
        "linear-monotonic",
        "LinearCyclicalScheduler",
        {"start_value": 0.1, "end_value": 0.0, "cycle_size": 10, "monotonic": True},
        lambda o: ps.LinearCyclicalScheduler(o, "lr", 0.1, 0.0, 10, monotonic=True),
    ),
    (
        "piecewise",
        "PiecewiseLinear",
        {"milestones_values": [(0, 0.0), (4, 0.1), (12, 0.01)]},
        lambda o: ps.PiecewiseLinear(o, "lr", milestones_values=[(0, 0.0), (4, 0.1), (12, 0.01)]),
    ),
    (
        "torch-steplr",
        "LRScheduler",
        {"lr_scheduler": "step:step_size=3,gamma=0.5"},
        lambda o: ps.LRScheduler(torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    ),
    (
        "warmup",
        "create_lr_scheduler_with_warmup",
        {
            "lr_scheduler": "exp:gamma=0.9",
            "warmup_start_value": 0.0,
            "warmup_end_value": 0.1,
            "warmup_duration": 4,
        },
        lambda o: ps.create_lr_scheduler_with_warmup(
            torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
            warmup_start_value=0.0,
            warmup_end_value=0.1,
            warmup_duration=4,
        ),
    ),
    (
        "concat",
        "ConcatScheduler",
        {
            "schedulers": [
                f"{IG}:LinearCyclicalScheduler:start_value=0.0,end_value=0.1,cycle_size=8",
                f"{IG}:CosineAnnealingScheduler:start_value=0.1,end_value=0.0,cycle_size=10",
            ],
            "durations": [4],
        },
        lambda o: ps.ConcatScheduler(
            [
                ps.LinearCyclicalScheduler(o, "lr", 0.0, 0.1, 8),
                ps.CosineAnnealingScheduler(o, "lr", 0.1, 0.0, 10),
            ],
            durations=[4],
        ),
    ),
]


@pytest.mark.parametrize(("case", "name", "kwargs", "make"), CASES, ids=[c[0] for c in CASES])
def test_handler_equals_a_real_engine(case, name, kwargs, make):
    want = run_engine(make, 24)
    assert_rows(lrplot_rows(f"{IG}:{name}", kwargs, epochs=24), want)
    assert_rows(lrplot_rows(f"{IG}:{name}", kwargs, epochs=6, steps_per_epoch=4), want)


def test_param_group_scheduler_two_groups():
    def make(o: Any) -> Any:
        return ps.ParamGroupScheduler(
            [
                ps.CosineAnnealingScheduler(o, "lr", 0.1, 0.0, 6, param_group_index=0),
                ps.LinearCyclicalScheduler(o, "lr", 0.01, 0.05, 4, param_group_index=1),
            ]
        )

    want = run_engine(make, 16, lrs=(0.1, 0.01))
    kwargs = {
        "schedulers": [
            f"{IG}:CosineAnnealingScheduler:start_value=0.1,end_value=0.0,cycle_size=6,"
            "param_group_index=0",
            f"{IG}:LinearCyclicalScheduler:start_value=0.01,end_value=0.05,cycle_size=4,"
            "param_group_index=1",
        ]
    }
    got = lrplot_rows(f"{IG}:ParamGroupScheduler", kwargs, epochs=16, lr="0.1,0.01")
    assert_rows(got, want)


def test_plateau_handler_equals_an_evaluator():
    """ReduceLROnPlateauScheduler on the evaluator, run after every training epoch."""
    metrics = [1.0, 0.8, 0.85, 0.9, 0.95, 0.7, 0.75, 0.8]
    model, optimizer, rows = tiny()
    handler = ps.ReduceLROnPlateauScheduler(
        optimizer, metric_name="loss", mode="min", factor=0.5, patience=1
    )
    evaluator = Engine(lambda engine, batch: None)
    values = iter(metrics)

    @evaluator.on(Events.COMPLETED)
    def _score(engine: Engine) -> None:
        engine.state.metrics["loss"] = next(values)

    evaluator.add_event_handler(Events.COMPLETED, handler)
    trainer = Engine(lambda engine, batch: train_step(model, optimizer))
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda _: evaluator.run([0]))
    with quiet():
        trainer.run(list(range(3)), max_epochs=len(metrics))
    spec = lrplot.make_spec(
        f"{IG}:ReduceLROnPlateauScheduler",
        {"metric_name": "loss", "mode": "min", "factor": 0.5, "patience": 1},
        epochs=len(metrics),
        steps_per_epoch=3,
        metric=metrics,
    )
    schedule = simulate(spec)
    assert_rows(schedule.lr, rows)
    assert min(r[0] for r in rows) < 0.1  # it did reduce


def test_signature_resolved_through_the_mro_and_param_name_defaults_to_lr():
    info = scheduler_info(f"{IG}:LinearCyclicalScheduler")
    names = [k.name for k in info.kwargs]
    assert names[:4] == ["param_name", "start_value", "end_value", "cycle_size"]
    assert "monotonic" in names and not info.extra_kwargs
    assert info.kwarg("param_name").default == "lr"
    assert info.required == ("start_value", "end_value", "cycle_size")
    wrapper = scheduler_info(f"{IG}:LRScheduler")
    assert wrapper.optimizer_arg is None  # it reaches the optimizer through the torch one
    assert wrapper.kwarg("lr_scheduler").kind == "specs"


def test_run_length_from_cycle_size():
    spec = lrplot.make_spec(
        f"{IG}:CosineAnnealingScheduler", {"start_value": 0.1, "end_value": 0.0, "cycle_size": 30}
    ).resolved()
    assert (spec.epochs, spec.step_per) == (30, "iter")


def test_gradient_accumulation_fires_the_handler_every_iteration():
    """An Engine whose update accumulates 3 batches (the loss divided, ``optimizer.step()``
    on every 3rd batch of the epoch, as a plain loop's ``(i + 1) % 3 == 0``); the handler
    still fires before every iteration. 7 batches per epoch, 2 epochs: the optimizer steps at
    batches 2 and 5 of each epoch (lrplot's torch rule, --dataset-size 14 in batches of 2)."""
    model, optimizer, rows = tiny()
    handler = ps.CosineAnnealingScheduler(optimizer, "lr", 0.1, 0.01, 9)
    accum = 3

    def update(engine: Engine, batch: Any) -> None:
        x = torch.randn(8, 4)
        loss = sum(((m(x) - x.sum(1, keepdim=True)) ** 2).mean() for m in model) / accum
        loss.backward()
        batch_in_epoch = (engine.state.iteration - 1) % engine.state.epoch_length
        if (batch_in_epoch + 1) % accum == 0:
            optimizer.step()
            optimizer.zero_grad()

    trainer = Engine(update)
    trainer.add_event_handler(Events.ITERATION_STARTED, handler)
    with quiet():
        trainer.run(list(range(7)), max_epochs=2)
    spec = lrplot.make_spec(
        f"{IG}:CosineAnnealingScheduler",
        {"start_value": 0.1, "end_value": 0.01, "cycle_size": 9},
        epochs=2,
        dataset_size=14,
        batch_size=2,
        grad_accum=accum,
    )
    assert len(rows) == 4
    assert_rows(simulate(spec).lr, rows)
