"""mmengine: lrplot equals a real ``Runner`` training, row by row.

The runner's ``ParamSchedulerHook`` steps a ``by_epoch`` scheduler after every epoch and
the others after every iteration; the runner gives a scheduler without ``end`` the run's
length (``Runner._build_param_scheduler``).
"""

from __future__ import annotations

import logging
import tempfile
from typing import Any

import pytest

from tests.frameworks.conftest import assert_rows, lrplot_rows, quiet, recorded, tiny, train_step

pytest.importorskip("mmengine")

import torch
from mmengine.model import BaseModel
from mmengine.optim import scheduler as mm
from mmengine.runner import Runner

import lrplot
from lrplot.engine import simulate
from lrplot.plugins import scheduler_info

MM = "mmengine.optim.scheduler"
_RECORDS: list[list[list[float]]] = []


class RecordingSGD(torch.optim.SGD):
    """The runner builds its optimizer from a config: this one records its lr."""

    def __init__(self, params: Any, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        _RECORDS.append(recorded(self))


class _Tiny(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(4, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor, mode: str = "tensor") -> Any:
        out = self.lin(x)
        return {"loss": torch.nn.functional.mse_loss(out, y)} if mode == "loss" else out


def run_runner(scheduler: dict, epochs: int, batches: int) -> list[list[float]]:
    """Train ``epochs`` epochs of ``batches`` iterations with a real Runner."""
    g = torch.Generator().manual_seed(3)
    xs = torch.randn(batches * 2, 4, generator=g)
    data = [{"x": xs[i], "y": xs[i].sum().reshape(1)} for i in range(len(xs))]
    work = tempfile.mkdtemp(prefix="mm_")
    with quiet():
        runner = Runner(
            model=_Tiny(),
            work_dir=work,
            experiment_name=work.rsplit("/", 1)[-1],
            train_dataloader={
                "dataset": data,
                "sampler": {"type": "DefaultSampler", "shuffle": False},
                "batch_size": 2,
                "collate_fn": {"type": "default_collate"},
                "num_workers": 0,
            },
            optim_wrapper={"type": "OptimWrapper", "optimizer": {"type": RecordingSGD, "lr": 0.1}},
            param_scheduler=[scheduler],
            train_cfg={"by_epoch": True, "max_epochs": epochs},
            default_hooks={"checkpoint": None},
            log_level="ERROR",
        )
        runner.train()
    logging.getLogger("mmengine").handlers.clear()
    return _RECORDS[-1]


CASES = [
    ("CosineAnnealingLR", {"T_max": 5, "eta_min": 0.001}),
    ("CosineAnnealingLR", {"by_epoch": False, "eta_min": 0.001}),  # end = the run's iterations
    ("CosineAnnealingLR", {"by_epoch": False, "begin": 3, "end": 15, "T_max": 12}),
    ("LinearLR", {"start_factor": 0.1, "by_epoch": False, "end": 8}),
    ("MultiStepLR", {"milestones": [2, 4], "gamma": 0.5}),
    ("StepLR", {"step_size": 2, "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.8}),
    ("PolyLR", {"power": 2.0, "eta_min": 1e-4, "by_epoch": False}),
    ("OneCycleLR", {"eta_max": 0.2, "total_steps": 24, "by_epoch": False}),
]


@pytest.mark.parametrize(
    ("name", "kwargs"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_scheduler_equals_a_real_runner(name, kwargs):
    epochs, batches = 6, 4
    want = run_runner({"type": name, **kwargs}, epochs, batches)
    assert_rows(lrplot_rows(f"{MM}:{name}", kwargs, epochs=epochs, steps_per_epoch=batches), want)


def test_plateau_gets_the_validation_metric():
    """ParamSchedulerHook: step() after the epoch, then step(metrics) after validation."""
    metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 0.5]
    model, optimizer, rows = tiny()
    sched = mm.ReduceOnPlateauLR(optimizer, monitor="loss", factor=0.5, patience=1)
    for value in metrics:
        for _ in range(3):
            train_step(model, optimizer)  # after_train_iter: only iteration-based schedulers
        sched.step()  # after_train_epoch
        sched.step({"loss": value})  # after_val_epoch
    spec = lrplot.make_spec(
        f"{MM}:ReduceOnPlateauLR",
        {"monitor": "loss", "factor": 0.5, "patience": 1},
        epochs=len(metrics),
        steps_per_epoch=3,
        metric=metrics,
    )
    assert_rows(simulate(spec).lr, rows)
    assert min(r[0] for r in rows) < 0.1


def test_kwargs_resolved_through_the_mro():
    """LRSchedulerMixin takes *args, **kwargs: the kwargs are CosineAnnealingParamScheduler's."""
    info = scheduler_info(f"{MM}:CosineAnnealingLR")
    names = [k.name for k in info.kwargs]
    assert names == [
        "T_max",
        "eta_min",
        "begin",
        "end",
        "by_epoch",
        "eta_min_ratio",
        "convert_to_iter_based",
    ]
    assert "param_name" not in names  # the mixin passes 'lr' itself
    docs = dict(info.docs)
    assert docs["T_max"].startswith("Maximum number of iterations")
    assert info.traits.unit("end") == "epochs (iterations when by_epoch=false)"


def test_same_named_class_is_not_torchs():
    """mmengine's CosineAnnealingLR gets mmengine's traits, not torch's (matched by object)."""
    info = scheduler_info(f"{MM}:CosineAnnealingLR")
    assert info.traits.family == "mmengine"
    spec = lrplot.make_spec(f"{MM}:CosineAnnealingLR", {"T_max": 10}).resolved()
    assert (spec.epochs, spec.step_per, spec.kwargs["end"]) == (10, "epoch", 10)


def test_no_order_warning_note():
    schedule = simulate(lrplot.make_spec(f"{MM}:LinearLR", {"start_factor": 0.5, "end": 4}))
    assert not any("before" in note for note in schedule.notes), schedule.notes
