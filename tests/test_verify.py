"""``lrplot verify``: the committed real training logs, each bug named with its step.

Every case in ``tests/data/logs`` (written by real trainings, see
``tests/frameworks/training_logs.py``) says the command that verifies it and what verify
must find: the correct runs agree (exit 0), each bug is named with the optimizer step
where the run leaves the plan (exit 1). The plans here need torch only; the framework
tests verify the same logs against the frameworks' own schedulers.
"""

from __future__ import annotations

import csv
import json
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from lrplot import cli, pipeline
from lrplot.logs import read_log
from lrplot.options import DisplayOptions, RunOptions, VerifyOptions
from lrplot.verify import verify

runner = CliRunner()
LOGS = Path(__file__).parent / "data" / "logs"
CASES = sorted(p.parent for p in LOGS.glob("*/*/case.json"))


def invoke(*args: str) -> Any:
    return runner.invoke(cli.app, list(args), catch_exceptions=False)


def _case(directory: Path) -> dict:
    return json.loads((directory / "case.json").read_text())


def _words(directory: Path) -> list[str]:
    """Return the ``lrplot verify`` words of a case, with a plan that needs torch only."""
    case = _case(directory)
    plan = list(case.get("torch_plan") or case["plan"])
    extra = case["plan"][case["plan"].index("--column") :] if "--column" in case["plan"] else []
    if case.get("torch_plan") and extra:
        plan += extra[:2]
    return ["verify", *plan, "--log", str(directory / case["log"])]


@pytest.mark.parametrize("directory", CASES, ids=lambda d: f"{d.parent.name}/{d.name}")
def test_verify_names_each_bug_and_its_step(directory):
    case = _case(directory)
    expect = case["expect"]
    result = invoke(*_words(directory))
    output = " ".join(result.output.split())
    assert "Traceback" not in output
    if expect["kind"] == "agrees":
        assert result.exit_code == 0, result.output
        assert "✓ the run followed the plan: the log agrees with the plan at all" in output
        return
    assert result.exit_code == 1, result.output
    assert f"✗ the run left the plan at step {expect['step']} (" in output
    assert f" {expect['kind']}" in output
    if "factor" in expect:
        assert f"{expect['factor']}x" in output


def test_a_wandb_export_with_two_runs():
    path = LOGS / "wandb" / "lightning" / "export.csv"
    plan = _case(LOGS / "wandb" / "lightning")["plan"]
    result = invoke("verify", *plan, "--log", str(path), "--column", "quiet-moon-4")
    assert result.exit_code == 1
    assert "per-epoch: the lr changes only at epoch boundaries (every 8 steps)" in " ".join(
        result.output.split()
    )


def _verify(directory: Path, plan: list[str] | None = None, **options: Any) -> Any:
    case = _case(directory)
    words = plan or case.get("torch_plan") or case["plan"]
    request = _request(words)
    return verify(
        request, VerifyOptions(log_file=str(directory / case["log"]), **options), write=False
    )


def _request(words: list[str]) -> pipeline.Request:
    name, rest = words[0], words[1:]
    run_flags = {
        "--epochs": "epochs",
        "--steps-per-epoch": "steps_per_epoch",
        "--step-per": "step_per",
        "--warmup": "warmup",
        "--warmup-start-factor": "warmup_start_factor",
        "--lr": "lr",
    }
    kwargs, run = {}, {}
    for flag, value in zip(rest[::2], rest[1::2], strict=True):
        if flag in run_flags:
            run[run_flags[flag]] = value
        elif flag not in ("--column", "--log-every"):
            kwargs[flag[2:]] = value
    for key in ("epochs", "steps_per_epoch", "warmup"):
        if key in run:
            run[key] = int(run[key])
    if "warmup_start_factor" in run:
        run["warmup_start_factor"] = float(run["warmup_start_factor"])
    return pipeline.schedule_request(name, kwargs, RunOptions(**run), DisplayOptions())


def test_time_scale_is_exact_when_the_kwargs_can_be_rescaled():
    # Lightning: T_max=16 where the plan sizes it to the 8 optimizer steps
    done = _verify(LOGS / "lightning" / "bug_accum")
    e = done.explanation
    assert (e.kind, e.exact, e.factor, e.step) == ("time-scaled", True, 2, 1)
    assert "stretched 2x (T_max=16)" in e.message
    # per micro-batch: step i ran at the plan's lr of step 2i + 2
    e = _verify(LOGS / "tensorboard" / "bug_accum").explanation
    assert (e.kind, e.exact, e.factor) == ("time-scaled", True, 2)
    assert "step i ran at the plan's lr of step 2i + 2" in e.message
    # an expression's constants cannot be rescaled: the fit is approximate, and says so
    e = _verify(LOGS / "hf" / "bug_accum").explanation
    assert (e.kind, e.exact, e.factor) == ("time-scaled", False, 2)
    assert "approximately: within" in e.message


def test_the_resume_restart_is_found_between_logged_steps():
    done = _verify(LOGS / "tensorboard" / "bug_resume")
    assert done.explanation.kind == "restart" and done.explanation.step == 6
    assert done.first_step == 6
    # logged every 4th step the restart is still placed exactly
    sparse = read_log(LOGS / "tensorboard" / "bug_resume")
    keep = sparse.steps % 4 == 1
    sparse.steps, sparse.lr = sparse.steps[keep], sparse.lr[keep]
    case = _case(LOGS / "tensorboard" / "bug_resume")
    done = verify(_request(case["plan"]), VerifyOptions(log_file="x"), write=False, log=sparse)
    assert done.explanation.kind == "restart" and done.explanation.step == 6
    assert done.first_step == 9  # the first logged step off the plan


def test_a_different_base_lr_is_lr_scaled(tmp_path):
    out = tmp_path / "run.csv"
    assert invoke("cosine", "--T_max", "20", "--lr", "0.3", "-o", str(out)).exit_code == 0
    result = invoke("verify", "cosine", "--T_max", "20", "--log", str(out))
    assert result.exit_code == 1
    assert "lr-scaled: the logged lr is the planned lr times 3" in " ".join(result.output.split())


def test_lrplots_own_csv_verifies_and_a_longer_run_is_flagged(tmp_path):
    out = tmp_path / "run.csv"
    made = invoke(
        "onecycle", "--max_lr", "0.1", "--epochs", "6", "--steps-per-epoch", "5", "-o", str(out)
    )
    assert made.exit_code == 0
    args = ["onecycle", "--max_lr", "0.1", "--steps-per-epoch", "5", "--log", str(out)]
    assert invoke("verify", *args, "--epochs", "6").exit_code == 0
    out = tmp_path / "step.csv"
    assert invoke("step", "--step_size", "3", "--epochs", "12", "-o", str(out)).exit_code == 0
    longer = invoke("verify", "step", "--step_size", "3", "--epochs", "8", "--log", str(out))
    assert longer.exit_code == 1
    text = " ".join(longer.output.split())
    assert "the run left the plan at step 8; largest relative error 0" in text
    assert (
        "longer: the log agrees with the plan at its 8 logged values (steps 0..7), but goes "
        "on to step 11: the plan ends at step 7"
    ) in text


def test_no_overlap_says_how_to_pair(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("step,lr\n500,0.1\n600,0.1\n")
    result = invoke("verify", "cosine", "--T_max", "10", "--log", str(path))
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "no logged step falls inside the plan: the log covers optimizer steps 500..600" in text


def test_a_spec_plan_and_every_output(tmp_path):
    directory = LOGS / "tensorboard" / "bug_epoch"
    png, data, table = tmp_path / "v.png", tmp_path / "v.csv", tmp_path / "v.json"
    result = invoke(
        "verify",
        "cosine:T_max=13,epochs=2,steps_per_epoch=8,step_per=iter,warmup=3,warmup_start_factor=0.1",
        "--log",
        str(directory),
        "-o",
        str(png),
        "-o",
        str(data),
        "-o",
        str(table),
        "--table",
    )
    assert result.exit_code == 1, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(data.open()))
    assert list(rows[0]) == ["logged_step", "step", "epoch", "planned", "logged", "rel_error"]
    assert len(rows) == 16 and float(rows[1]["rel_error"]) > 0.1
    saved = json.loads(table.read_text())
    assert saved["ok"] is False and saved["first_divergence"] == 1
    assert saved["explanation"]["kind"] == "per-epoch"
    assert "all 16 logged values" in result.output and "✗" in result.output


def test_csv_to_stdout(tmp_path):
    case = _case(LOGS / "csv" / "ok")
    result = runner.invoke(
        cli.app, ["verify", *case["plan"], "--log", str(LOGS / "csv" / "ok" / "lr.csv"), "-o", "-"]
    )
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "logged_step,step,epoch,planned,logged,rel_error"


def test_float32_logs_raise_a_tiny_rtol():
    done = _verify(LOGS / "tensorboard" / "ok", rtol=1e-12)
    assert done.ok and done.rtol == 2e-7
    assert "the log stores float32 values: --rtol raised to 2e-07" in done.notes


def test_rtol_decides():
    loose = _verify(LOGS / "lightning" / "bug_epoch", rtol=2.0)
    assert not loose.ok and loose.max_rel > 100  # the tail is 100x the plan
    assert np.isclose(loose.errors[1], 0.1 / 0.09903926402016153 - 1)


@pytest.mark.parametrize(
    "args,message",
    [
        (["cosine", "--T_max", "5"], "verify needs --log FILE"),
        (
            ["cosine", "--T_max", "5", "--log", "nope.json"],
            "training log 'nope.json' does not exist",
        ),
        (["cosine", "--T_max", "5", "--log", "x", "--rtol", "0"], "--rtol must be > 0"),
        (["train.yaml", "--log", "x"], "train.yaml: cannot read the config"),
        (["cosin", "--log", "x"], "did you mean cosine?"),
        (["cosine", "--T_max", "5", "--log", "x", "--sweep", "T_max=5,6"], "no option --sweep"),
    ],
)
def test_usage_errors_exit_2(args, message):
    result = invoke("verify", *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_help_names_the_formats():
    text = " ".join(invoke("verify", "--help").output.split())
    for word in ("trainer_state.json", "metrics.csv", "TensorBoard", "W&B", "Exit 1"):
        assert word in text
    text = " ".join(invoke("verify", "cosine", "--help").output.split())
    assert "--log" in text and "--rtol" in text and "--step-base" in text and "--term" not in text


# ------------------------------------------------------------------ README


def readme_examples() -> list[tuple[list[str], list[str]]]:
    """Return each ``$ lrplot ...`` of the README's verify section and the lines it prints."""
    text = (Path(__file__).parents[1] / "README.md").read_text()
    section = text.split("## After training: verify", 1)[1].split("\n## ", 1)[0]
    examples: list[tuple[list[str], list[str]]] = []
    for block in section.split("```console\n")[1:]:
        lines = block.split("```", 1)[0].splitlines()
        i = 0
        while i < len(lines):
            command = lines[i][2:]
            while command.endswith("\\"):
                i += 1
                command = command[:-1] + lines[i].strip()
            i += 1
            printed = []
            while i < len(lines) and not lines[i].startswith("$ "):
                printed.append(lines[i])
                i += 1
            if not command.startswith("echo"):
                examples.append((shlex.split(command), printed))
    return examples


def run_readme_example(words: list[str], printed: list[str], tmp_path: Path) -> None:
    """Run a README command in the repository; its output and image must be the README's."""
    root = Path(__file__).parents[1]
    words = list(words[1:])
    image = words[words.index("-o") + 1] if "-o" in words else None
    if image is not None:
        words[words.index("-o") + 1] = str(tmp_path / Path(image).name)
    result = CliRunner(env={"COLUMNS": "80"}).invoke(cli.app, words)
    output = (
        result.output.replace(str(tmp_path / Path(image).name), image) if image else (result.output)
    )
    assert output.splitlines() == printed
    assert result.exit_code == (1 if any(line.startswith("✗") for line in printed) else 0)
    if image is not None:
        assert (tmp_path / Path(image).name).read_bytes() == (root / image).read_bytes(), (
            f"{image} is stale: run bash docs/images.sh"
        )


README = readme_examples()


@pytest.mark.parametrize("words,printed", README, ids=[" ".join(w[1:3]) for w, _ in README])
def test_readme_verify_section_is_what_lrplot_prints(words, printed, tmp_path, monkeypatch):
    if ":" in words[2] and "=" not in words[2]:
        pytest.importorskip(words[2].split(".")[0])
    monkeypatch.chdir(Path(__file__).parents[1])
    run_readme_example(words, printed, tmp_path)


def test_a_column_names_its_param_group(tmp_path):
    out = tmp_path / "two.csv"
    made = invoke("cosine", "--T_max", "10", "--lr", "0.1,0.01", "-o", str(out))
    assert made.exit_code == 0
    for column in ("lr_0", "lr_1"):
        result = invoke(
            "verify",
            "cosine",
            "--T_max",
            "10",
            "--lr",
            "0.1,0.01",
            "--log",
            str(out),
            "--column",
            column,
        )
        assert result.exit_code == 0, result.output
        assert f"compared with param group {column[-1]} of 2" in result.output
    wrong = invoke(
        "verify", "cosine", "--T_max", "10", "--lr", "0.1", "--log", str(out), "--column", "lr_1"
    )
    assert wrong.exit_code == 1 and "times 0.1" in " ".join(wrong.output.split())
