"""Tests of lrplot.report: tables, summary, comparison and the terminal curve, on real runs."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from rich.console import Console, Group

from lrplot import report
from lrplot.engine import simulate
from lrplot.errors import UsageError
from lrplot.report import compare_table, fmt_lr, summary, table, table_rows, term_plot
from lrplot.schedule import Schedule, decimate

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def render(renderable: object) -> str:
    """Render a rich renderable to plain text."""
    console = Console(record=True, width=120, force_terminal=False, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def row_cells(text: str, first: str) -> list[str]:
    """Return the cells of the table row whose first cell is ``first``."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in\n{text}")


@dataclass
class Diag:
    code: str
    message: str
    fix: str | None = None
    level: str = "warning"


@pytest.fixture(scope="module")
def multistep() -> Schedule:
    return simulate("multistep:milestones=[30,80],gamma=0.5", lr="0.1,0.01")


@pytest.fixture(scope="module")
def cosine() -> Schedule:
    return simulate("cosine:T_max=150")


@pytest.fixture(scope="module")
def onecycle() -> Schedule:
    return simulate("onecycle:max_lr=0.1", epochs=50, steps_per_epoch=20)


@pytest.fixture(scope="module")
def plateau() -> Schedule:
    return simulate("plateau")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, "0.1"),
        (2.4471742e-05, "2.447e-05"),
        (0.0, "0"),
        (1.0, "1"),
        (0.123456, "0.1235"),
        (0.05, "0.05"),
        (1e-6, "1e-06"),
        (123456.0, "1.235e+05"),
        (None, "—"),
    ],
)
def test_fmt_lr(value: float | None, text: str) -> None:
    assert fmt_lr(value) == text


def test_table_rows_multistep_keeps_changes_and_thins(multistep: Schedule) -> None:
    rows = table_rows(multistep)
    assert {0, 30, 80, 99} <= set(rows)
    assert rows == sorted(set(rows))
    assert 20 <= len(rows) <= 45 < multistep.n


def test_table_rows_cosine_about_max_rows(cosine: Schedule) -> None:
    rows = table_rows(cosine)
    assert rows[0] == 0 and rows[-1] == 149
    assert 30 <= len(rows) <= 42
    small = table_rows(cosine, max_rows=10)
    assert small[0] == 0 and small[-1] == 149 and 7 <= len(small) <= 12


def test_table_rows_every(multistep: Schedule, cosine: Schedule) -> None:
    assert table_rows(multistep, every=10) == sorted({*range(0, 100, 10), 30, 80, 99})
    # every step of a cosine changes: not piecewise constant, so only every-th steps
    assert table_rows(cosine, every=10) == [*range(0, 150, 10), 149]
    assert table_rows(cosine, every=1) == list(range(150))


def test_table_rows_too_many_changes_thin_by_every_only() -> None:
    lr = np.repeat(0.1 * 0.9 ** np.arange(100), 10)  # 99 changes in 1000 steps
    rows = table_rows(Schedule(lr=lr), every=100)
    assert rows == [*range(0, 1000, 100), 999]


def test_table_rows_epoch_aligned(onecycle: Schedule) -> None:
    rows = table_rows(onecycle)
    assert all(r % onecycle.steps_per_epoch == 0 for r in rows[:-1])
    assert rows[-1] == 999 and 20 <= len(rows) <= 42


def test_table_two_groups(multistep: Schedule) -> None:
    text = render(table(multistep))
    assert re.search(r"step\s+┃\s+epoch\s+┃\s+lr_0\s+┃\s+lr_1", text)
    assert row_cells(text, "30") == ["30", "30", "0.05", "0.005"]
    assert row_cells(text, "0") == ["0", "0", "0.1", "0.01", "peak lr_0, peak lr_1"]
    assert row_cells(text, "80")[2:] == ["0.025", "0.0025", "min lr_0, min lr_1"]
    assert "momentum" not in text  # constant 0.9: no column
    n = len(table_rows(multistep))
    assert re.search(rf"{n} of 100 steps shown \(changes \+ every \d+ \+ peak and min\)", text)


def test_table_columns(cosine: Schedule, onecycle: Schedule, plateau: Schedule) -> None:
    text = render(table(cosine, every=50))
    assert row_cells(text, "149") == ["149", "149", f"{cosine.lr[149, 0]:.6g}", "min"]
    assert "4 of 150 steps shown (every 50 + peak and min)" in text
    text = render(table(onecycle))
    assert "momentum" in text
    assert row_cells(text, "40")[1:] == [
        "2",
        f"{onecycle.lr[40, 0]:.6g}",
        f"{onecycle.momentum[40, 0]:.6g}",
    ]
    text = render(table(plateau, every=10))
    assert "metric" in text
    assert row_cells(text, "10")[3] == f"{plateau.metric[10]:.6g}"
    assert "all 3 steps shown" in render(table(Schedule(lr=np.array([0.1, 0.1, 0.1]))))


def test_summary(multistep: Schedule) -> None:
    diags = [
        Diag(
            "milestone-beyond-run",
            "milestone 120 is beyond the run (100 epochs)",
            fix="--epochs 150",
        ),
        Diag("note", "lr ends at [0.025]", level="info"),
    ]
    text = render(summary(multistep, outputs=["multistep.png", "-"], diagnostics=diags))
    assert "wrote multistep.png, CSV to stdout" in text
    assert "100 steps" in text and "2 param groups" in text
    assert re.search(r"lr_0\s+0\.1\s+0\.025\s+0\.1\s+0\.025", text)
    assert re.search(r"lr_1\s+0\.01\s+0\.0025\s+0\.01\s+0\.0025", text)
    assert "⚠ milestone 120 is beyond the run (100 epochs)" in text
    assert "fix: --epochs 150" in text
    assert "ℹ lr ends at [0.025]" in text  # brackets are not eaten as markup
    assert len(text.strip().splitlines()) <= 10


def test_summary_notes_and_small_numbers(cosine: Schedule) -> None:
    s = Schedule(
        lr=cosine.lr[:51],
        planned_steps=60,
        name="onecycle",
        notes=["OneCycleLR stopped at step 51 of 60: total_steps is 50"],
    )
    text = render(summary(s))
    assert "51 of 60 planned steps" in text
    assert "OneCycleLR stopped at step 51 of 60: total_steps is 50" in text
    text = render(summary(cosine))
    assert re.search(r"lr\s+0\.1\s+1\.097e-05\s+0\.1\s+1\.097e-05", text)
    assert "wrote" not in text and len(text.strip().splitlines()) <= 5


def test_compare_table_matches_stats(
    cosine: Schedule, onecycle: Schedule, plateau: Schedule
) -> None:
    schedules = [cosine, onecycle, plateau]
    text = render(compare_table(schedules, labels=["cos", "1cycle", "plat"]))
    assert re.search(r"┃\s+cos\s+┃\s+1cycle\s+┃\s+plat\s+┃", text)
    stats = [s.stats(0) for s in schedules]
    assert row_cells(text, "steps")[1:] == ["150", "1000", "100"]
    for label, key in [
        ("initial lr", "initial"),
        ("peak lr", "peak"),
        ("min lr", "min"),
        ("final lr", "final"),
        ("mean lr", "mean"),
        ("sum of lr", "sum"),
    ]:
        assert row_cells(text, label)[1:] == [fmt_lr(st[key]) for st in stats]
    assert row_cells(text, "peak at step")[1:] == [str(st["peak_step"]) for st in stats]
    below = row_cells(text, "first < 10% of peak")[1:]
    assert below == [str(st["below_10pct_step"]) for st in stats]
    flat = Schedule(lr=np.full(5, 0.1), name="flat")
    text = render(compare_table([flat]))
    assert "flat" in text and row_cells(text, "first < 10% of peak")[1:] == ["—"]


def test_term_plot_width_and_title(cosine: Schedule, onecycle: Schedule) -> None:
    out = term_plot(cosine, width=80, title="my cosine", color=False)
    lines = out.splitlines()
    assert "my cosine" in lines[0]
    assert max(len(line) for line in lines) == 80
    assert "\x1b" not in out
    both = term_plot([cosine, onecycle], width=100, labels=["cos", "1cycle"], x="step")
    plain = ANSI.sub("", both)
    assert 95 <= max(len(line) for line in plain.splitlines()) <= 100
    assert "cos" in plain and "1cycle" in plain and "lr by step" in plain
    assert 40 <= max(len(x) for x in term_plot(cosine, width=10).splitlines()) <= 40


def test_term_plot_groups_and_log(multistep: Schedule) -> None:
    plain = ANSI.sub("", term_plot(multistep, log=True, width=90))
    assert "multistep lr_0" in plain and "multistep lr_1" in plain and "(log)" in plain


def test_term_plot_million_steps_fast() -> None:
    x = np.arange(1_000_000)
    s = Schedule(
        lr=0.05 * (1 + np.cos(np.pi * x / 1_000_000)) + 1e-3 * (x % 1000 == 0),
        steps_per_epoch=1000,
        name="big",
    )
    out = term_plot(s, width=120, log=True)
    assert "big" in out  # drawn from a per-column decimation (benchmarks/ times it)


def test_envelope_keeps_extremes() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(100_003)
    y[54_321], y[77_777] = 5.0, -5.0
    x = np.arange(y.size, dtype=float)
    px, py = decimate(x, y, 100)
    assert len(py) <= 402 and py.max() == 5.0 and py.min() == -5.0
    assert px[0] == 0 and px[-1] == y.size - 1 and np.all(np.diff(px) > 0)
    assert np.array_equal(py, y[px.astype(int)])


def test_term_plot_errors(cosine: Schedule) -> None:
    zero = Schedule(lr=np.array([0.1, 0.05, 0.0]), name="to-zero")
    with pytest.raises(UsageError, match=r"--log needs every lr > 0.*to-zero.*step 2"):
        term_plot(zero, log=True)
    term_plot(zero, width=60)  # linear scale is fine
    with pytest.raises(UsageError, match="x axis"):
        term_plot(cosine, x="time")


def test_scheduler_list() -> None:
    rows = [
        ("cosine", "CosineAnnealingLR", "T_max", "cosine decay to eta_min [T_max]"),
        ("exponential, exp", "ExponentialLR", "gamma", "multiply by gamma"),
        ("constant", "ConstantLR", "", "factor until total_iters"),
    ]
    text = render(report.scheduler_list(rows))
    assert re.search(r"name\s+torch class\s+required\s+what it does", text)
    assert re.search(r"cosine\s+CosineAnnealingLR\s+T_max\s+cosine decay", text)
    assert re.search(r"exponential\s+ExponentialLR\s+gamma", text)
    assert re.search(r"^\s*exp\s*$", text, re.M)
    assert re.search(r"constant\s+ConstantLR\s+—", text)


def test_import_is_light() -> None:
    code = (
        "import sys, lrplot.report; "
        "bad = [m for m in ('torch', 'matplotlib', 'uniplot') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- issue 10: readable at 80 columns ------------------------------------------------------


def render80(renderable: object) -> str:
    console = Console(record=True, width=80, force_terminal=False, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_list_is_readable_at_80_columns() -> None:
    """Issue 10.12: the description column is not squeezed to 13 characters."""
    from lrplot import registry

    rows = [(", ".join((i.name, *i.aliases)), i.cls, "", i.summary) for i in registry.SCHEDULERS]
    text = render80(report.scheduler_list(rows))
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "Multiply the lr by gamma at each milestone." in text  # one line, not 4
    assert "(CosineAnnealingWarmRestarts)" in text
    assert "torch class" in render(report.scheduler_list(rows))  # wide: its own column


def test_compare_headers_are_short_and_distinct_at_80_columns() -> None:
    specs = ["cosine:T_max=100", "step:step_size=30,gamma=0.5", "onecycle:max_lr=0.1"]
    schedules = [simulate(t, epochs=100) for t in specs]
    text = render80(compare_table(schedules, specs))
    assert re.search(r"┃\s+cosine\s+┃\s+step\s+┃\s+onecycle\s+┃", text), text
    assert "…" not in text and "step = step:step_size=30,gamma=0.5" in text
    sweep = report.short_labels(["cosine:T_max=50,eta_min=0", "cosine:T_max=100,eta_min=0"])
    assert sweep == ["T_max=50", "T_max=100"]


def test_diagnostics_wrap_with_a_hanging_indent_and_counts_agree() -> None:
    long = Diag("x", "word " * 30, fix="do " * 30)
    lines = render80(summary(simulate("cosine:T_max=1", epochs=1), diagnostics=[long]))
    lines = lines.rstrip().splitlines()
    assert lines[0] == "1 step · 1 epoch · 1 param group · scheduler.step() per epoch"
    warn = lines.index(next(line for line in lines if line.startswith("⚠")))
    assert all(len(line) <= 80 for line in lines)
    assert lines[warn + 1].startswith("  word") and lines[warn + 2].startswith("  fix: do")
    assert lines[warn + 3].startswith("       do")


def test_table_rows_fall_on_epochs_and_mark_peak_and_min() -> None:
    """Issue 10.13: epoch-boundary rows, plus the peak and min rows; beta1 with Adam."""
    s = simulate("onecycle:max_lr=0.1", epochs=2, steps_per_epoch=100)
    rows = table_rows(s)
    assert {0, 100} <= set(rows)  # 200 steps, 40 rows: every 5 steps divides the epoch
    text = render(table(s))
    peak, low = int(np.argmax(s.lr[:, 0])), int(np.argmin(s.lr[:, 0]))
    assert row_cells(text, str(peak))[-1] == "peak" and row_cells(text, str(low))[-1] == "min"
    adam = simulate("cosine:T_max=10", optimizer="adam")
    assert "beta1" in render(table(adam))  # constant 0.9, but the user chose Adam
    assert "momentum" not in render(table(simulate("cosine:T_max=10")))
    assert "momentum" in render(table(simulate("cosine:T_max=10"), momentum=True))


def test_compare_table_says_where_each_run_length_came_from() -> None:
    """Issue 10.1: a comparison without --epochs says which kwarg sized each curve."""
    schedules = [simulate("cosine:T_max=40"), simulate("exponential:gamma=0.9")]
    text = render(compare_table(schedules, ["cosine", "exp"]))
    assert row_cells(text, "run length from")[1:] == ["T_max=40", "default"]
    given = [simulate("cosine:T_max=40", epochs=40), simulate("exponential:gamma=0.9", epochs=40)]
    assert "run length from" not in render(compare_table(given, ["cosine", "exp"]))


def test_many_curves_turn_the_comparison_sideways_at_80_columns() -> None:
    """Issue 10.12: six sweep curves at 80 columns: one row each, no number split in two."""
    from types import SimpleNamespace

    flat = [simulate(f"sgdr:T_0={t},T_mult={m}", epochs=100) for t in (5, 10, 20) for m in (1, 2)]
    for s, (t, m) in zip(flat, [(t, m) for t in (5, 10, 20) for m in (1, 2)], strict=True):
        s.name = f"T_0={t}, T_mult={m}"
    result = SimpleNamespace(
        request=SimpleNamespace(display=report_display()), flat=flat, written=[], diagnostics=[]
    )
    text = render80(Group(*report.result_view(result)))
    assert all(len(line) <= 80 for line in text.splitlines())
    assert row_cells(text, "T_0=5, T_mult=2")[1:5] == ["100", "0.1", "0.1", "0.0001541"]
    wide = render(Group(*report.result_view(result)))
    assert row_cells(wide, "steps")[1:] == ["100"] * 6  # 120 columns: one column per curve


def report_display():
    from lrplot.options import DisplayOptions

    return DisplayOptions()
