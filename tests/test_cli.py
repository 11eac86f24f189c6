"""Command-line contract: real runs, outputs, exit codes, and a table of bad command lines."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lrplot import cli, registry
from lrplot.engine import simulate

runner = CliRunner()


def run(*args: str, cwd=None):
    return runner.invoke(cli.app, list(args), catch_exceptions=False)


def read_csv(path) -> dict[str, list[str]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return {name: [r[i] for r in rows[1:]] for i, name in enumerate(rows[0])}


# ------------------------------------------------------------------ real runs


def test_default_writes_scheduler_png_and_summary(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("cosine", "--T_max", "150")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cosine.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "cosine.png" in result.output and "150" in result.output


def test_csv_round_trips_exactly(tmp_path):
    out = tmp_path / "c.csv"
    assert run("cosine", "--T_max", "7", "--eta_min", "1e-5", "-o", str(out)).exit_code == 0
    cols = read_csv(out)
    assert list(cols) == ["step", "epoch", "lr"]
    want = simulate("cosine:T_max=7,eta_min=1e-5").lr[:, 0]
    assert np.array_equal(np.array([float(v) for v in cols["lr"]]), want)


def test_stdout_csv_two_groups_and_momentum(tmp_path):
    result = runner.invoke(
        cli.app,
        [
            "onecycle",
            "--max_lr",
            "0.1,0.01",
            "--lr",
            "0.1,0.01",
            "--epochs",
            "3",
            "--steps-per-epoch",
            "4",
            "-o",
            "-",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line]
    assert lines[0] == "step,epoch,lr_0,lr_1,momentum_0,momentum_1"
    assert len(lines) == 13
    assert lines[5].split(",")[1] == "1.0"


def test_json_output_and_multiple_outputs(tmp_path):
    paths = [tmp_path / f"s.{ext}" for ext in ("json", "svg", "pdf", "csv")]
    args = ["step", "--step_size", "3", "--epochs", "9"]
    for p in paths:
        args += ["-o", str(p)]
    assert run(*args).exit_code == 0
    data = json.loads(paths[0].read_text())
    assert data["columns"]["lr"][3] == pytest.approx(0.01)
    assert paths[1].read_text().lstrip().startswith("<?xml")
    assert paths[2].read_bytes()[:4] == b"%PDF"


def test_table_output(tmp_path):
    result = run(
        "multistep",
        "--milestones",
        "30,80",
        "--table",
        "--every",
        "25",
        "-o",
        str(tmp_path / "m.png"),
    )
    assert result.exit_code == 0
    shown = [int(m) for m in re.findall(r"^│\s*(\d+)\s*│", result.output, re.M)]
    assert shown == [0, 25, 30, 50, 75, 80, 99]


def test_help_per_scheduler_lists_kwargs_with_types_and_defaults():
    result = run("cosine", "--help")
    assert result.exit_code == 0
    for text in (
        "--T_max",
        "--eta_min",
        "CosineAnnealingLR",
        "default 0.0",
        "required",
        "--steps-per-epoch",
        "Example",
    ):
        assert text in result.output


@pytest.mark.parametrize("info", registry.SCHEDULERS, ids=lambda i: i.name)
def test_every_scheduler_command_has_help_with_example(info):
    result = run(info.name, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output and info.cls in result.output


def test_every_command_docstring_has_example():
    for command in (cli.list_schedulers, cli.compare, cli.gallery, cli.explore_default):
        assert "Example:" in (command.__doc__ or "")


def test_list_shows_all_schedulers():
    result = run("list")
    assert result.exit_code == 0
    for info in registry.SCHEDULERS:
        assert info.cls in result.output


def test_class_name_case_insensitive(tmp_path):
    assert run("CosineAnnealingLR", "--T_max", "5", "-o", str(tmp_path / "a.csv")).exit_code == 0
    assert run("SGDR", "--T_0", "5", "-o", str(tmp_path / "b.csv")).exit_code == 0


def test_cli_import_loads_neither_torch_nor_matplotlib():
    code = (
        "import sys; from typer.testing import CliRunner; from lrplot.cli import app;"
        "r = CliRunner().invoke(app, ['list']); assert r.exit_code == 0;"
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0;"
        "r = CliRunner().invoke(app, ['cosine', '--help']); assert r.exit_code == 0;"
        "bad = [m for m in ('torch', 'matplotlib', 'numpy') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ bad command lines

BAD = [
    (["cosin", "--T_max", "5"], 2, "did you mean cosine"),
    (["CosineAnnealing", "--T_max", "5"], 2, "unknown scheduler"),
    (["cosine"], 2, "needs T_max"),
    (["cosine", "--T_mx", "5"], 2, "--T_max"),
    (["cosine", "--T_max", "abc"], 2, "expects an integer"),
    (["cosine", "--T_max", "1.5"], 2, "expects an integer"),
    (["cosine", "--T_max", "5", "--eta_min", "nan"], 2, "finite"),
    (["cosine", "--T_max", "5", "--eta_min", "x"], 2, "expects a number"),
    (["step"], 2, "needs step_size"),
    (["step", "--step_size", "0"], 2, "at least 1"),
    (["cosine", "--T_max", "-3"], 2, "at least 1"),
    (["multistep"], 2, "needs milestones"),
    (["multistep", "--milestones", "30,,80"], 2, "empty item"),
    (["exp", "--gamma", "inf"], 2, "finite"),
    (["cyclic", "--base_lr", "0.01"], 2, "needs max_lr"),
    (
        ["cyclic", "--base_lr", "0.01", "--max_lr", "0.1", "--mode", "triangle"],
        2,
        "did you mean triangular",
    ),
    (
        ["cyclic", "--base_lr", "0.01", "--max_lr", "0.1", "--cycle_momentum", "maybe"],
        2,
        "true or false",
    ),
    (["onecycle"], 2, "needs max_lr"),
    (["onecycle", "--max_lr", "0.1", "--anneal_strategy", "cosine"], 2, "cos, linear"),
    (["onecycle", "--max_lr", "0.1", "--pct_start", "2"], 2, "torch rejected OneCycleLR"),
    (["onecycle", "--max_lr", "0.1,0.2,0.3"], 2, "3 values for 1 param group"),
    (["linear", "--start_factor", "2"], 2, "torch rejected LinearLR"),
    (["plateau", "--mode", "minimum"], 2, "min, max"),
    (["cosine", "--T_max", "5", "--lr", "-0.1"], 2, "positive"),
    (["cosine", "--T_max", "5", "--lr", "abc"], 2, "expects a number"),
    (["cosine", "--T_max", "5", "--epochs", "0"], 2, "--epochs"),
    (["cosine", "--T_max", "5", "--optimizer", "adma"], 2, "did you mean adam"),
    (["cosine", "--T_max", "5", "--step-per", "batch"], 2, "epoch or iter"),
    (["cosine", "--T_max", "5", "-o", "x.gif"], 2, "extension"),
    (["cosine", "--T_max", "5", "-o", "/no/such/dir/x.png"], 1, "does not exist"),
    (["cosine", "--T_max", "5", "--x", "time"], 2, "epoch, step, samples, tokens"),
    (
        [
            "cosine",
            "--T_max",
            "10",
            "--epochs",
            "1000",
            "--steps-per-epoch",
            "1000",
            "--max-steps",
            "1000",
        ],
        2,
        "--max-steps 1000000",
    ),
    (["no.such.module:Thing"], 2, "cannot import"),
    (["lrplot.registry:Nope"], 2, "has no 'Nope'"),
    (["lrplot.registry:SCHEDULERS"], 2, "not a scheduler"),
    (["compare"], 2, "SPEC"),
    (["compare", "cosine:T_max=5", "bogus:x=1"], 2, "unknown scheduler"),
    (["compare", "cosine:T_max"], 2, "key=value"),
    (["compare", "cosine:T_max=5", "--layout", "stack"], 2, "overlay or grid"),
    (["poly", "--total_iters", "5", "--epochs", "8", "--log", "-o", "p.png"], 2, "--log"),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_bad_command_lines(args, code, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli.app, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert message in result.output
    assert not list(tmp_path.iterdir())  # nothing written on failure


def test_subprocess_error_is_one_line_no_traceback(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "lrplot", "cosine", "--T_max", "-3"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip()


@pytest.mark.parametrize(
    ("words", "cword", "want"),
    [
        ("lrplot cos", 1, {"cosine", "cosine-restarts"}),
        ("lrplot cosine --T", 2, {"--T_max"}),
        ("lrplot cyclic --mode tri", 3, {"triangular", "triangular2"}),
    ],
)
def test_shell_completion(words, cword, want):
    env = {
        **os.environ,
        "_LRPLOT_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
    }
    script = os.path.join(os.path.dirname(sys.executable), "lrplot")
    out = subprocess.run([script], env=env, capture_output=True, text=True, check=False)
    assert set(out.stdout.split()) == want


def test_ctrl_c_exits_130_and_writes_nothing(tmp_path, monkeypatch):
    import lrplot.engine

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lrplot.engine, "simulate", interrupted)
    result = runner.invoke(cli.app, ["cosine", "--T_max", "5", "-o", "x.csv"])
    assert result.exit_code == 130
    assert "interrupted" in result.output
    assert not list(tmp_path.iterdir())


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    from lrplot.schedule import Schedule

    out = tmp_path / "x.csv"
    out.write_text("precious\n")

    def half_written(self, f, **kwargs):
        f.write("step,epoch,lr\n0,")
        raise KeyboardInterrupt

    monkeypatch.setattr(Schedule, "write_csv", half_written)
    result = runner.invoke(cli.app, ["cosine", "--T_max", "5", "-o", str(out)])
    assert result.exit_code == 130
    assert out.read_text() == "precious\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]


def test_progress_bar_on_long_runs(monkeypatch):
    import lrplot.engine
    from lrplot import report

    calls = []
    real = lrplot.engine.simulate

    def spy(spec, **kwargs):
        progress = kwargs.get("progress")
        calls.append(progress)
        return real(spec, **kwargs)

    monkeypatch.setattr(report, "PROGRESS_FROM", 10)
    monkeypatch.setattr(lrplot.engine, "simulate", spy)
    assert run("cosine", "--T_max", "50", "-o", "-").exit_code == 0
    monkeypatch.setattr(report, "PROGRESS_FROM", 1000)
    assert run("cosine", "--T_max", "50", "-o", "-").exit_code == 0
    assert callable(calls[0]) and calls[1] is None


def test_engine_reports_progress_to_the_end():
    seen = []
    simulate("cosine:T_max=100000", progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (100000, 100000) and len(seen) >= 3


def test_plugin_module_in_the_current_directory(tmp_path):
    (tmp_path / "mysched.py").write_text(
        "from torch.optim.lr_scheduler import LambdaLR\n"
        "def halving(optimizer, every: int = 2):\n"
        "    return LambdaLR(optimizer, lambda e: 0.5 ** (e // every))\n"
    )
    script = os.path.join(os.path.dirname(sys.executable), "lrplot")
    out = subprocess.run(
        [script, "mysched:halving", "--every", "2", "--epochs", "4", "-o", "-"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert [line.split(",")[2] for line in out.stdout.split()[1:]] == ["0.1", "0.1", "0.05", "0.05"]


def test_sweep_cells_share_one_run_length(tmp_path):
    out = tmp_path / "s.csv"
    result = run(
        "cyclic",
        "--base_lr",
        "0.001",
        "--max_lr",
        "0.1",
        "--sweep",
        "step_size_up=200,500",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert len(rows["step"]) == 2000
    assert all(v != "" for v in rows["step_size_up=200"] + rows["step_size_up=500"])


def test_compare_takes_warmup_and_metric(tmp_path):
    out = tmp_path / "c.csv"
    result = run(
        "compare",
        "cosine:T_max=10",
        "plateau:patience=0",
        "--warmup",
        "2",
        "--epochs",
        "12",
        "-o",
        str(out),
    )
    assert result.exit_code == 2 and "--warmup cannot wrap ReduceLROnPlateau" in result.output
    result = run("compare", "cosine:T_max=10", "exp:gamma=0.9", "--warmup", "2", "-o", str(out))
    assert result.exit_code == 0, result.output
    cols = read_csv(out)
    assert float(cols["cosine:T_max=10"][0]) == pytest.approx(0.001)
    result = run(
        "compare", "plateau:patience=0", "--metric", "1,1,1", "--epochs", "3", "-o", str(out)
    )
    assert result.exit_code == 0
    assert float(read_csv(out)["plateau:patience=0"][2]) == pytest.approx(0.01)


def test_expression_failing_mid_run_exits_1():
    result = run("lambda", "--lr_lambda", "1/(epoch-5)", "-o", "-")
    assert result.exit_code == 1
    assert "division by zero at epoch 5" in result.output


def test_lr_lambda_may_say_step_when_stepping_per_batch(tmp_path):
    """Issue 10.4: `step` is accepted (the counter torch passes) and --help says so."""
    out = tmp_path / "w.csv"
    args = ["lambda", "--lr_lambda", "step/100 if step < 100 else 1", "--step-per", "iter"]
    result = run(*args, "--epochs", "20", "--steps-per-epoch", "10", "-o", str(out))
    assert result.exit_code == 0, result.output
    lr = [float(v) for v in read_csv(out)["lr"]]
    assert lr[0] == 0.0 and lr[50] == pytest.approx(0.05) and lr[150] == pytest.approx(0.1)
    metric = run("plateau", "--metric", "1/(1+step)", "--epochs", "5", "-o", str(out))
    assert metric.exit_code == 0, metric.output
    for name in ("lambda", "plateau"):
        text = re.sub(r"\s+", " ", run(name, "--help").output)
        assert "epoch or step" in text, text


def test_metric_file_is_the_run_and_names_its_column(tmp_path, monkeypatch):
    """Issue 10.3: 60 rows of @losses.csv make a 60-epoch run; a longer run warns."""
    monkeypatch.chdir(tmp_path)
    rows = ["epoch,train_loss,val_loss"] + [
        f"{i},{1 / (1 + i)},{max(0.4, 1 - 0.02 * i)}" for i in range(60)
    ]
    (tmp_path / "losses.csv").write_text("\n".join(rows) + "\n")
    result = run("plateau", "--patience", "3", "--metric", "@losses.csv", "-o", "p.csv")
    assert result.exit_code == 0, result.output
    assert len(read_csv(tmp_path / "p.csv")["lr"]) == 60
    text = " ".join(result.output.split())
    assert "the last column, 'val_loss', of losses.csv (60 rows)" in text
    assert "the length of the metric data" in text
    longer = run("plateau", "--metric", "@losses.csv:val_loss", "--epochs", "100", "-o", "p.csv")
    text = " ".join(longer.output.split())
    assert "⚠ the metric has 60 values for a run of 100 epochs" in text, text
    assert "fix: use --epochs 60" in text


def test_plugin_run_of_default_length_warns(tmp_path):
    """Issue 10.5: a plug-in of unknown length runs lrplot's default length: say so."""
    out = tmp_path / "p.csv"
    result = run(
        "tests.plugins_fixture:WarmupCosine", "--warmup", "10", "--total", "1000", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "⚠ no --epochs: the run is lrplot's default of 100 epochs" in text, text
    assert "run length: lrplot's default of 100 epochs (no --epochs given)" in text
    given = run(
        "tests.plugins_fixture:WarmupCosine",
        "--warmup",
        "10",
        "--total",
        "1000",
        "--epochs",
        "1000",
        "-o",
        str(out),
    )
    assert "no --epochs" not in given.output and "run length" not in given.output


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["cosine", "--T_mx", "10"],
            "error: lrplot cosine has no option --T_mx (did you mean --T_max?)",
        ),
        (["check", "cosine", "--t_max", "3"], "did you mean --T_max?"),
        (["cosine", "--T_max", "5", "--bogus"], "no option --bogus (see 'lrplot cosine --help')"),
        (["--bogus"], "error: lrplot has no option --bogus"),
        (
            ["cosine", "--T_max", "5", "--epochs", "0"],
            "lrplot cosine: invalid value for '--epochs'",
        ),
        (["compare"], "lrplot compare: missing argument 'SPEC...'"),
    ],
)
def test_click_errors_are_lrplots_one_line(args, line, tmp_path, monkeypatch):
    """Issue 10.11: lrplot's own one-line error, not Click's box with odd suggestions."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [line] or line in result.output.splitlines()[0]
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "╭" not in result.output and "Possible options" not in result.output


def test_term_and_table_write_no_image(tmp_path, monkeypatch):
    """Issue 10.14: --term or --table without -o writes nothing; -o still writes."""
    monkeypatch.chdir(tmp_path)
    for flag in ("--term", "--table"):
        result = run("exp", "--gamma", "0.9", "--epochs", "5", flag)
        assert result.exit_code == 0, result.output
        assert "wrote" not in result.output
        result = run("compare", "cosine:T_max=5", "exp:gamma=0.9", flag)
        assert result.exit_code == 0 and "wrote" not in result.output
    assert not list(tmp_path.iterdir())
    result = run("exp", "--gamma", "0.9", "--epochs", "5")
    assert "wrote exponential.png" in result.output  # named by the scheduler, as --help says
    help_text = " ".join(run("exp", "--help").output.split())
    assert "exponential.png" in help_text
    compare_help = " ".join(run("compare", "--help").output.split())
    assert "Default: compare.png" in compare_help and "SCHEDULER.png" not in compare_help


def _readme_commands() -> list[str]:
    """Return the lrplot command lines of README.md's code blocks (continuations joined)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    text = readme.replace("\\\n", " ")
    return [
        line.split("  #")[0].strip()
        for line in text.splitlines()
        if line.startswith("lrplot ") or line.startswith("$ lrplot ")
    ]


def test_plateau_examples_show_a_reduction(tmp_path):
    """Issue 10.6: the plateau examples of README and --help actually reduce the lr."""
    examples = [c for c in _readme_commands() if c.startswith("lrplot plateau") and "@" not in c]
    examples.append(cli.EXAMPLES["plateau"])
    assert len(examples) >= 2
    for command in examples:
        out = tmp_path / "p.csv"
        result = run(*shlex.split(command)[1:], "-o", str(out))
        assert result.exit_code == 0, (command, result.output)
        lr = [float(v) for v in read_csv(out)["lr"]]
        assert min(lr) < lr[0], command
        assert "never reduced" not in result.output, command
