"""verify against real trainings: the real loggers write, lrplot names each bug.

The trainings of ``training_logs.py`` run here again (Hugging Face ``Trainer``, Lightning
with ``CSVLogger`` and ``LearningRateMonitor``, ``SummaryWriter`` loops, about 10 s):
the correct runs must verify, each bug must be named with its kind and step, with the
frameworks' own schedulers as the plan (a transformers factory for the Trainer's runs).
The committed logs in ``tests/data/logs`` must hold what the trainings write today.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("transformers")
pytest.importorskip("lightning")
pytest.importorskip("tensorboard")

from lrplot import cli
from lrplot.logs import read_log
from tests.frameworks import training_logs
from tests.test_verify import readme_examples, run_readme_example

COMMITTED = Path(__file__).resolve().parents[1] / "data" / "logs"
runner = CliRunner()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: Any) -> Path:
    root = tmp_path_factory.mktemp("logs")
    training_logs.main(root)
    return root


def _cases(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/*/case.json"))


def _case(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "case.json").read_text())


NAMES = [f"{p.parent.name}/{p.name}" for p in _cases(COMMITTED)]


@pytest.mark.parametrize("name", NAMES)
def test_verify_names_each_bug_with_the_frameworks_plan(fresh, name):
    directory = fresh / name
    case = _case(directory)
    expect = case["expect"]
    result = runner.invoke(
        cli.app, ["verify", *case["plan"], "--log", str(directory / case["log"])]
    )
    text = " ".join(result.output.split())
    assert "Traceback" not in text
    if expect["kind"] == "agrees":
        assert result.exit_code == 0, result.output
        assert "✓ the run followed the plan" in text
    else:
        assert result.exit_code == 1, result.output
        assert f"✗ the run left the plan at step {expect['step']} (" in text
        assert f"{expect['kind']}: " in text  # exact: no ", approximately"


def test_accumulation_left_out_of_hf_is_an_exact_stretch(fresh):
    case = _case(fresh / "hf" / "bug_accum")
    result = runner.invoke(
        cli.app, ["verify", *case["plan"], "--log", str(fresh / "hf" / "bug_accum")]
    )
    text = " ".join(result.output.split())
    assert "time-scaled: the run followed the plan stretched 2x (num_warmup_steps=6, " in text
    assert "num_training_steps=24)" in text


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_logs_are_what_the_trainings_write(fresh, name):
    old, new = COMMITTED / name, fresh / name
    a, b = _case(old), _case(new)
    assert (a["plan"], a["expect"], a["log"]) == (b["plan"], b["expect"], b["log"])
    np.testing.assert_allclose(a["used"], b["used"], rtol=1e-15)
    options = (
        {"column": a["plan"][a["plan"].index("--column") + 1]} if "--column" in a["plan"] else {}
    )
    if "--log-every" in a["plan"]:
        options["log_every"] = int(a["plan"][a["plan"].index("--log-every") + 1])
    committed = read_log(old / a["log"], **options)
    written = read_log(new / b["log"], **options)
    assert committed.steps.tolist() == written.steps.tolist()
    np.testing.assert_allclose(committed.lr, written.lr, rtol=1e-15)


def test_every_fresh_log_pairs_with_the_lr_each_step_used(fresh):
    for directory in _cases(fresh):
        case = _case(directory)
        if "after" in directory.name or "--column" in case["plan"]:
            continue
        log = read_log(
            directory / case["log"], log_every=3 if "no_steps" in directory.name else None
        )
        used = np.asarray(case["used"])
        np.testing.assert_allclose(log.lr, used[log.rows], rtol=2e-7, err_msg=str(directory))


HF_README = [(w, p) for w, p in readme_examples() if w[2].startswith("transformers")]


@pytest.mark.parametrize("words,printed", HF_README, ids=[w[-1] for w, _ in HF_README])
def test_readme_hf_examples_are_what_lrplot_prints(words, printed, tmp_path, monkeypatch):
    monkeypatch.chdir(COMMITTED.parents[2])
    run_readme_example(words, printed, tmp_path)
