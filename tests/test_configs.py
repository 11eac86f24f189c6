"""Tests for ``lrplot.configs`` and ``lrplot from`` that need no framework but torch.

Each framework's reader is compared with that framework's real trainer in
tests/frameworks/test_from_*.py; here: telling configs apart, reading errors, consent,
LightningCLI configs (torch's schedulers), and the messages when a framework is missing.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrplot import cli
from lrplot.configs import detect, plan, plan_from_file
from lrplot.configs.common import read_data
from lrplot.errors import ConfigError, LrplotError, UsageError
from lrplot.pipeline import run

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "configs" / "frameworks"
runner = CliRunner()


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("hf_training_args.json", "hf"),
        ("hf_deepspeed_args.json", "hf"),
        ("ds_config.json", "deepspeed"),
        ("lightning_cli.yaml", "lightning"),
        ("lightning_step.yaml", "lightning"),
        ("mmengine_schedule.yaml", "mmengine"),
        ("mmengine_rtmdet.py", "mmengine"),
        ("timm_args.yaml", "timm"),
    ],
)
def test_each_example_is_told_apart(name, kind):
    path = EXAMPLES / name
    data = None if path.suffix == ".py" else read_data(path)
    assert detect(path, data) == kind


def test_a_file_of_no_known_kind_is_refused(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("foo: 1\n")
    with pytest.raises(UsageError, match="cannot tell which framework"):
        plan_from_file(path)
    path.write_text("- 1\n- 2\n")
    with pytest.raises(UsageError, match="is a mapping of keys"):
        plan_from_file(path)


def test_syntax_errors_name_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"learning_rate": 0.1,\n "x": }\n')
    with pytest.raises(ConfigError, match=r"bad.json:2:7: JSON syntax error"):
        plan_from_file(path)
    yaml = tmp_path / "bad.yaml"
    yaml.write_text("trainer:\n  max_epochs: [1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+:\d+: YAML error"):
        plan_from_file(yaml)
    tagged = tmp_path / "tag.yaml"
    tagged.write_text("trainer: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="YAML error"):
        plan_from_file(tagged)


def test_python_configs_and_base_files_need_consent(tmp_path):
    with pytest.raises(UsageError, match="--allow-import"):
        plan_from_file(EXAMPLES / "mmengine_rtmdet.py")
    base = tmp_path / "child.yaml"
    base.write_text("_base_: [parent.py]\nparam_scheduler: []\n")
    with pytest.raises(UsageError, match="_base_"):
        plan_from_file(base)


def test_lightning_cli_config_plans_torchs_scheduler():
    found = plan(EXAMPLES / "lightning_cli.yaml", overrides={"dataset_size": 50000})
    spec = found.spec
    assert (spec.scheduler, spec.kwargs) == ("cosine", {"T_max": 30, "eta_min": 0.001})
    assert (spec.epochs, spec.steps_per_epoch, spec.world_size, spec.grad_accum) == (30, 196, 2, 2)
    assert spec.lr == (0.1,) and spec.step_per == "epoch"
    text = "\n".join(found.notes)
    assert "batch size 64 from data.init_args.batch_size" in text
    assert "same as: lrplot cosine --T_max 30 --eta_min 0.001 --epochs 30" in text
    result = run(
        plan_from_file(EXAMPLES / "lightning_cli.yaml", overrides={"dataset_size": 50000}),
        write=False,
    )
    assert result.flat[0].n == 30 * 196


def test_lightning_cli_class_outside_torch_needs_consent(tmp_path):
    path = tmp_path / "pl.yaml"
    path.write_text(
        "trainer: {max_epochs: 5}\n"
        "lr_scheduler: {class_path: tests.plugins_fixture.Stepper, init_args: {}}\n"
    )
    with pytest.raises(UsageError, match="--allow-import"):
        plan_from_file(path)
    assert plan(path, allow_import=True).spec.scheduler == "tests.plugins_fixture:Stepper"


def test_lightning_per_step_needs_the_batches(tmp_path):
    with pytest.raises(UsageError, match="--dataset-size"):
        plan_from_file(EXAMPLES / "lightning_step.yaml", overrides={"step_per": "iter"})


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("hf_training_args.json", "transformers"),
        ("ds_config.json", "deepspeed"),
        ("mmengine_schedule.yaml", "mmengine"),
        ("timm_args.yaml", "timm"),
    ],
)
def test_a_missing_framework_says_what_to_install(name, package):
    if importlib.util.find_spec(package) is not None:
        pytest.skip(f"{package} is installed here")
    with pytest.raises(LrplotError, match="not installed") as caught:
        plan_from_file(EXAMPLES / name, overrides={"dataset_size": 1000}, allow_import=True)
    assert caught.value.exit_code == 1 and caught.value.hint == f"pip install {package}"
    result = runner.invoke(cli.app, ["from", str(EXAMPLES / name), "--dataset-size", "1000"])
    assert result.exit_code == 1 and f"pip install {package}" in result.output


def test_from_command_prints_the_resolved_numbers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["from", str(EXAMPLES / "lightning_cli.yaml"), "--dataset-size", "50000"]
    result = runner.invoke(cli.app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "196 optimizer steps per epoch: per-rank samples ceil(50000/2) = 25000" in result.output
    assert "same as: lrplot cosine" in result.output
    assert (tmp_path / "lightning_cli.png").exists()


def test_from_title_carries_the_options_that_changed_the_plan(tmp_path):
    out = tmp_path / "l.svg"
    args = ["from", str(EXAMPLES / "lightning_step.yaml"), "--step-per", "iter", "--dataset-size",
            "2048", "--frequency", "3", "--drop-last", "-o", str(out)]  # fmt: skip
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    texts = " ".join(re.findall(r"<!-- (.*?) -->", out.read_text())).replace("- -", "--")
    assert (
        "lrplot from lightning_step.yaml --step-per iter --dataset-size 2048 --drop-last "
        "--frequency 3 (LightningCLI config)"
    ) in texts


def test_from_check_exits_1_on_warnings(tmp_path):
    path = tmp_path / "pl.yaml"
    path.write_text(
        "trainer: {max_epochs: 10}\n"
        "lr_scheduler: {class_path: torch.optim.lr_scheduler.CosineAnnealingLR, "
        "init_args: {T_max: 13}}\n"
    )
    bad = runner.invoke(cli.app, ["from", str(path), "--check"])
    assert bad.exit_code == 1 and "decay is 77% done" in bad.output, bad.output
    path.write_text(path.read_text().replace("13", "10"))
    good = runner.invoke(cli.app, ["from", str(path), "--check"])
    assert good.exit_code == 0 and "no problems" in good.output, good.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["from", "no-such-file.json"], 2, "cannot read the config"),
        (["from", "EXAMPLE", "--kind", "keras"], 2, "--kind must be one of"),
        (
            ["from", "EXAMPLE", "--dataset-size", "10", "--batch-size", "64", "--drop-last"],
            2,
            "no optimizer step per epoch",
        ),
    ],
)
def test_from_command_errors_are_one_line(args, code, message):
    words = [str(EXAMPLES / "lightning_cli.yaml") if w == "EXAMPLE" else w for w in args]
    result = runner.invoke(cli.app, words)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output


def test_json_overrides_are_typed(tmp_path):
    path = tmp_path / "pl.json"
    path.write_text(
        json.dumps(
            {
                "trainer": {"max_epochs": 4, "accumulate_grad_batches": 2},
                "lr_scheduler": {
                    "class_path": "torch.optim.lr_scheduler.StepLR",
                    "init_args": {"step_size": 1},
                },
            }
        )
    )
    found = plan(
        path,
        overrides={"dataset_size": "14", "batch_size": "2", "step_per": "iter", "frequency": "2"},
    )
    assert (found.spec.steps_per_epoch, found.spec.frequency) == (4, 2)


_LIGHTNING_PLAN = """\
trainer: {max_epochs: 2}
data: {batch_size: 2}
optimizer: {class_path: torch.optim.SGD, init_args: {lr: 0.1}}
lr_scheduler:
  class_path: torch.optim.lr_scheduler.CosineAnnealingLR
  init_args: {T_max: 16}
"""


@pytest.mark.parametrize(("case", "code", "words"), [("ok", 0, "agree"), ("bug_epoch", 1, "epoch")])
def test_verify_takes_a_training_config_as_the_plan(tmp_path, case, code, words):
    """The Lightning run of tests/data/logs (16 samples in batches of 2, cosine over its 16
    steps, interval step) against the plan its config makes, with --step-per iter for its
    configure_optimizers."""
    config = tmp_path / "plan.yaml"
    config.write_text(_LIGHTNING_PLAN)
    log = ROOT / "tests" / "data" / "logs" / "lightning" / case / "metrics.csv"
    args = ["verify", str(config), "--log", str(log), "--dataset-size", "16", "--step-per", "iter"]
    result = runner.invoke(cli.app, args, env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    assert words in result.output.lower()
