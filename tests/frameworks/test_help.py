"""Every framework scheduler: ``--help`` describes its kwargs, and the summary is a sentence."""

from __future__ import annotations

import importlib.util

import pytest
from typer.testing import CliRunner

from lrplot import cli
from lrplot.plugins import scheduler_info

TARGETS = [
    "transformers:get_scheduler",
    "transformers.optimization:get_cosine_schedule_with_warmup",
    "transformers.optimization:get_wsd_schedule",
    "timm.scheduler:create_scheduler_v2",
    "ignite.handlers:CosineAnnealingScheduler",
    "ignite.handlers:LinearCyclicalScheduler",
    "ignite.handlers:create_lr_scheduler_with_warmup",
    "mmengine.optim.scheduler:CosineAnnealingLR",
    "mmengine.optim.scheduler:OneCycleLR",
    "deepspeed.runtime.lr_schedules:WarmupCosineLR",
    "deepspeed.runtime.lr_schedules:WarmupDecayLR",
]


def _installed(target: str) -> bool:
    return importlib.util.find_spec(target.partition(":")[0].split(".")[0]) is not None


@pytest.mark.parametrize("target", TARGETS)
def test_every_kwarg_is_described(target):
    if not _installed(target):
        pytest.skip(f"{target.partition(':')[0]} is not installed")
    info = scheduler_info(target)
    docs = dict(info.docs)
    undocumented = [k.name for k in info.cli_kwargs if not docs.get(k.name)]
    assert not undocumented, undocumented
    assert info.summary.endswith(".") and "\n" not in info.summary
    result = CliRunner().invoke(cli.app, [target, "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for kw in info.cli_kwargs:
        assert docs[kw.name].split()[0] in result.output, kw.name


def test_units_of_horizon_kwargs():
    pytest.importorskip("transformers")
    result = CliRunner().invoke(
        cli.app,
        ["transformers.optimization:get_cosine_schedule_with_warmup", "--help"],
        env={"COLUMNS": "250"},
    )
    assert "The total number of training steps. Unit: optimizer steps." in result.output
