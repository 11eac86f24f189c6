"""Training-log readers against the lr each optimizer step really used.

The logs in ``tests/data/logs`` were written by real tiny trainings with the real loggers
(``tests/frameworks/training_logs.py``); each ``case.json`` holds the lr every optimizer
step used, recorded by an optimizer step pre-hook. Read with its writer's pairing, every
log that logs the lr before the step must give exactly those values.
"""

from __future__ import annotations

import builtins
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lrplot.errors import UsageError
from lrplot.logs import detect, read_log

LOGS = Path(__file__).parent / "data" / "logs"
CASES = sorted(p.parent for p in LOGS.glob("*/*/case.json"))


def _case(directory: Path) -> dict:
    return json.loads((directory / "case.json").read_text())


def _options(case: dict) -> dict:
    plan = case["plan"]
    found = {}
    for flag, key in (("--column", "column"), ("--log-every", "log_every")):
        if flag in plan:
            value = plan[plan.index(flag) + 1]
            found[key] = int(value) if key == "log_every" else value
    return found


def test_every_kind_of_log_is_there():
    formats = {detect(d / _case(d)["log"])[0] for d in CASES}
    assert formats == {"hf", "lightning", "tensorboard", "wandb", "csv"}
    assert len(CASES) >= 20


@pytest.mark.parametrize("directory", CASES, ids=lambda d: f"{d.parent.name}/{d.name}")
def test_logged_values_are_what_each_step_used(directory):
    case = _case(directory)
    log = read_log(directory / case["log"], **_options(case))
    used = np.asarray(case["used"])
    assert log.rows.min() >= 0 and log.rows.max() < len(used)
    if "after" in directory.name:  # the bug: the lr of the next step
        np.testing.assert_allclose(log.lr[:-1], used[log.rows[:-1] + 1], rtol=2e-7)
        return
    np.testing.assert_allclose(log.lr, used[log.rows], rtol=2e-7 if log.float32 else 1e-15)


def test_hf_pairs_step_s_with_optimizer_step_s_minus_1():
    log = read_log(LOGS / "hf" / "ok")  # the output_dir holds trainer_state.json
    assert (log.format, log.base, log.name) == ("hf", 1, "learning_rate")
    assert log.steps.tolist() == list(range(1, 13))
    assert log.lr[0] == 0.0  # HF's warmup starts at 0
    assert "after the update" in log.pairing and log.writer == "the Hugging Face Trainer"


def test_hf_before_451_logged_the_next_step(tmp_path):
    shutil.copy(LOGS / "hf" / "ok" / "trainer_state.json", tmp_path)
    (tmp_path / "config.json").write_text('{"transformers_version": "4.50.3"}')
    log = read_log(tmp_path / "trainer_state.json")
    assert log.base == 0 and "4.50" in log.notes[0]


def test_lightning_keeps_the_first_row_of_each_accumulated_step():
    log = read_log(LOGS / "lightning" / "bug_accum" / "metrics.csv")
    assert log.steps.tolist() == list(range(8)) and log.name == "lr-SGD"
    assert log.notes == [
        "8 repeated steps (one row per micro-batch with gradient accumulation): the first "
        "value of each is kept"
    ]


def test_lightning_self_log_columns_are_float32():
    log = read_log(LOGS / "lightning" / "bug_after" / "metrics.csv", column="lr")
    assert log.float32 and log.others == ["lr-SGD"]


def test_tensorboard_reads_every_file_of_a_resumed_run():
    log = read_log(LOGS / "tensorboard" / "bug_resume")
    assert len(list((LOGS / "tensorboard" / "bug_resume").glob("events.*"))) == 2
    assert log.steps.tolist() == list(range(16)) and log.name == "train/lr" and log.float32


def test_tensorboard_written_by_the_hf_trainer_is_one_based():
    log = read_log(LOGS / "hf" / "ok_tb")
    assert (log.format, log.base, log.name) == ("tensorboard", 1, "train/learning_rate")
    assert "TensorBoard callback" in log.writer


def test_tensorboard_finds_the_run_directory(tmp_path):
    run = tmp_path / "runs" / "Nov23_13-26-53_vm"
    shutil.copytree(LOGS / "tensorboard" / "ok", run)
    assert read_log(tmp_path).path == str(run)
    shutil.copytree(LOGS / "tensorboard" / "bug_epoch", tmp_path / "runs" / "other")
    with pytest.raises(UsageError, match="event files in 2 directories"):
        read_log(tmp_path)


def test_tensorboard_missing_is_a_clear_message(monkeypatch):
    real = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name.startswith("tensorboard"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    with pytest.raises(UsageError) as error:
        read_log(LOGS / "tensorboard" / "ok")
    assert error.value.message == "reading TensorBoard event files needs the tensorboard package"
    assert error.value.hint == "pip install 'lrplot[tensorboard]'"


def test_wandb_export_picks_a_run():
    path = LOGS / "wandb" / "lightning" / "export.csv"
    first = read_log(path)
    assert (first.format, first.name, first.base) == ("wandb", "fluent-sun-3 - lr-SGD", 0)
    assert first.others == ["quiet-moon-4 - lr-SGD"]
    assert read_log(path, column="quiet-moon-4").name == "quiet-moon-4 - lr-SGD"
    hf = read_log(LOGS / "wandb" / "hf_bug_accum" / "export.csv")
    assert hf.base == 1 and "train/global_step" in hf.writer


def test_plain_csv_steps_and_rows():
    assert read_log(LOGS / "csv" / "ok" / "lr.csv").steps.tolist() == [0, 3, 6, 9]
    rows = read_log(LOGS / "csv" / "ok_no_steps" / "lr.csv", log_every=3)
    assert rows.steps.tolist() == [0, 3, 6, 9]
    one_based = read_log(LOGS / "csv" / "ok" / "lr.csv", step_base="1")
    assert one_based.rows.tolist() == [-1, 2, 5, 8]
    assert one_based.notes == ["--step-base 1 (the writer's convention is 0)"]


def test_an_lrplot_csv_is_a_plain_log(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("step,epoch,lr\n0,0.0,0.1\n1,1.0,0.05\n")
    log = read_log(path)
    assert (log.format, log.name, log.steps.tolist()) == ("csv", "lr", [0, 1])


@pytest.mark.parametrize(
    "text,options,message",
    [
        (None, {}, "does not exist"),
        ("step,loss\n0,1.0\n", {}, "has no column named lr or learning_rate; its columns: loss"),
        ("step,lr\n0,0.1\n", {"column": "lr_0"}, "has no column 'lr_0'; its columns: lr"),
        ("step,lr\n0,fast\n", {}, "x.csv:2: expected a number, got 'fast'"),
        ("step,lr\n0,nan\n", {}, "x.csv:2: the lr is nan"),
        ("step,lr\n-1,0.1\n", {}, "expected a step (an integer >= 0), got '-1'"),
        ("step,lr\n", {}, "holds no lr values in 'lr'"),
        ("step,lr\n0,0.1\n", {"format": "yaml"}, "--format must be auto or one of"),
        ("step,lr\n0,0.1\n", {"step_base": "2"}, "--step-base must be auto, 0 or 1"),
        ("step,lr\n0,0.1\n", {"step_column": "stpe"}, "has no column 'stpe'"),
    ],
)
def test_bad_logs_are_usage_errors(tmp_path, text, options, message):
    path = tmp_path / "x.csv"
    if text is not None:
        path.write_text(text)
    with pytest.raises(UsageError) as error:
        read_log(path, **options)
    assert message in error.value.message


def test_a_bad_trainer_state(tmp_path):
    path = tmp_path / "trainer_state.json"
    path.write_text("{")
    with pytest.raises(UsageError, match=r"cannot read .* as JSON"):
        read_log(path)
    path.write_text('{"log_history": [{"step": 1, "loss": 2.0}]}')
    with pytest.raises(UsageError, match="holds no lr values in 'learning_rate'"):
        read_log(path)
    with pytest.raises(UsageError) as error:
        read_log(path, column="los")
    assert error.value.hint == "did you mean loss?"
    path.write_text("[1, 2]")
    with pytest.raises(UsageError, match=r"not a trainer_state\.json"):
        read_log(path)
