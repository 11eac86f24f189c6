"""Objects that are not schedulers get one clear refusal with the reason, never a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lrplot import cli

pytest.importorskip("transformers")

runner = CliRunner()


@pytest.mark.parametrize(
    ("target", "args", "words"),
    [
        ("schedulefree:SGDScheduleFree", [], "change the lr inside optimizer.step()"),
        ("schedulefree:AdamWScheduleFree", ["--warmup_steps", "5"], "optimizer.step()"),
        ("pytorch_warmup:LinearWarmup", ["--warmup_period", "5"], "dampeners"),
        ("pytorch_warmup:UntunedLinearWarmup", [], "dampeners"),
        ("transformers.optimization:AdafactorSchedule", [], "proxy"),
        ("transformers.optimization:get_adafactor_schedule", [], "proxy"),
    ],
)
def test_not_a_scheduler(target, args, words):
    pytest.importorskip(target.partition(":")[0])
    result = runner.invoke(cli.app, [target, *args])
    assert result.exit_code == 2, result.output
    assert "lrplot cannot show" in result.output and words in result.output
    assert "Traceback" not in result.output


def test_create_scheduler_v2_none_is_refused():
    pytest.importorskip("timm")
    result = runner.invoke(cli.app, ["timm.scheduler:create_scheduler_v2", "--sched", "none"])
    assert result.exit_code == 2, result.output
    assert "did not return an LR scheduler" in result.output and "NoneType" in result.output


def test_framework_step_rule_is_explained():
    pytest.importorskip("deepspeed")
    result = runner.invoke(
        cli.app,
        ["deepspeed.runtime.lr_schedules:WarmupLR", "--step-per", "epoch"],
    )
    assert result.exit_code == 2, result.output
    assert "DeepSpeed engine steps it after every optimizer step" in result.output


def test_warmup_option_refused_for_other_frameworks():
    pytest.importorskip("timm")
    result = runner.invoke(
        cli.app, ["timm.scheduler:CosineLRScheduler", "--t_initial", "10", "--warmup", "3"]
    )
    assert result.exit_code == 2, result.output
    assert "timm scheduler" in result.output and "own warmup kwargs" in result.output
