"""``lrplot from`` a timm args.yaml equals the loop timm's train.py runs, step by step.

train.py is not in the timm wheel; the loop below is its scheduler code (train.py at
pytorch-image-models aa4b5850): the train loader drops the last partial batch (and, with
several processes, a ``DistributedSampler`` gives each its share), ``updates_per_epoch =
ceil(len(loader) / grad_accum_steps)``, ``create_scheduler_v2(optimizer,
**scheduler_kwargs(args), updates_per_epoch=...)``, ``lr`` computed from ``lr_base`` when
it is null, then per batch backward, an optimizer update every ``grad_accum_steps``
batches or at the last batch, ``step_update(num_updates)``, and ``step(epoch + 1)`` after
each epoch. Real model, real loader, real ``optimizer.step()``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest

from tests.frameworks.conftest import assert_rows, plan_rows, quiet, recorded

pytest.importorskip("timm")

import torch
import yaml
from timm.scheduler import create_scheduler_v2, scheduler_kwargs
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from lrplot.configs import plan, plan_from_file
from lrplot.errors import UsageError

EXAMPLES = Path(__file__).resolve().parents[2] / "configs" / "frameworks"


def train_py(args_yaml: Path, samples: int, world: int = 1) -> list[float]:
    """Run train.py's scheduler calls around real updates, as process 0 of ``world``."""
    args = argparse.Namespace(**yaml.safe_load(args_yaml.read_text()))
    g = torch.Generator().manual_seed(1)
    xs = torch.randn(samples, 4, generator=g)
    dataset = TensorDataset(xs, xs.sum(1, keepdim=True))
    sampler = DistributedSampler(dataset, num_replicas=world, rank=0, shuffle=False)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler, drop_last=True)
    accum = args.grad_accum_steps
    if not args.lr:
        ratio = args.batch_size * world * accum / args.lr_base_size
        scale = args.lr_base_scale or (
            "sqrt" if any(o in args.opt.lower() for o in ("ada", "lamb")) else "linear"
        )
        args.lr = args.lr_base * (ratio**0.5 if scale == "sqrt" else ratio)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    rows = recorded(optimizer)
    updates_per_epoch = (len(loader) + accum - 1) // accum
    with quiet():
        scheduler, num_epochs = create_scheduler_v2(
            optimizer, **scheduler_kwargs(args), updates_per_epoch=updates_per_epoch
        )
    num_updates = 0
    for epoch in range(num_epochs):
        last = len(loader) - 1
        for i, (x, y) in enumerate(loader):
            loss = torch.nn.functional.mse_loss(model(x), y) / accum
            loss.backward()
            if (i + 1) % accum == 0 or i == last:
                optimizer.step()
                optimizer.zero_grad()
                num_updates += 1
                scheduler.step_update(num_updates=num_updates)
        scheduler.step(epoch + 1, None)
    return [r[0] for r in rows]


_ARGS = """\
sched: cosine
epochs: 6
warmup_epochs: 2
warmup_lr: 1.0e-04
min_lr: 1.0e-03
cooldown_epochs: 1
warmup_prefix: false
sched_on_updates: {on_updates}
lr: null
lr_base: 0.1
lr_base_size: 8
lr_base_scale: ''
opt: lamb
batch_size: 4
grad_accum_steps: 2
"""


@pytest.mark.parametrize(("on_updates", "world"), [(True, 1), (True, 2), (False, 1)])
def test_cosine_with_warmup_epochs_equals_train_py(tmp_path, on_updates, world):
    path = tmp_path / "args.yaml"
    path.write_text(_ARGS.format(on_updates=str(on_updates).lower()))
    used = train_py(path, 30, world)
    # 30 samples (15 a process with 2) in batches of 4, the last dropped: 7 (3) batches,
    # ceil(7/2) = 4 (2) updates per epoch; 6 + 1 cooldown = 7 epochs
    assert len(used) == 7 * (4 if world == 1 else 2)
    assert_rows(plan_rows(path, dataset_size=30, world_size=world), used)


def test_the_example_args_resolve_the_null_lr_as_train_py_does():
    found = plan(EXAMPLES / "timm_args.yaml", overrides={"dataset_size": 50000, "world_size": 4})
    # lamb: sqrt scaling; global batch 256 x 4 = 1024 -> 0.1 x sqrt(1024 / 256) = 0.2
    assert found.spec.lr == (pytest.approx(0.2),)
    assert any("sqrt of global batch 1024" in n for n in found.notes)
    assert math.isclose(found.spec.lr[0], 0.2)


def test_args_without_a_dataset_size_are_refused():
    with pytest.raises(UsageError, match="--dataset-size"):
        plan_from_file(EXAMPLES / "timm_args.yaml")
