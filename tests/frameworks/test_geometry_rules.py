"""``lrplot.geometry``'s rules equal each framework's own count of batches and optimizer steps.

World sizes above 1 are reproduced for process 0 with the framework's own per-process data
code (accelerate's ``prepare_data_loader`` for HF, Lightning's distributed sampler
injection, mmengine's ``DefaultSampler``, torch's ``DistributedSampler`` as timm's
``create_loader`` uses it), and the optimizer steps with the trainers' own counting
(``Trainer.set_initial_training_values``, ``estimated_stepping_batches``,
``OptimWrapper.should_update``).
"""

from __future__ import annotations

import itertools
import logging
import math
import tempfile

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from lrplot.geometry import Geometry, count
from tests.frameworks.conftest import quiet

GRID = list(itertools.product((7, 13, 33), (2, 4), (1, 3), (1, 2, 3), (False, True)))


def _data(n: int) -> TensorDataset:
    return TensorDataset(torch.randn(n, 4), torch.randn(n, 1))


def _counts(trainer: str, n: int, b: int, a: int, w: int, drop: bool) -> tuple[int, int] | None:
    try:
        counted = count(trainer, Geometry(n, b, a, w, drop))
    except Exception:
        return None
    return counted.batches, counted.steps


def test_hf_trainer():
    pytest.importorskip("transformers")
    from accelerate.data_loader import prepare_data_loader
    from transformers import Trainer, TrainingArguments

    class _M(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(4, 1)

        def forward(self, x, labels=None):  # type: ignore[no-untyped-def]
            return {"loss": ((self.lin(x) - labels) ** 2).mean()}

    out = tempfile.mkdtemp(prefix="hf_")
    rows = [{"x": torch.randn(4), "labels": torch.randn(1)} for _ in range(40)]
    for n, b, a, w, drop in GRID:
        with quiet():
            args = TrainingArguments(
                output_dir=out,
                per_device_train_batch_size=b,
                gradient_accumulation_steps=a,
                dataloader_drop_last=drop,
                use_cpu=True,
                report_to="none",
                num_train_epochs=1,
            )
            trainer = Trainer(model=_M(), args=args, train_dataset=rows[:n])
        loader = DataLoader(rows[:n], batch_size=b, drop_last=drop)
        shard = prepare_data_loader(loader, num_processes=w, process_index=0, put_on_device=False)
        want = _counts("hf", n, b, a, w, drop)
        if len(shard) == 0:  # the Trainer refuses an epoch without a batch; so does lrplot
            assert want is None
            continue
        steps = trainer.set_initial_training_values(args, shard)[1]
        assert want == (len(shard), steps), (n, b, a, w, drop)


def test_lightning():
    pytest.importorskip("lightning")
    import lightning.pytorch as pl
    from lightning.pytorch.trainer.connectors.data_connector import _get_distributed_sampler
    from lightning.pytorch.utilities.data import _update_dataloader

    for n, b, a, w, drop in GRID:
        loader = DataLoader(_data(n), batch_size=b, drop_last=drop, shuffle=False)
        if w > 1:
            sampler = _get_distributed_sampler(
                loader, shuffle=False, overfit_batches=0, num_replicas=w, rank=0
            )
            loader = _update_dataloader(loader, sampler)
        want = _counts("lightning", n, b, a, w, drop)
        if want is None:  # an epoch without a batch: refused
            assert len(loader) == 0
            continue
        assert want[0] == len(loader), (n, b, w, drop)

    class _M(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(4, 1)
            self.steps = 0

        def training_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
            return ((self.lin(batch[0]) - batch[1]) ** 2).mean()

        def on_before_optimizer_step(self, optimizer):  # type: ignore[no-untyped-def]
            self.steps += 1

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return torch.optim.SGD(self.parameters(), lr=0.1)

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    for n, b, a, drop in [(13, 2, 2, False), (13, 2, 3, True), (33, 4, 3, False)]:
        model = _M()
        with quiet():
            trainer = pl.Trainer(
                max_epochs=2,
                accumulate_grad_batches=a,
                accelerator="cpu",
                devices=1,
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                default_root_dir=tempfile.mkdtemp(prefix="pl_"),
            )
            trainer.fit(model, DataLoader(_data(n), batch_size=b, drop_last=drop))
        want = _counts("lightning", n, b, a, 1, drop)
        assert want is not None
        assert (trainer.num_training_batches, model.steps) == (want[0], 2 * want[1])
        assert trainer.estimated_stepping_batches == 2 * want[1]


def test_mmengine():
    pytest.importorskip("mmengine")
    from mmengine.dataset import DefaultSampler
    from mmengine.optim import OptimWrapper

    for n, b, a, w, drop in GRID:
        sampler = DefaultSampler(list(range(n)), shuffle=False)
        sampler.world_size, sampler.rank = w, 0  # what init_dist gives process 0
        sampler.num_samples = math.ceil(n / w)  # DefaultSampler.__init__, round_up=True
        sampler.total_size = sampler.num_samples * w
        iters = len(DataLoader(list(range(n)), batch_size=b, sampler=sampler, drop_last=drop))
        want = _counts("mmengine", n, b, a, w, drop)
        if want is None:  # no iteration, or accumulation windows across epochs: refused
            assert iters == 0 or iters % a != 0
            continue
        wrapper = OptimWrapper(
            torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1), accumulative_counts=a
        )
        wrapper.initialize_count_status(torch.nn.Linear(1, 1), 0, 2 * iters)
        steps = 0
        for _ in range(iters):  # the first epoch's iterations
            wrapper._inner_count += 1
            steps += wrapper.should_update()
        assert want == (iters, steps), (n, b, a, w, drop)


@pytest.mark.parametrize("trainer", ["timm", "torch"])
def test_timm_and_a_plain_loop(trainer):
    for n, b, a, w, drop in GRID:
        dataset = _data(n)
        drops = True if trainer == "timm" else drop  # timm's train loader: drop_last=True
        sampler = DistributedSampler(dataset, num_replicas=w, rank=0, shuffle=False)
        loader = DataLoader(dataset, batch_size=b, sampler=sampler, drop_last=drops)
        want = _counts(trainer, n, b, a, w, drop)
        if trainer == "timm":
            steps = (len(loader) + a - 1) // a  # train.py: updates_per_epoch
        else:
            steps = sum(1 for i, _ in enumerate(loader) if (i + 1) % a == 0)
        if steps == 0:
            assert want is None
            continue
        assert want == (len(loader), steps), (n, b, a, w, drop)
