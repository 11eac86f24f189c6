"""Lightning: a torch scheduler returned by ``configure_optimizers`` is stepped as lrplot does.

Lightning has no schedulers of its own: with ``interval="step"`` it calls
``scheduler.step()`` after every optimizer step, with ``"epoch"`` after every epoch
(``frequency=1``, no gradient accumulation): lrplot's ``--step-per iter`` / ``epoch``.
"""

from __future__ import annotations

import logging
import tempfile

import pytest

from tests.frameworks.conftest import assert_rows, quiet, recorded

pytest.importorskip("lightning")

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

import lrplot


class _Module(pl.LightningModule):
    def __init__(self, scheduler: str, kwargs: dict, interval: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(4, 1)
        self.scheduler, self.kwargs, self.interval = scheduler, kwargs, interval
        self.rows: list[list[float]] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.lin(x), y)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        self.rows = recorded(optimizer)
        cls = getattr(torch.optim.lr_scheduler, self.scheduler)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": cls(optimizer, **self.kwargs), "interval": self.interval},
        }


@pytest.mark.parametrize(
    ("scheduler", "alias", "kwargs", "interval"),
    [
        ("StepLR", "step", {"step_size": 2, "gamma": 0.5}, "epoch"),
        ("CosineAnnealingLR", "cosine", {"T_max": 15}, "step"),
        ("OneCycleLR", "onecycle", {"max_lr": 0.5, "total_steps": 15}, "step"),
    ],
)
def test_torch_scheduler_equals_a_real_lightning_trainer(scheduler, alias, kwargs, interval):
    epochs, batches = 5, 3
    g = torch.Generator().manual_seed(5)
    xs = torch.randn(batches * 2, 4, generator=g)
    loader = DataLoader(TensorDataset(xs, xs.sum(1, keepdim=True)), batch_size=2)
    module = _Module(scheduler, kwargs, interval)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with quiet():
        trainer = pl.Trainer(
            max_epochs=epochs,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=tempfile.mkdtemp(prefix="pl_"),
        )
        trainer.fit(module, loader)
    spec = lrplot.make_spec(
        alias,
        kwargs,
        epochs=epochs,
        steps_per_epoch=batches,
        step_per="iter" if interval == "step" else "epoch",
    )
    assert_rows(lrplot.simulate(spec).lr, module.rows)
