"""timm: lrplot equals the loop of timm's train script, row by row.

train.py (pytorch-image-models) builds ``create_scheduler_v2(optimizer, ...,
updates_per_epoch=...)``, never calls ``step(0)`` (the constructor set the lr), and per
epoch runs: for each optimizer update ``num_updates += 1;
lr_scheduler.step_update(num_updates=num_updates, metric=loss_avg)``, then
``lr_scheduler.step(epoch + 1, eval_metric)``. The loop below is that loop, with a real
model and optimizer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from tests.frameworks.conftest import assert_rows, lrplot_rows, quiet, tiny, train_step

pytest.importorskip("timm")

import timm.scheduler as ts

import lrplot
from lrplot.engine import simulate
from lrplot.errors import UsageError
from lrplot.plugins import scheduler_info

TIMM = "timm.scheduler"


def train_script_loop(
    make: Callable[[Any], Any],
    epochs: int | None,
    updates_per_epoch: int,
    metrics: Sequence[float] | None = None,
) -> list[list[float]]:
    """Run timm train.py's scheduler calls around real optimizer updates."""
    model, optimizer, rows = tiny()
    with quiet():
        made = make(optimizer)
    scheduler, num_epochs = made if isinstance(made, tuple) else (made, epochs)
    assert num_epochs is not None
    num_updates = 0
    for epoch in range(num_epochs):
        losses = []
        for _ in range(updates_per_epoch):
            losses.append(train_step(model, optimizer))
            num_updates += 1
            scheduler.step_update(num_updates=num_updates, metric=sum(losses) / len(losses))
        metric = metrics[epoch] if metrics is not None else sum(losses) / len(losses)
        scheduler.step(epoch + 1, metric)
    return rows


CLASSES = [
    ("CosineLRScheduler", {"t_initial": 8, "warmup_t": 2, "warmup_lr_init": 0.01, "lr_min": 1e-3}),
    (
        "CosineLRScheduler",
        {
            "t_initial": 4,
            "cycle_limit": 3,
            "cycle_mul": 2.0,
            "cycle_decay": 0.5,
            "warmup_t": 1,
            "warmup_prefix": True,
        },
    ),
    ("CosineLRScheduler", {"t_initial": 30, "t_in_epochs": False, "warmup_t": 6, "k_decay": 2.0}),
    ("TanhLRScheduler", {"t_initial": 10, "warmup_t": 2, "warmup_lr_init": 1e-3}),
    ("PolyLRScheduler", {"t_initial": 10, "power": 2.0, "lr_min": 1e-4}),
    ("StepLRScheduler", {"decay_t": 3, "decay_rate": 0.5, "warmup_t": 1, "warmup_lr_init": 0.02}),
    ("MultiStepLRScheduler", {"decay_t": [3, 7], "decay_rate": 0.3}),
    ("WSDLRScheduler", {"t_initial": 10, "decay_t": 4, "warmup_t": 2}),
    ("CosineLRScheduler", {"t_initial": 10, "noise_range_t": [3, 8], "noise_pct": 0.5}),
]


@pytest.mark.parametrize(
    ("name", "kwargs"), CLASSES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CLASSES)]
)
def test_scheduler_classes_equal_the_train_script(name, kwargs):
    epochs, upe = 12, 3
    want = train_script_loop(lambda o: getattr(ts, name)(o, **kwargs), epochs, upe)
    got = lrplot_rows(f"{TIMM}:{name}", kwargs, epochs=epochs, steps_per_epoch=upe)
    assert_rows(got, want)


def test_plateau_gets_each_epochs_metric():
    metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 0.5, 0.6, 0.7]
    kwargs = {
        "decay_rate": 0.5,
        "patience_t": 1,
        "mode": "min",
        "warmup_t": 2,
        "warmup_lr_init": 0.01,
    }
    want = train_script_loop(lambda o: ts.PlateauLRScheduler(o, **kwargs), 8, 2, metrics)
    spec = lrplot.make_spec(
        f"{TIMM}:PlateauLRScheduler", kwargs, epochs=8, steps_per_epoch=2, metric=metrics
    )
    schedule = simulate(spec)
    assert_rows(schedule.lr, want)
    assert schedule.step_per == "epoch" and schedule.metric is not None


V2 = [
    {"sched": "cosine", "num_epochs": 4, "warmup_epochs": 1, "warmup_lr": 0.01, "min_lr": 1e-3},
    {
        "sched": "cosine",
        "num_epochs": 4,
        "warmup_epochs": 1,
        "cooldown_epochs": 1,
        "warmup_prefix": True,
        "step_on_epochs": False,
    },
    {"sched": "step", "num_epochs": 6, "decay_epochs": 2, "decay_rate": 0.5, "warmup_epochs": 1},
    {"sched": "multistep", "num_epochs": 6, "decay_milestones": [2, 4], "warmup_epochs": 1},
    {"sched": "tanh", "num_epochs": 5, "cooldown_epochs": 2},
    {"sched": "poly", "num_epochs": 5, "decay_rate": 2.0, "step_on_epochs": False},
    {"sched": "wsd", "num_epochs": 6, "decay_epochs": 2, "warmup_epochs": 1},
]


@pytest.mark.parametrize("kwargs", V2, ids=[f"{k['sched']}-{i}" for i, k in enumerate(V2)])
def test_create_scheduler_v2_runs_the_epochs_it_returns(kwargs):
    """The tuple is unwrapped; its num_epochs is the run length, as in train.py."""
    upe = 3
    want = train_script_loop(
        lambda o: ts.create_scheduler_v2(o, updates_per_epoch=upe, **kwargs), None, upe
    )
    spec = lrplot.make_spec(f"{TIMM}:create_scheduler_v2", kwargs, steps_per_epoch=upe)
    schedule = simulate(spec)
    assert_rows(schedule.lr, want)
    assert schedule.horizon == len(want)
    assert any("num_epochs" in note for note in schedule.notes)


def test_create_scheduler_v2_with_other_epochs_is_checked():
    from typer.testing import CliRunner

    from lrplot import cli

    args = ["check", f"{TIMM}:create_scheduler_v2", "--num_epochs", "10", "--cooldown_epochs", "2"]
    assert CliRunner().invoke(cli.app, args).exit_code == 0
    short = CliRunner().invoke(cli.app, [*args, "--epochs", "10"])
    assert short.exit_code == 1 and "ends at step 12" in " ".join(short.output.split())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"t_initial": 10},
        {"t_initial": 10, "warmup_t": 3, "warmup_prefix": True},
        {"t_initial": 4, "cycle_limit": 3},
        {"t_initial": 4, "cycle_limit": 3, "cycle_mul": 1.5, "warmup_t": 2, "warmup_prefix": True},
        {"t_initial": 50, "t_in_epochs": False, "warmup_t": 5},
    ],
)
@pytest.mark.parametrize("name", ["CosineLRScheduler", "TanhLRScheduler", "PolyLRScheduler"])
def test_length_trait_is_get_cycle_length(name, kwargs):
    """The run length lrplot derives equals the scheduler's own get_cycle_length()."""
    _, optimizer, _ = tiny()
    cycle = getattr(ts, name)(optimizer, **kwargs).get_cycle_length()
    spec = lrplot.make_spec(f"{TIMM}:{name}", kwargs, steps_per_epoch=4)
    resolved = spec.resolved()
    steps = resolved.epochs * (1 if resolved.step_per == "epoch" else 4)
    assert spec.horizon() == cycle
    assert steps - cycle < (1 if resolved.step_per == "epoch" else 4)
    assert simulate(spec).horizon == cycle * (4 if resolved.step_per == "epoch" else 1)


def test_t_in_epochs_decides_the_stepping():
    per_epoch = lrplot.make_spec(f"{TIMM}:CosineLRScheduler", {"t_initial": 5}).resolved()
    per_update = lrplot.make_spec(
        f"{TIMM}:CosineLRScheduler", {"t_initial": 50, "t_in_epochs": False}, steps_per_epoch=10
    ).resolved()
    assert (per_epoch.step_per, per_epoch.epochs) == ("epoch", 5)
    assert (per_update.step_per, per_update.epochs) == ("iter", 5)
    with pytest.raises(UsageError, match="t_in_epochs"):
        lrplot.make_spec(f"{TIMM}:CosineLRScheduler", {"t_initial": 5}, step_per="iter")


def test_help_describes_create_scheduler_v2_kwargs():
    from typer.testing import CliRunner

    from lrplot import cli

    result = CliRunner().invoke(
        cli.app, [f"{TIMM}:create_scheduler_v2", "--help"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "epochs of linear warmup" in result.output
    assert "Unit: epochs" in result.output
    assert "--updates_per_epoch" not in result.output  # --steps-per-epoch gives it
    info = scheduler_info(f"{TIMM}:create_scheduler_v2")
    assert info.summary == "Create a learning rate scheduler by name."
