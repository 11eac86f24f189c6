"""``compare``, ``--sweep``, ``check``, ``--term`` and ``--annotate`` through the command line."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from typer.testing import CliRunner

import lrplot
from lrplot import cli
from lrplot.report import fmt_lr
from tests.conftest import canonical

runner = CliRunner()
WIDE = {"COLUMNS": "200"}
PNG = b"\x89PNG\r\n\x1a\n"
COSINE = "cosine:T_max=100"
STEP = "step:step_size=30,gamma=0.5"
SUMMARY_ROWS = {
    "initial lr": "initial",
    "peak lr": "peak",
    "min lr": "min",
    "final lr": "final",
    "mean lr": "mean",
    "sum of lr": "sum",
    "peak at step": "peak_step",
    "first < 10% of peak": "below_10pct_step",
}


def invoke(*args: str):
    return runner.invoke(cli.app, list(args), env=WIDE)


def assert_clean(result, code: int = 0) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


def read_csv(path) -> tuple[list[str], dict[str, list[str]]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], {name: [r[i] for r in rows[1:]] for i, name in enumerate(rows[0])}


def floats(cells: list[str]) -> np.ndarray:
    return np.array([float(c) for c in cells if c != ""])


def table_row(output: str, title: str) -> list[str]:
    """Return the cells after ``title`` in the rich comparison table."""
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line)[1:-1]]
        if cells and cells[0] == title:
            return cells[1:]
    raise AssertionError(f"no row {title!r} in:\n{output}")


def expected_cell(stats: dict, key: str) -> str:
    value = stats[key]
    if key in ("peak_step", "below_10pct_step"):
        return "—" if value is None else str(value)
    return fmt_lr(value)


# ------------------------------------------------------------------ compare


def test_compare_csv_png_and_summary(tmp_path):
    csv_out, png_out = tmp_path / "cmp.csv", tmp_path / "cmp.png"
    result = invoke("compare", COSINE, STEP, "-o", str(csv_out), "-o", str(png_out))
    assert_clean(result)
    header, cols = read_csv(csv_out)
    assert header == ["step", "epoch", COSINE, STEP]
    schedules = [lrplot.simulate(COSINE), lrplot.simulate(STEP)]
    for label, schedule in zip((COSINE, STEP), schedules, strict=True):
        assert np.array_equal(floats(cols[label]), schedule.lr[:, 0])
    assert cols["step"][:3] == ["0", "1", "2"] and cols["epoch"][1] == "1.0"
    assert png_out.read_bytes()[:8] == PNG
    for title, key in SUMMARY_ROWS.items():
        assert table_row(result.output, title) == [
            expected_cell(s.stats(), key) for s in schedules
        ], title
    assert table_row(result.output, "steps") == ["100", "100"]
    assert "cmp.csv" in result.output and "cmp.png" in result.output


def test_compare_values_equal_the_canonical_loop(tmp_path):
    out = tmp_path / "c.csv"
    specs = [
        "onecycle:max_lr=0.1",
        "cyclic:base_lr=0.01,max_lr=0.1,step_size_up=4",
        "lambda:lr_lambda='0.9**epoch'",
    ]
    result = invoke("compare", *specs, "--epochs", "6", "--steps-per-epoch", "3", "-o", str(out))
    assert_clean(result)
    _, cols = read_csv(out)
    for text in specs:
        want = canonical(text, epochs=6, steps_per_epoch=3)["lr"][:, 0]
        assert np.array_equal(floats(cols[text]), want), text


def test_compare_labels_and_grid_layout(tmp_path):
    csv_out, png_out = tmp_path / "c.csv", tmp_path / "c.png"
    result = invoke(
        "compare",
        COSINE,
        STEP,
        "--label",
        "cos",
        "--label",
        "step 30",
        "--layout",
        "grid",
        "-o",
        str(csv_out),
        "-o",
        str(png_out),
    )
    assert_clean(result)
    header, cols = read_csv(csv_out)
    assert header == ["step", "epoch", "cos", "step 30"]
    assert np.array_equal(floats(cols["step 30"]), lrplot.simulate(STEP).lr[:, 0])
    assert png_out.read_bytes()[:8] == PNG
    assert table_row(result.output, "initial lr") == ["0.1", "0.1"]
    assert "cos" in result.output and "step 30" in result.output


def test_compare_spec_epochs_kept_others_use_option(tmp_path):
    out = tmp_path / "c.csv"
    result = invoke(
        "compare",
        "cosine:T_max=100",
        "step:step_size=30,gamma=0.5,epochs=40",
        "--epochs",
        "60",
        "--label",
        "a",
        "--label",
        "b",
        "-o",
        str(out),
    )
    assert_clean(result)
    _, cols = read_csv(out)
    assert len(cols["a"]) == 60
    a, b = floats(cols["a"]), floats(cols["b"])
    assert len(a) == 60 and len(b) == 40 and cols["b"][40:] == [""] * 20
    assert np.array_equal(a, lrplot.simulate("cosine:T_max=100", epochs=60).lr[:, 0])
    assert np.array_equal(b, lrplot.simulate("step:step_size=30,gamma=0.5", epochs=40).lr[:, 0])
    assert table_row(result.output, "steps") == ["60", "40"]


@pytest.mark.parametrize(
    "text",
    [
        "cosine:T_max=10,warmup=3",
        "cosine:T_max=10,lr=0.5",
        "cosine:T_max=10,steps_per_epoch=2",
        "cosine:T_max=10,step_per=iter,steps_per_epoch=2",
    ],
)
def test_compare_epochs_keeps_the_specs_own_run_options(tmp_path, text):
    out = tmp_path / "c.csv"
    result = invoke(
        "compare",
        text,
        "exp:gamma=0.9",
        "--epochs",
        "6",
        "--label",
        "x",
        "--label",
        "y",
        "-o",
        str(out),
    )
    assert_clean(result)
    _, cols = read_csv(out)
    assert np.array_equal(floats(cols["x"]), lrplot.simulate(text, epochs=6).lr[:, 0])


def test_compare_twelve_specs_ok_thirteen_refused(tmp_path):
    specs = [f"cosine:T_max={i}" for i in range(1, 14)]
    out = tmp_path / "c.csv"
    assert_clean(invoke("compare", *specs[:12], "-o", str(out)))
    header, _ = read_csv(out)
    assert header[2:] == specs[:12]
    out.unlink()
    result = invoke("compare", *specs, "-o", str(out))
    assert_clean(result, 2)
    assert "1 to 12" in result.output and "13" in result.output
    assert not out.exists()


@pytest.mark.parametrize("labels", [["a"], ["a", "b", "c"]])
def test_compare_label_count_mismatch(tmp_path, labels):
    args = [w for label in labels for w in ("--label", label)]
    out = tmp_path / "c.csv"
    result = invoke("compare", COSINE, STEP, *args, "-o", str(out))
    assert_clean(result, 2)
    assert "--label" in result.output and "2 SPECs" in result.output
    assert not out.exists()


def test_compare_to_stdout_keeps_stdout_pure_csv():
    result = invoke("compare", "cosine:T_max=4", "exp:gamma=0.5", "-o", "-")
    assert_clean(result)
    lines = result.stdout.splitlines()
    assert lines[0] == "step,epoch,cosine:T_max=4,exp:gamma=0.5"
    assert len(lines) == 1 + 100  # exp has no horizon: 100 epochs, cosine column padded


def test_compare_term_and_table():
    result = invoke(
        "compare",
        "cosine:T_max=20",
        "exp:gamma=0.9",
        "--epochs",
        "20",
        "--term",
        "--table",
        "-o",
        "-",
    )
    assert_clean(result)
    assert "cosine:T_max=20" in result.stderr and "│" in result.stderr


# ------------------------------------------------------------------ sweep


@pytest.mark.parametrize("given", [[], ["--T_max", "10"]], ids=["required-kwarg", "overridden"])
def test_sweep_columns_equal_separate_simulations(tmp_path, given):
    out = tmp_path / "s.csv"
    result = invoke(
        "cosine", *given, "--epochs", "150", "--sweep", "T_max=50,100,150", "-o", str(out)
    )
    assert_clean(result)
    header, cols = read_csv(out)
    assert header == ["step", "epoch", "T_max=50", "T_max=100", "T_max=150"]
    for t in (50, 100, 150):
        want = lrplot.simulate(f"cosine:T_max={t}", epochs=150).lr[:, 0]
        assert np.array_equal(floats(cols[f"T_max={t}"]), want)
        assert np.array_equal(want, canonical(f"cosine:T_max={t}", epochs=150)["lr"][:, 0])
    assert table_row(result.output, "min lr")[0] == fmt_lr(
        lrplot.simulate("cosine:T_max=50", epochs=150).stats()["min"]
    )


def test_sweep_of_a_run_option(tmp_path):
    out = tmp_path / "s.csv"
    result = invoke("cosine", "--T_max", "8", "--sweep", "lr=0.1,0.05", "-o", str(out))
    assert_clean(result)
    _, cols = read_csv(out)
    assert np.array_equal(
        floats(cols["lr=0.05"]), lrplot.simulate("cosine:T_max=8", lr="0.05").lr[:, 0]
    )


def test_two_sweeps_make_a_grid(tmp_path):
    csv_out, png_out = tmp_path / "g.csv", tmp_path / "g.png"
    result = invoke(
        "cosine",
        "--T_max",
        "10",
        "--epochs",
        "20",
        "--sweep",
        "T_max=5,10",
        "--sweep",
        "eta_min=0,0.01,0.02",
        "-o",
        str(csv_out),
        "-o",
        str(png_out),
    )
    assert_clean(result)
    assert png_out.read_bytes()[:8] == PNG
    header, cols = read_csv(csv_out)
    assert len(header) == 2 + 2 * 3
    for t in (5, 10):
        for eta in ("0", "0.01", "0.02"):
            label = f"T_max={t}, eta_min={eta}"
            want = lrplot.simulate(f"cosine:T_max={t},eta_min={eta}", epochs=20).lr[:, 0]
            assert np.array_equal(floats(cols[label]), want), label


def test_same_kwarg_swept_twice_is_refused(tmp_path):
    result = invoke(
        "cosine",
        "--T_max",
        "3",
        "--epochs",
        "4",
        "--sweep",
        "T_max=1,2",
        "--sweep",
        "T_max=3,4",
        "-o",
        str(tmp_path / "s.csv"),
    )
    assert_clean(result, 2)
    assert "T_max" in result.output


def test_sweep_bad_key_suggests(tmp_path):
    out = tmp_path / "s.csv"
    result = invoke("cosine", "--T_max", "10", "--sweep", "T_mx=5,10", "-o", str(out))
    assert_clean(result, 2)
    assert "did you mean T_max" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("sweeps", "message"),
    [
        (["T_max="], "bad --sweep"),
        (["T_max"], "bad --sweep"),
        (["T_max=1,2", "eta_min=0,1", "T_max=3"], "at most 2"),
        (["T_max=" + ",".join(map(str, range(1, 14)))], "at most 12"),
        (["T_max=0,5"], "at least 1"),
    ],
)
def test_sweep_usage_errors(tmp_path, sweeps, message):
    args = [w for s in sweeps for w in ("--sweep", s)]
    result = invoke("cosine", "--T_max", "10", *args, "-o", str(tmp_path / "s.csv"))
    assert_clean(result, 2)
    assert message in result.output


# ------------------------------------------------------------------ check


def test_check_short_t_max_warns_and_exits_1():
    result = invoke("check", "cosine", "--T_max", "20", "--epochs", "150")
    assert_clean(result, 1)
    assert "T_max=20" in result.output and "150" in result.output
    assert "--T_max 150" in result.output  # the fix


def test_check_good_cosine_exits_0():
    result = invoke("check", "cosine", "--T_max", "150", "--epochs", "150")
    assert_clean(result, 0)
    assert "no problems" in result.output


def test_check_without_epochs_warns_that_the_length_was_derived():
    """Issue 10.1: the run length taken from T_max hides the horizon mistake."""
    args = ["check", "cosine", "--T_max", "100", "--steps-per-epoch", "50", "--step-per", "iter"]
    result = invoke(*args)
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "derived from T_max=100" in text and "--epochs" in text
    plot = invoke(*args[1:], "-o", "-")
    assert "run length: 2 epochs, from T_max=100 (no --epochs given)" in plot.stderr


def test_check_onecycle_running_out_exits_1():
    result = invoke("check", "onecycle", "--max_lr", "0.1", "--total_steps", "50", "--epochs", "60")
    assert_clean(result, 1)
    assert "OneCycleLR" in result.output and "total_steps" in result.output


def test_check_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_clean(invoke("check", "cosine", "--T_max", "20", "--epochs", "150"), 1)
    assert not list(tmp_path.iterdir())


def test_check_usage_errors_exit_2():
    result = invoke("check", "cosin", "--T_max", "5")
    assert_clean(result, 2)
    assert "did you mean cosine" in result.output
    result = invoke("check", "cosine", "--T_max", "5", "--term")
    assert_clean(result, 2)


def test_check_writes_what_o_names(tmp_path):
    out = tmp_path / "x.csv"
    result = invoke("check", "cosine", "--T_max", "5", "--epochs", "5", "-o", str(out))
    assert_clean(result, 0)
    assert out.read_text().splitlines()[:2] == ["step,epoch,lr", "0,0.0,0.1"]
    assert "wrote" in result.output and "no problems" in result.output


# ------------------------------------------------------------------ term, annotate


def test_term_draws_a_text_plot(tmp_path):
    out = tmp_path / "x.csv"
    result = invoke("cosine", "--T_max", "150", "--term", "-o", str(out))
    assert_clean(result)
    lines = result.output.splitlines()
    assert len(lines) > 15
    assert any(re.search(r"\b0\.1\b", line) for line in lines)  # the lr axis
    assert any(re.search(r"\b0\s+.*\b140\b", line) for line in lines)  # the epoch axis
    assert "cosine" in result.output
    assert out.exists()


@pytest.mark.parametrize("extra", [(), ("-o", "-")], ids=["file", "stdout"])
def test_term_log_with_zero_lr_exits_2(tmp_path, extra):
    result = invoke(
        "poly",
        "--total_iters",
        "5",
        "--epochs",
        "8",
        "--term",
        "--log",
        *(extra or ("-o", str(tmp_path / "p.png"))),
    )
    assert_clean(result, 2)
    assert "--log" in result.output and "step 5" in result.output


def test_term_log_failure_writes_nothing(tmp_path):
    out = tmp_path / "p.csv"
    result = invoke(
        "poly", "--total_iters", "5", "--epochs", "8", "--term", "--log", "-o", str(out)
    )
    assert_clean(result, 2)
    assert not out.exists()


def test_compare_term_log_failure_writes_nothing(tmp_path):
    out = tmp_path / "c.csv"
    result = invoke(
        "compare",
        "poly:total_iters=5",
        "cosine:T_max=8",
        "--epochs",
        "8",
        "--term",
        "--log",
        "-o",
        str(out),
    )
    assert_clean(result, 2)
    assert not out.exists()


def test_annotate_writes_the_png(tmp_path):
    out = tmp_path / "a.png"
    result = invoke("cosine", "--T_max", "20", "--epochs", "150", "--annotate", "-o", str(out))
    assert_clean(result)
    assert out.read_bytes()[:8] == PNG
    assert "T_max=20" in result.output


def test_a_flag_in_the_command_line_of_a_comparison_takes_no_value(tmp_path):
    from lrplot.options import DisplayOptions, RunOptions
    from lrplot.pipeline import compare_request

    request = compare_request(
        ["cosine:T_max=4", "exp:gamma=0.9"],
        None,
        "overlay",
        RunOptions(epochs=2, dataset_size=10, batch_size=3, drop_last=True),
        DisplayOptions(),
    )
    assert request.command.endswith("--batch-size 3 --drop-last"), request.command
    words = [*request.command.split()[1:], "-o", str(tmp_path / "c.csv")]
    again = CliRunner().invoke(cli.app, words)
    assert again.exit_code == 0, again.output
