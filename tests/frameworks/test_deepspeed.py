"""DeepSpeed: lrplot equals a real ``DeepSpeedEngine`` training on CPU, row by row.

The engine calls ``lr_scheduler.step()`` after every optimizer step (once per gradient-
accumulation window); the constructor already wrote the lr optimizer step 0 uses.
"""

from __future__ import annotations

import logging
import os

import pytest

from tests.frameworks.conftest import assert_rows, lrplot_rows, quiet, tiny

pytest.importorskip("deepspeed")

import torch

import lrplot
from lrplot.engine import simulate

DS = "deepspeed.runtime.lr_schedules"
CASES = {
    "WarmupLR": {
        "warmup_min_lr": 0.0,
        "warmup_max_lr": 0.1,
        "warmup_num_steps": 4,
        "warmup_type": "linear",
    },
    "WarmupDecayLR": {
        "total_num_steps": 10,
        "warmup_min_lr": 0.0,
        "warmup_max_lr": 0.1,
        "warmup_num_steps": 3,
        "warmup_type": "log",
    },
    "WarmupCosineLR": {
        "total_num_steps": 10,
        "warmup_min_ratio": 0.1,
        "warmup_num_steps": 3,
        "cos_min_ratio": 0.01,
        "warmup_type": "linear",
    },
    "OneCycle": {
        "cycle_min_lr": 0.01,
        "cycle_max_lr": 0.1,
        "cycle_first_step_size": 3,
        "decay_lr_rate": 0.5,
        "decay_step_size": 2,
        "cycle_momentum": False,
    },
    "LRRangeTest": {
        "lr_range_test_min_lr": 0.01,
        "lr_range_test_step_size": 2,
        "lr_range_test_step_rate": 1.0,
    },
}


@pytest.fixture(scope="module")
def distributed():
    """A one-process gloo group on CPU, as deepspeed.initialize needs."""
    import deepspeed

    for key, value in {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": "29533",
        "RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_RANK": "0",
    }.items():
        os.environ.setdefault(key, value)
    logging.getLogger("DeepSpeed").setLevel(logging.ERROR)
    with quiet():
        deepspeed.init_distributed(dist_backend="gloo", verbose=False)
    return deepspeed


def run_engine(deepspeed, name: str, steps: int, accumulation: int, kwargs: dict) -> list:
    """Train ``steps`` optimizer steps with the DeepSpeed engine and a client scheduler."""
    import deepspeed.runtime.lr_schedules as schedules

    model, optimizer, rows = tiny()
    model = model[0]
    scheduler = getattr(schedules, name)(optimizer, **kwargs)
    with quiet():
        engine, _, _, _ = deepspeed.initialize(
            model=model,
            optimizer=optimizer,
            lr_scheduler=scheduler,
            config={
                "train_micro_batch_size_per_gpu": 4,
                "gradient_accumulation_steps": accumulation,
                "train_batch_size": 4 * accumulation,
                "steps_per_print": 10**9,
            },
        )
        for _ in range(steps * accumulation):
            x = torch.randn(4, 4)
            loss = torch.nn.functional.mse_loss(engine(x), x.sum(1, keepdim=True))
            engine.backward(loss)
            engine.step()
    return rows


@pytest.mark.parametrize("name", list(CASES))
def test_scheduler_equals_the_deepspeed_engine(distributed, name):
    want = run_engine(distributed, name, 12, 2, CASES[name])
    assert len(want) == 12
    assert_rows(lrplot_rows(f"{DS}:{name}", CASES[name], epochs=12), want)
    assert_rows(lrplot_rows(f"{DS}:{name}", CASES[name], epochs=3, steps_per_epoch=4), want)


def test_horizon_is_total_num_steps():
    spec = lrplot.make_spec(
        f"{DS}:WarmupCosineLR", {"total_num_steps": 300, "warmup_num_steps": 30}
    )
    logging.getLogger("DeepSpeed").setLevel(logging.WARNING)  # as imported
    schedule = simulate(spec)
    assert (schedule.n, schedule.horizon, schedule.step_per) == (300, 300, "iter")
    assert any("before it has started" in n for n in schedule.notes)  # its log, as a note


def test_stdout_carries_only_the_csv(tmp_path):
    """DeepSpeed logs to stdout; with -o - the CSV must stay clean."""
    import subprocess
    import sys

    code = (
        "from lrplot.cli import main; main(['deepspeed.runtime.lr_schedules:WarmupDecayLR', "
        "'--total_num_steps', '20', '--warmup_num_steps', '5', '--warmup_max_lr', '0.1', "
        "'-o', '-'])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "step,epoch,lr" and len(lines) == 21, done.stdout[:500]


def test_momentum_cycled_with_adam():
    """OneCycle cycles Adam's beta1 as the engine would (cycle_momentum on)."""
    kwargs = {"cycle_min_lr": 0.01, "cycle_max_lr": 0.1, "cycle_first_step_size": 3}
    schedule = simulate(lrplot.make_spec(f"{DS}:OneCycle", kwargs, epochs=8, optimizer="adam"))
    assert schedule.momentum is not None and len(set(schedule.momentum[:, 0].tolist())) > 1
