"""``lrplot from`` a LightningCLI config equals Lightning's own loop, step by step.

One run is a real ``LightningCLI`` fit from the config file: LightningCLI builds the
optimizer and scheduler from ``class_path``/``init_args`` and steps the scheduler per
epoch. The other is a ``LightningModule`` whose own ``configure_optimizers`` returns
``interval: step, frequency: 2``, trained with gradient accumulation: lrplot is told so with
``--step-per iter --frequency 2`` and applies Lightning's counter (the batch index within
the epoch; with accumulation only batches that end a window step the scheduler).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pytest

from tests.frameworks.conftest import assert_rows, plan_rows, quiet

pytest.importorskip("lightning")
pytest.importorskip("jsonargparse")

import lightning.pytorch as pl
import torch
from lightning.pytorch.cli import LightningCLI
from torch.utils.data import DataLoader, TensorDataset

from lrplot.configs import plan


class Model(pl.LightningModule):
    """A linear model that records the lr of every optimizer step."""

    def __init__(self, own_optimizers: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(4, 1)
        self.own = own_optimizers
        self.rows: list[float] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.lin(x), y)

    def on_before_optimizer_step(self, optimizer):
        self.rows.append(float(optimizer.param_groups[0]["lr"]))

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.8)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 2},
        }


class Data(pl.LightningDataModule):
    """``samples`` random samples in batches of ``batch_size``."""

    def __init__(self, samples: int = 14, batch_size: int = 2) -> None:
        super().__init__()
        self.samples, self.batch_size = samples, batch_size

    def train_dataloader(self):
        g = torch.Generator().manual_seed(5)
        xs = torch.randn(self.samples, 4, generator=g)
        return DataLoader(TensorDataset(xs, xs.sum(1, keepdim=True)), batch_size=self.batch_size)


_TRAINER = """\
trainer:
  max_epochs: 4
  accumulate_grad_batches: 2
  accelerator: cpu
  devices: 1
  logger: false
  enable_checkpointing: false
  enable_progress_bar: false
  enable_model_summary: false
  default_root_dir: {root}
data:
  samples: 15
  batch_size: 2
optimizer:
  class_path: torch.optim.SGD
  init_args: {{lr: 0.1, momentum: 0.9}}
lr_scheduler:
  class_path: torch.optim.lr_scheduler.{scheduler}
  init_args: {init_args}
"""


def _config(tmp_path: Path, scheduler: str, init_args: str) -> Path:
    path = tmp_path / "config.yaml"
    root = tempfile.mkdtemp(prefix="pl_")
    path.write_text(_TRAINER.format(root=root, scheduler=scheduler, init_args=init_args))
    return path


@pytest.mark.parametrize(
    ("scheduler", "init_args"),
    [
        ("StepLR", "{step_size: 2, gamma: 0.5}"),
        ("CosineAnnealingLR", "{T_max: 4, eta_min: 0.01}"),
    ],
)
def test_lightning_cli_fit_equals_the_plan(tmp_path, scheduler, init_args):
    config = _config(tmp_path, scheduler, init_args)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with quiet():
        cli = LightningCLI(Model, Data, args=["fit", "--config", str(config)], run=True)
    # 15 samples, batches of 2: 8 batches, 4 optimizer steps per epoch (accumulation 2)
    assert len(cli.model.rows) == 16
    assert_rows(plan_rows(config, dataset_size=15), cli.model.rows)


def test_interval_step_frequency_two_with_accumulation_equals_lightning(tmp_path):
    # 14 samples, batches of 2: 7 batches, the optimizer steps at batches 1, 3, 5, 6; the
    # scheduler only where (batch + 1) % 2 == 0: 3 of the 4 steps per epoch.
    model = Model(own_optimizers=True)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with quiet():
        trainer = pl.Trainer(
            max_epochs=3,
            accumulate_grad_batches=2,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=tempfile.mkdtemp(prefix="pl_"),
        )
        trainer.fit(model, Data(samples=14, batch_size=2))
    config = _config(tmp_path, "StepLR", "{step_size: 1, gamma: 0.8}")
    rows = plan_rows(config, dataset_size=14, step_per="iter", frequency=2, epochs=3)
    assert len(model.rows) == 12
    assert_rows(rows, model.rows)
    assert rows[4, 0] == rows[3, 0]  # the epoch's last batch (7) does not step it


def test_the_example_config_counts_devices_and_accumulation():
    example = Path(__file__).resolve().parents[2] / "configs" / "frameworks" / "lightning_cli.yaml"
    found = plan(example, overrides={"dataset_size": 50000})
    counted = found.spec.counted()
    assert counted is not None and (counted.batches, counted.steps) == (391, 196)
    assert found.spec.step_per == "epoch" and found.spec.epochs == 30
