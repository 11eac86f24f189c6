"""``lrplot from`` a Hugging Face TrainingArguments file equals a real ``Trainer``, step by step.

The Trainer runs in processes of its own (``hf_train.py``): two of them, a real
``torch.distributed`` group on CPU, for the world size; one with DeepSpeed. Each writes the
lr every optimizer step used; lrplot plans the same file with ``--dataset-size`` (and
``--world-size``), which no TrainingArguments file holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.frameworks.conftest import assert_rows, plan_rows, run_script

pytest.importorskip("transformers")

from lrplot.configs import plan, plan_from_file
from lrplot.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "configs" / "frameworks"


def _config(tmp_path: Path, **values: object) -> Path:
    path = tmp_path / "args.json"
    path.write_text(json.dumps(values))
    return path


def _trained(tmp_path: Path, config: Path, samples: int, processes: int = 1) -> dict:
    out = tmp_path / "used.json"
    run_script("hf_train.py", str(config), str(samples), str(out), processes=processes)
    return json.loads(out.read_text())


def test_warmup_ratio_accumulation_and_two_processes_equal_a_real_ddp_trainer(tmp_path):
    # 27 samples over 2 processes in batches of 2: ceil(27/4) = 7 batches each, 4 optimizer
    # steps per epoch with accumulation 2 (the short last window steps), 12 in 3 epochs;
    # warmup_steps=0.1 is a ratio: ceil(1.2) = 2 warmup steps.
    config = _config(
        tmp_path,
        learning_rate=0.1,
        lr_scheduler_type="cosine",
        warmup_steps=0.1,
        num_train_epochs=3,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
    )
    used = _trained(tmp_path, config, 27, processes=2)
    assert used["world"] == 2 and used["max_steps"] == 12
    assert_rows(plan_rows(config, dataset_size=27, world_size=2), used["lr"])
    found = plan(config, overrides={"dataset_size": 27, "world_size": 2})
    assert "warmup: 2 of 12 steps" in "\n".join(found.notes)


def test_the_example_config_equals_a_real_trainer(tmp_path):
    # cosine_with_min_lr with lr_scheduler_kwargs, warmup_steps=0.05, 2.5 epochs: the
    # run stops at max_steps = ceil(2.5 x steps per epoch), in the middle of epoch 3.
    values = json.loads((EXAMPLES / "hf_training_args.json").read_text())
    values.update(
        num_train_epochs=2.5, per_device_train_batch_size=4, gradient_accumulation_steps=3
    )
    values.pop("output_dir")
    config = _config(tmp_path, **values)
    used = _trained(tmp_path, config, 50)
    # ceil(50/4) = 13 batches, ceil(13/3) = 5 steps per epoch, ceil(2.5 x 5) = 13 steps
    assert used["max_steps"] == 13
    rows = plan_rows(config, dataset_size=50)
    assert_rows(rows, used["lr"])


def test_max_steps_needs_no_dataset_size(tmp_path):
    config = _config(tmp_path, lr_scheduler_type="linear", max_steps=40, warmup_steps=5)
    rows = plan_rows(config)
    assert rows.shape == (40, 1) and rows[0, 0] == 0.0 and rows[5, 0] == pytest.approx(5e-5)


def test_epochs_without_a_dataset_size_are_refused(tmp_path):
    config = _config(tmp_path, lr_scheduler_type="linear", num_train_epochs=3)
    with pytest.raises(UsageError, match="--dataset-size"):
        plan_from_file(config)


def test_a_transformers_4_warmup_ratio_is_read_as_the_installed_version_reads_it(tmp_path):
    config = _config(tmp_path, lr_scheduler_type="linear", max_steps=100, warmup_ratio=0.05)
    found = plan(config)
    assert found.spec.kwargs["num_warmup_steps"] == 5
    assert any("warmup_ratio=0.05 read as warmup_steps=0.05" in n for n in found.notes)
    both = _config(
        tmp_path, lr_scheduler_type="linear", max_steps=100, warmup_ratio=0.5, warmup_steps=3
    )
    found = plan(both)
    assert found.spec.kwargs["num_warmup_steps"] == 3
    assert any("wins over warmup_ratio" in n for n in found.notes)


def test_warmup_steps_of_one_point_zero_is_one_step_and_the_plan_says_so(tmp_path):
    config = tmp_path / "args.json"
    config.write_text('{"lr_scheduler_type": "linear", "max_steps": 100, "warmup_steps": 1.0}')
    found = plan(config)
    assert found.spec.kwargs["num_warmup_steps"] == 1
    assert any("warmup_steps=1.0 is one warmup step" in n for n in found.notes)


def test_transformers_refusals_are_one_line(tmp_path):
    config = _config(tmp_path, lr_scheduler_type="no-such-schedule", max_steps=10)
    with pytest.raises(UsageError, match="transformers rejected the TrainingArguments"):
        plan_from_file(config)


def test_an_output_that_is_the_config_is_refused(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from lrplot import cli

    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path, learning_rate=0.1, max_steps=6, lr_scheduler_type="cosine")
    text = config.read_text()
    result = CliRunner().invoke(cli.app, ["from", "args.json", "-o", "args.json"])
    assert result.exit_code == 2, result.output
    assert "it is the training config of this run" in result.output
    assert config.read_text() == text
