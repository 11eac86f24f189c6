"""``lrplot from`` an mmengine config equals a real ``Runner`` trained from that config.

The runner gets the config's ``param_scheduler``, ``train_cfg``, ``optim_wrapper`` and the
``train_dataloader``'s batch size, plus a tiny model and dataset; a hook records the lr of
every optimizer step. lrplot reads the same file (``.py`` with ``allow_import``).
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.frameworks.conftest import assert_rows, plan_rows, quiet

pytest.importorskip("mmengine")

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

from lrplot.configs import plan, plan_from_file
from lrplot.engine import simulate
from lrplot.errors import UsageError
from lrplot.pipeline import run

EXAMPLES = Path(__file__).resolve().parents[2] / "configs" / "frameworks"


class _Tiny(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(4, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor, mode: str = "tensor") -> Any:
        out = self.lin(x)
        return {"loss": torch.nn.functional.mse_loss(out, y)} if mode == "loss" else out


class _Record(Hook):
    """Record the lr each optimizer step uses (a pre-hook on the runner's optimizer)."""

    def __init__(self) -> None:
        self.rows: list[float] = []

    def before_train(self, runner: Runner) -> None:
        runner.optim_wrapper.optimizer.register_step_pre_hook(
            lambda opt, args, kwargs: self.rows.append(float(opt.param_groups[0]["lr"]))
        )


def train_from_config(path: Path, samples: int) -> list[float]:
    """Train a Runner built from a config file's schedule, optimizer, loop and batch size."""
    cfg = Config.fromfile(str(path))
    g = torch.Generator().manual_seed(3)
    xs = torch.randn(samples, 4, generator=g)
    data = [{"x": xs[i], "y": xs[i].sum().reshape(1)} for i in range(samples)]
    record = _Record()
    work = tempfile.mkdtemp(prefix="mm_")
    with quiet():
        runner = Runner(
            model=_Tiny(),
            work_dir=work,
            experiment_name=work.rsplit("/", 1)[-1],
            train_dataloader={
                "dataset": data,
                "sampler": {"type": "DefaultSampler", "shuffle": False},
                "batch_size": cfg.train_dataloader.batch_size,
                "collate_fn": {"type": "default_collate"},
                "num_workers": 0,
            },
            optim_wrapper=cfg.optim_wrapper.to_dict(),
            param_scheduler=[dict(s) for s in cfg.param_scheduler],
            train_cfg=cfg.train_cfg.to_dict(),
            default_hooks={"checkpoint": None},
            custom_hooks=[record],
            log_level="ERROR",
        )
        runner.train()
    logging.getLogger("mmengine").handlers.clear()
    return record.rows


_CONFIG = """\
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=4)
train_dataloader = dict(batch_size=2)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9),
                     accumulative_counts={accum})
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
    dict(type='CosineAnnealingLR', T_max=3, eta_min=0.001, by_epoch=True, begin=1, end=4),
]
"""


@pytest.mark.parametrize(("samples", "accum"), [(14, 1), (16, 2)])
def test_iteration_warmup_then_epoch_cosine_equals_a_real_runner(tmp_path, samples, accum):
    path = tmp_path / "schedule.py"
    path.write_text(_CONFIG.format(accum=accum))
    used = train_from_config(path, samples)
    assert len(used) == 4 * (samples // 2) // accum
    assert_rows(plan_rows(path, dataset_size=samples), used)


def test_the_rtmdet_example_with_convert_to_iter_based_equals_a_real_runner():
    # batch 32, 96 samples: 3 iterations per epoch, 300 in 100 epochs; the warmup's 1000
    # iterations outlast the run's first half, and the cosine is converted to iterations.
    path = EXAMPLES / "mmengine_rtmdet.py"
    used = train_from_config(path, 96)
    assert len(used) == 300
    assert_rows(plan_rows(path, dataset_size=96), used)


def test_the_yaml_example_equals_a_real_runner():
    path = EXAMPLES / "mmengine_schedule.yaml"
    used = train_from_config(path, 64)  # 4 iterations per epoch, 24 epochs
    assert_rows(plan_rows(path, dataset_size=64), used)


def test_a_python_config_needs_consent():
    with pytest.raises(UsageError, match="--allow-import"):
        plan_from_file(EXAMPLES / "mmengine_rtmdet.py", overrides={"dataset_size": 96})


def test_an_epoch_scheduler_under_an_iteration_loop_never_steps(tmp_path):
    path = tmp_path / "iters.yaml"
    path.write_text(
        "train_cfg: {by_epoch: false, max_iters: 40}\n"
        "optim_wrapper: {optimizer: {type: SGD, lr: 0.1}}\n"
        "param_scheduler:\n  - {type: MultiStepLR, milestones: [10, 20], gamma: 0.1}\n"
    )
    request = plan_from_file(path)
    schedule = simulate(request.specs[0])
    assert (schedule.lr == 0.1).all()
    codes = [d.code for d in run(request, write=False).diagnostics]
    assert "epoch-scheduler-never-steps" in codes


def test_an_unknown_scheduler_type_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "train_cfg: {by_epoch: true, max_epochs: 2}\nparam_scheduler: [{type: NoSuchLR}]\n"
    )
    with pytest.raises(UsageError, match="NoSuchLR"):
        plan(path, overrides={"steps_per_epoch": 3})


def test_a_scoped_type_imports_its_package_only_with_consent(tmp_path, monkeypatch):
    """mmengine's registry imports ``{scope}.registry`` for ``type: scope.Name``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "mm_canary").mkdir()
    (tmp_path / "mm_canary" / "__init__.py").write_text(
        "from pathlib import Path\nPath('imported').write_text('yes')\n"
    )
    config = tmp_path / "mm.yaml"
    config.write_text(
        "param_scheduler: [{type: mm_canary.CosineAnnealingLR, T_max: 10}]\n"
        "train_cfg: {by_epoch: true, max_epochs: 3}\n"
    )
    with pytest.raises(UsageError, match="--allow-import"):
        plan_from_file(config, overrides={"steps_per_epoch": 2})
    assert not (tmp_path / "imported").exists()
    try:
        with pytest.raises(UsageError, match="PARAM_SCHEDULERS"):  # consent: mmengine looks
            plan_from_file(config, allow_import=True, overrides={"steps_per_epoch": 2})
    finally:
        sys.modules.pop("mm_canary", None)
    assert (tmp_path / "imported").exists()
