"""``lrplot from`` a DeepSpeed config with "auto" values equals HF's Trainer running DeepSpeed.

HF's Trainer fills the ``"auto"`` values of the ``scheduler`` section from the
TrainingArguments and DeepSpeed builds and steps the scheduler (``hf_train.py`` runs the
real thing, in a process of its own: DeepSpeed sets up a process group). lrplot fills the
same values with the installed transformers' own code and builds DeepSpeed's class.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.frameworks.conftest import assert_rows, plan_rows, run_script

pytest.importorskip("deepspeed")
pytest.importorskip("transformers")

from lrplot.configs import plan, plan_from_file
from lrplot.errors import UsageError

EXAMPLES = Path(__file__).resolve().parents[2] / "configs" / "frameworks"


def _args(tmp_path: Path, ds: dict | None = None, **values: object) -> Path:
    if ds is None:
        shutil.copy(EXAMPLES / "ds_config.json", tmp_path / "ds_config.json")
    else:
        (tmp_path / "ds_config.json").write_text(json.dumps(ds))
    base = json.loads((EXAMPLES / "hf_deepspeed_args.json").read_text())
    base.pop("output_dir")
    base.update(values, optim="sgd")  # no DeepSpeed optimizer to compile: HF's SGD
    path = tmp_path / "args.json"
    path.write_text(json.dumps(base))
    return path


def test_warmup_decay_with_auto_values_equals_hf_and_deepspeed(tmp_path):
    # 26 samples in batches of 2 with accumulation 2: 13 batches, 7 optimizer steps per
    # epoch, 14 in 2 epochs; warmup_steps=0.25 -> ceil(3.5) = 4 warmup steps (log-shaped).
    config = _args(tmp_path, per_device_train_batch_size=2, warmup_steps=0.25)
    out = tmp_path / "used.json"
    run_script("hf_train.py", str(config), "26", str(out))
    used = json.loads(out.read_text())
    assert used["max_steps"] == 14
    assert_rows(plan_rows(config, dataset_size=26), used["lr"])
    found = plan(config, overrides={"dataset_size": 26})
    text = "\n".join(found.notes)
    assert "warmup_num_steps=4, total_num_steps=14" in text
    assert found.spec.scheduler == "deepspeed.runtime.lr_schedules:WarmupDecayLR"


def test_a_value_that_disagrees_with_the_training_arguments_is_refused(tmp_path):
    ds = json.loads((EXAMPLES / "ds_config.json").read_text())
    ds["scheduler"]["params"]["warmup_max_lr"] = 0.01
    config = _args(tmp_path, ds)
    with pytest.raises(UsageError, match=r"warmup_max_lr=0\.01 vs hf learning_rate"):
        plan_from_file(config, overrides={"dataset_size": 100})


def test_a_config_alone_fills_auto_from_the_defaults(tmp_path):
    shutil.copy(EXAMPLES / "ds_config.json", tmp_path / "ds.json")
    found = plan(tmp_path / "ds.json", overrides={"dataset_size": 80, "batch_size": 8})
    text = "\n".join(found.notes)
    # TrainingArguments' defaults: 3 epochs, learning_rate 5e-05, warmup_steps 0 -> 1
    assert "warmup_num_steps=1, total_num_steps=30" in text
    assert found.spec.lr == (5e-05,)


def test_an_auto_that_transformers_does_not_fill_is_refused(tmp_path):
    ds = json.loads((EXAMPLES / "ds_config.json").read_text())
    ds["scheduler"] = {
        "type": "WarmupCosineLR",
        "params": {"cos_min_ratio": "auto", "total_num_steps": "auto"},
    }
    (tmp_path / "ds.json").write_text(json.dumps(ds))
    with pytest.raises(UsageError, match='cos_min_ratio is "auto"'):
        plan_from_file(tmp_path / "ds.json", overrides={"dataset_size": 80})


def test_a_nested_scheduler_in_a_ds_config_needs_consent(tmp_path, monkeypatch):
    """A torch scheduler DeepSpeed builds is lrplot's choice; the names inside it are not."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "ds_canary.py").write_text(
        "from pathlib import Path\nPath('imported').write_text('yes')\n"
        "from torch.optim.lr_scheduler import LambdaLR\n\n\n"
        "def Halve(optimizer):\n    return LambdaLR(optimizer, lambda e: 0.5 ** e)\n"
    )
    config = tmp_path / "ds.json"
    config.write_text(
        json.dumps(
            {
                "train_batch_size": 8,
                "optimizer": {"type": "SGD", "params": {"lr": 0.1}},
                "scheduler": {
                    "type": "ChainedScheduler",
                    "params": {"schedulers": ["ds_canary:Halve"]},
                },
            }
        )
    )
    with pytest.raises(UsageError, match="--allow-import"):
        plan_from_file(config, overrides={"train_steps": 4})
    assert not (tmp_path / "imported").exists()
    plan_from_file(config, allow_import=True, overrides={"train_steps": 4})
    assert (tmp_path / "imported").exists()
