"""Output files: CSV and JSON streamed in chunks give the bytes of the whole-list writers."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from lrplot import export, schedule
from lrplot.schedule import Event, Schedule


def reference_csv(s: Schedule, momentum: bool | None = None) -> str:
    """The CSV as lrplot wrote it before streaming: whole columns as Python lists."""
    cols = s.columns(momentum)
    lines = [",".join(cols)]
    text_cols = [
        map(str, c.tolist()) if c.dtype.kind in "iu" else map(repr, c.tolist())
        for c in cols.values()
    ]
    lines += [",".join(row) for row in zip(*text_cols, strict=True)]
    return "\n".join(lines) + "\n"


def reference_dict(s: Schedule, momentum: bool | None = None) -> dict:
    return {
        "name": s.name,
        "title": s.title,
        "steps_per_epoch": s.steps_per_epoch,
        "step_per": s.step_per,
        "steps": s.n,
        "planned_steps": s.planned_steps,
        "length_from": s.length_from,
        "groups": s.groups,
        "stats": [s.stats(g) for g in range(s.groups)],
        "events": [{"step": e.step, "kind": e.kind, "label": e.label} for e in s.events],
        "notes": list(s.notes),
        "columns": {k: v.tolist() for k, v in s.columns(momentum).items()},
    }


def reference_compare_csv(schedules, labels) -> str:
    n = max(s.n for s in schedules)
    spe = {s.steps_per_epoch for s in schedules}
    header = ["step"] + (["epoch"] if len(spe) == 1 else [])
    columns = []
    for s, label in zip(schedules, labels, strict=True):
        for g in range(s.groups):
            header.append(label if s.groups == 1 else f"{label}[{g}]")
            values = list(map(repr, s.lr[:, g].tolist()))
            columns.append(values + [""] * (n - len(values)))
    out = [",".join(export._csv_cell(h) for h in header)]
    epoch = spe.pop() if len(spe) == 1 else None
    for i in range(n):
        out.append(
            ",".join([str(i)] + ([repr(i / epoch)] if epoch else []) + [c[i] for c in columns])
        )
    return "\n".join(out) + "\n"


def schedules() -> dict[str, Schedule]:
    rng = np.random.default_rng(0)
    n = 1000
    wild = rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)
    return {
        "one-group": Schedule(lr=np.linspace(0.1, 0.0, n), name="one", title="lrplot x"),
        "wild-floats": Schedule(lr=np.abs(wild) + 1e-300, steps_per_epoch=7, name="w"),
        "negative-zero": Schedule(lr=np.array([0.1, -0.0, 0.0, 5e-324]), name="z"),
        "two-groups-momentum": Schedule(
            lr=rng.random((n, 2)),
            momentum=rng.random((n, 2)),
            steps_per_epoch=3,
            name="two",
            momentum_name="beta1",
            events=[Event(5, "decay", "decay")],
            notes=["a note", "ünïcode \x1b"],
        ),
        "constant-momentum": Schedule(
            lr=np.repeat(rng.random(n // 10), 10),
            momentum=np.broadcast_to(np.array([[0.9]]), (n, 1)),
            steps_per_epoch=10,
            name="rep",
        ),
        "metric": Schedule(lr=rng.random(n), metric=rng.random(n), name="plateau"),
        "empty": Schedule(lr=np.zeros((0, 1)), name="none"),
        "one-row": Schedule(lr=np.array([0.1]), name="1"),
    }


@pytest.fixture(params=[1, 7, 1 << 16])
def chunk(request, monkeypatch):
    monkeypatch.setattr(schedule, "CHUNK_ROWS", request.param)
    monkeypatch.setattr(export, "CHUNK_ROWS", request.param)
    return request.param


@pytest.mark.parametrize("name", list(schedules()))
@pytest.mark.parametrize("momentum", [None, True])
def test_streamed_csv_and_json_are_byte_identical(name, momentum, chunk):
    s = schedules()[name]
    buf = io.StringIO()
    s.write_csv(buf, momentum=momentum)
    assert buf.getvalue() == reference_csv(s, momentum)
    buf = io.StringIO()
    s.write_json(buf, momentum=momentum)
    want = json.dumps(reference_dict(s, momentum), allow_nan=False) + "\n"
    assert buf.getvalue() == want
    assert s.to_dict(momentum) == reference_dict(s, momentum)


@pytest.mark.parametrize(
    "names",
    [
        ["one-group", "wild-floats"],
        ["one-group", "metric", "two-groups-momentum"],
        ["empty", "one-row"],
    ],
)
def test_streamed_compare_files_are_byte_identical(names, chunk, tmp_path):
    items = [schedules()[n] for n in names]
    labels = [f"label, {n}" for n in names]  # a comma: the header cell is quoted
    buf = io.StringIO()
    export.write_compare_csv(items, labels, buf)
    assert buf.getvalue() == reference_compare_csv(items, labels)
    export.write_data(items, labels, str(tmp_path / "x.json"), several=True)
    want = json.dumps([reference_dict(s) for s in items], allow_nan=False) + "\n"
    assert (tmp_path / "x.json").read_text() == want


def test_a_label_with_control_characters_is_escaped_in_the_csv_header():
    items = [schedules()["one-row"], schedules()["one-row"]]
    buf = io.StringIO()
    export.write_compare_csv(items, ["a\x1b[2Jb", "c\nd"], buf)
    assert buf.getvalue().splitlines()[0] == "step,epoch,a\\x1b[2Jb,c\\x0ad"


# ------------------------------------------------------------------ memory per row


def peak_rss_mb(*args: str, cwd) -> float:
    """Run ``lrplot ARGS``; return its own peak resident set in MB (Linux: wait4)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    lrplot = str(Path(sys.executable).parent / "lrplot")
    proc = subprocess.Popen([lrplot, *args], cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return usage.ru_maxrss / 1024


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_writing_rows_costs_little_memory_per_row(tmp_path, fmt):
    """2,000,000 rows: the lr array (8 bytes a row) and a chunk, not Python lists (~146)."""
    base = peak_rss_mb("cosine", "--T_max", "1000", "-o", f"small.{fmt}", cwd=tmp_path)
    rows = 2_000_000
    big = peak_rss_mb(
        *("cosine", "--T_max", "1000", "--epochs", "1000", "--steps-per-epoch", "2000"),
        *("--momentum", "-o", f"big.{fmt}"),
        cwd=tmp_path,
    )
    per_row = (big - base) * 2**20 / rows
    shown = f"{per_row:.0f} bytes per row ({base:.0f} MB -> {big:.0f} MB)"
    print(shown)
    assert per_row < 40, shown
