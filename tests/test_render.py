"""Tests of lrplot.render: decimation, figure contents (numbers, not pixels) and saving."""

from __future__ import annotations

import itertools
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from lrplot.engine import simulate
from lrplot.errors import OutputError, UsageError
from lrplot.render import contact_sheet, decimate, plot, save, sweep_grid
from lrplot.schedule import Event, Schedule

MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".svg": b"<?xml", ".pdf": b"%PDF-"}


def lines(ax, gid: str) -> list:
    """Return the lines of an axes with the given gid (prefix match for events)."""
    return [ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith(gid)]


def steps(line) -> tuple[np.ndarray, np.ndarray]:
    """Return a held line's points without the point that ends its last step."""
    return line.get_xdata()[:-1], line.get_ydata()[:-1]


def legend_texts(fig) -> list[str]:
    """Return the texts of the figure's legend (it sits beside the axes)."""
    return [t.get_text() for t in fig.legends[0].get_texts()] if fig.legends else []


def triangle(n: int, period: int) -> np.ndarray:
    """Return a triangular wave of ``n`` points between 0.01 and 0.1."""
    phase = (np.arange(n) % period) / period
    return 0.01 + 0.09 * (1 - np.abs(2 * phase - 1))


@pytest.fixture(scope="module")
def cosine() -> Schedule:
    return simulate("cosine:T_max=150")


@pytest.fixture(scope="module")
def multistep() -> Schedule:
    return simulate("multistep:milestones=[30,80],gamma=0.5", lr="0.1,0.01")


@pytest.fixture(scope="module")
def plateau() -> Schedule:
    return simulate("plateau")


# -- import ------------------------------------------------------------------------------


def test_import_does_not_load_matplotlib():
    code = "import sys, lrplot.render; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- decimate ----------------------------------------------------------------------------


def test_decimate_keeps_every_level_and_jump_of_a_piecewise_constant_curve():
    n, width = 1_000_000, 1600
    rng = np.random.default_rng(0)
    jumps = np.sort(rng.choice(np.arange(1, n // 2000), size=60, replace=False)) * 2000
    levels = 0.1 * 0.8 ** np.arange(len(jumps) + 1)
    y = levels[np.searchsorted(jumps, np.arange(n), side="right")]
    x = np.arange(n, dtype=float)
    dx, dy = decimate(x, y, width)
    assert len(dx) <= 4 * width
    assert set(np.unique(dy)) == set(levels)
    assert set(jumps.tolist()) <= set(dx.astype(int).tolist())
    assert np.all(np.diff(dx) > 0)  # original order, no duplicates
    np.testing.assert_array_equal(dy, y[dx.astype(int)])  # points are real points


def test_decimate_keeps_every_peak_and_trough_of_a_cyclic_curve():
    n, width, period = 1_000_000, 1600, 3_333  # cycles do not line up with buckets
    y = triangle(n, period)
    x = np.arange(n)
    dx, dy = decimate(x, y, width)
    assert len(dx) <= 4 * width
    assert dy.max() == y.max() and dy.min() == y.min()
    inner = y[1:-1]
    peaks = np.flatnonzero((inner > y[:-2]) & (inner >= y[2:])) + 1
    troughs = np.flatnonzero((inner < y[:-2]) & (inner <= y[2:])) + 1
    kept = set(dx.tolist())
    assert len(peaks) > 250 and set(peaks.tolist()) <= kept
    assert set(troughs.tolist()) <= kept


def test_decimate_returns_small_inputs_unchanged():
    x, y = np.arange(400.0), np.linspace(1, 0, 400)
    dx, dy = decimate(x, y, 100)
    assert dx is x and dy is y


def test_decimate_rejects_bad_input():
    with pytest.raises(ValueError):
        decimate(np.arange(10), np.arange(9), 2)
    with pytest.raises(ValueError):
        decimate(np.arange(10), np.arange(10), 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=3000), st.integers(1, 300))
def test_decimate_keeps_first_last_and_each_bucket_extremes(values, width):
    y = np.array(values)
    x = np.arange(len(y))
    dx, dy = decimate(x, y, width)
    assert len(dx) <= max(len(y), 4 * width)
    assert dx[0] == 0 and dx[-1] == len(y) - 1
    assert dy.max() == y.max() and dy.min() == y.min()
    np.testing.assert_array_equal(dy, y[dx])


# -- plot --------------------------------------------------------------------------------


def test_plot_draws_the_schedule_exactly(cosine):
    fig = plot(cosine)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    (line,) = lines(ax, "lr")
    np.testing.assert_array_equal(steps(line)[0], cosine.epoch)
    np.testing.assert_array_equal(steps(line)[1], cosine.lr[:, 0])
    # each lr is held over its step, the last one until the end of the run
    assert line.get_drawstyle() == "steps-post"
    assert (line.get_xdata()[-1], line.get_ydata()[-1]) == (150.0, cosine.lr[-1, 0])
    assert ax.get_xlim() == (0.0, 150.0)
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "learning rate"
    assert ax.get_title() == cosine.title
    assert ax.get_legend() is None
    assert ax.get_yscale() == "linear"
    assert fig.get_size_inches().tolist() == [8.0, 4.5]


def test_plot_per_step_x_axis():
    s = simulate("onecycle:max_lr=0.1", epochs=5, steps_per_epoch=20)
    ax = plot(s, x="step").axes[0]
    np.testing.assert_array_equal(lines(ax, "lr")[0].get_xdata(), np.arange(101))
    assert ax.get_xlabel() == "optimizer step"
    assert plot(s).axes[0].get_xlim() == (0.0, 5.0)


def test_plot_one_line_per_group_with_legend(multistep):
    fig = plot(multistep)
    ax = fig.axes[0]
    lr_lines = lines(ax, "lr")
    assert len(lr_lines) == 2
    for g, line in enumerate(lr_lines):
        np.testing.assert_array_equal(steps(line)[1], multistep.lr[:, g])
    assert ax.get_legend() is None  # beside the axes, never on a curve
    assert legend_texts(fig) == ["group 0 (lr 0.1)", "group 1 (lr 0.01)"]


def test_plot_marks_events(multistep):
    ax = plot(multistep).axes[0]
    events = lines(ax, "event:")
    assert len(events) == 2
    assert [ln.get_xdata()[0] for ln in events] == [30, 80]
    assert {ln.get_gid() for ln in events} == {"event:decay"}
    assert [t.get_text() for t in ax.texts] == ["×0.5", "×0.5"]
    per_batch = simulate("multistep:milestones=[30,80]", steps_per_epoch=10)
    ax = plot(per_batch, x="step").axes[0]
    assert [ln.get_xdata()[0] for ln in lines(ax, "event:")] == [300, 800]


def test_plot_keeps_event_lines_but_drops_labels_when_crowded():
    s = simulate("step:step_size=5", epochs=100)
    ax = plot(s).axes[0]
    assert len(lines(ax, "event:")) == len(s.events) == 19
    assert len(ax.texts) == 0


def test_plot_marks_where_a_run_stopped():
    s = simulate("onecycle:max_lr=0.1,total_steps=500", epochs=50, steps_per_epoch=20)
    ax = plot(s, x="step").axes[0]
    (stop,) = lines(ax, "event:stop")
    assert stop.get_xdata()[0] == 501 and stop.get_color() == "#d62728"
    assert "stopped" in [t.get_text() for t in ax.texts]
    assert ax.get_xlim() == (0.0, 1000.0)  # the planned run, so the gap shows


def test_plot_log_scale(cosine):
    assert plot(cosine, log=True).axes[0].get_yscale() == "log"


def test_plot_log_refuses_an_lr_of_zero():
    s = simulate("poly:total_iters=10", epochs=12)
    with pytest.raises(UsageError) as info:
        plot(s, log=True)
    assert info.value.message == "--log needs every lr > 0; poly reaches 0 at step 10"
    assert "eta_min" in info.value.hint


def test_plot_momentum_panel():
    s = simulate("onecycle:max_lr=0.1", epochs=5, steps_per_epoch=20)
    fig = plot(s, momentum=True)
    assert len(fig.axes) == 2
    mom = fig.axes[1]
    np.testing.assert_array_equal(steps(lines(mom, "momentum")[0])[1], s.momentum[:, 0])
    assert mom.get_ylabel() == "momentum"
    assert mom.get_shared_x_axes().joined(fig.axes[0], mom)
    assert fig.get_size_inches()[1] > 4.5
    adam = simulate("cosine:T_max=10", optimizer="adam")
    assert plot(adam, momentum=True).axes[1].get_ylabel() == "beta1"


def test_plot_metric_on_a_twin_axis(plateau):
    fig = plot(plateau)
    ax, twin = fig.axes
    (metric,) = lines(twin, "metric")
    np.testing.assert_array_equal(metric.get_ydata(), plateau.metric)
    assert twin.get_ylabel() == "metric"
    assert not fig.legends and ax.get_legend() is None  # the axis labels name both lines
    assert len(lines(ax, "event:reduce")) == len(plateau.events)


def test_plot_compare_overlay_and_grid(cosine, multistep, plateau):
    fig = plot([cosine, multistep, plateau])
    ax = fig.axes[0]
    assert len(lines(ax, "lr")) == 4
    legend = legend_texts(fig)
    assert legend[:3] == ["cosine", "multistep · group 0 (lr 0.1)", "multistep · group 1 (lr 0.01)"]
    assert ax.get_title() == "lrplot compare: cosine, multistep, plateau"
    assert ax.get_xlim() == (0.0, 150.0)
    assert legend_texts(plot([cosine, plateau], labels=["a", "b"]))[:2] == ["a", "b"]
    grid = plot([cosine, multistep, plateau], layout="grid")
    lr_axes = [a for a in grid.axes if lines(a, "lr")]
    assert len(lr_axes) == 3
    assert all(lr_axes[0].get_shared_y_axes().joined(lr_axes[0], a) for a in lr_axes)
    assert grid.get_suptitle() == "lrplot compare: cosine, multistep, plateau"
    assert len(plot([cosine, multistep], layout="grid", momentum=True).axes) == 4


def test_plot_compare_tells_same_named_schedules_apart():
    a, b = simulate("cosine:T_max=100", epochs=100), simulate("cosine:T_max=50", epochs=100)
    assert legend_texts(plot([a, b])) == ["cosine --T_max 100", "cosine --T_max 50"]


def test_plot_wraps_long_titles_and_draws_annotations(cosine):
    fig = plot(cosine, title="word " * 60, annotations=["T_max is shorter than the run"])
    assert "\n" in fig.axes[0].get_title()
    assert "T_max is shorter than the run" in fig.get_supxlabel()


def test_plot_factors_a_power_of_ten_out_of_tiny_lrs():
    s = simulate("cosine:T_max=10", lr="3e-4")
    assert plot(s).axes[0].get_ylabel() == "learning rate ($\\times 10^{-4}$)"


def test_plot_decimates_long_runs():
    n = 1_000_000
    s = Schedule(lr=triangle(n, 4000), steps_per_epoch=1000, name="cyclic", step_per="iter")
    (line,) = lines(plot(s, width_px=800, dpi=100).axes[0], "lr")
    assert len(line.get_xdata()) <= 4 * 800 + 1
    assert line.get_ydata().max() == s.lr.max() and line.get_ydata().min() == s.lr.min()


def test_plot_rejects_bad_options(cosine):
    with pytest.raises(UsageError):
        plot(cosine, x="time")
    with pytest.raises(UsageError):
        plot(cosine, layout="stack")
    with pytest.raises(UsageError):
        plot([cosine, cosine], labels=["only one"])
    with pytest.raises(UsageError):
        plot([])


def test_plot_cost_does_not_grow_with_steps():
    """Drawing cost is bounded by the pixel width: at most 4 points per pixel column."""

    def drawn(n: int) -> int:
        s = Schedule(lr=triangle(n, n // 25), steps_per_epoch=100, name="c", step_per="iter")
        return len(lines(plot(s, width_px=800).axes[0], "lr")[0].get_xdata())

    assert drawn(1_000_000) <= 4 * 800 + 1 and drawn(10_000) <= 4 * 800 + 1


# -- save --------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".png", ".svg", ".pdf", ".PNG"])
def test_save_writes_the_format_reproducibly(tmp_path, multistep, ext):
    first, second = tmp_path / f"a{ext}", tmp_path / f"b{ext}"
    plot(multistep, first, momentum=True)
    plot(multistep, second, momentum=True)  # a new figure, same content
    assert first.read_bytes().startswith(MAGIC[ext.lower()])
    assert first.read_bytes() == second.read_bytes()
    assert list(tmp_path.glob(".lrplot-*")) == []


def test_save_gives_a_new_file_the_umask_mode(tmp_path, cosine):
    umask = os.umask(0o022)
    try:
        plot(cosine, tmp_path / "c.png")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "c.png").stat().st_mode) == 0o644


def test_save_rejects_unknown_formats_and_missing_directories(tmp_path, cosine):
    fig = plot(cosine)
    with pytest.raises(OutputError, match=r"unknown image format '\.jpg'"):
        save(fig, tmp_path / "c.jpg")
    with pytest.raises(OutputError, match="unknown image format"):
        save(fig, tmp_path / "c")
    with pytest.raises(OutputError, match="does not exist"):
        save(fig, tmp_path / "missing" / "c.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        save(fig, tmp_path / "dir.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.png"]


def test_failed_save_leaves_the_old_file_and_no_temp_file(tmp_path, cosine, monkeypatch):
    target = tmp_path / "c.png"
    target.write_bytes(b"old image")
    fig = plot(cosine)

    def broken(self, fname, **kwargs):
        fname.write(b"partial data")
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OutputError, match="renderer exploded"):
        save(fig, target)
    assert target.read_bytes() == b"old image"
    assert [p.name for p in tmp_path.iterdir()] == ["c.png"]


def test_permission_error_becomes_output_error(tmp_path, cosine, monkeypatch):
    def denied(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(OutputError, match="Permission denied"):
        plot(cosine, tmp_path / "c.svg")
    assert list(tmp_path.iterdir()) == []


# -- sweep grid and contact sheet --------------------------------------------------------


def test_sweep_grid():
    cells = [
        [simulate(f"cosine:T_max={t},eta_min={m}", epochs=100) for m in (0, 0.01)]
        for t in (50, 100)
    ]
    fig = sweep_grid(
        cells,
        row_labels=["T_max=50", "T_max=100"],
        col_labels=["eta_min=0", "eta_min=0.01"],
        title="sweep",
    )
    assert len(fig.axes) == 4
    assert [a.get_title() for a in fig.axes[:2]] == ["eta_min=0", "eta_min=0.01"]
    assert [fig.axes[0].get_ylabel(), fig.axes[2].get_ylabel()] == ["T_max=50", "T_max=100"]
    assert fig.axes[0].get_shared_y_axes().joined(fig.axes[0], fig.axes[3])
    np.testing.assert_array_equal(steps(lines(fig.axes[3], "lr")[0])[1], cells[1][1].lr[:, 0])
    with pytest.raises(UsageError):
        sweep_grid(cells, row_labels=["one"], col_labels=["a", "b"])
    with pytest.raises(UsageError):
        sweep_grid(cells, row_labels=["a", "b"], col_labels=["a"])


def test_contact_sheet(tmp_path, cosine, multistep, plateau):
    images = []
    for s in (cosine, multistep, plateau):
        path = tmp_path / f"{s.name}.png"
        plot(s, path, width_px=600, dpi=100)
        images.append((s.name, path))
    sheet = tmp_path / "sheet.png"
    contact_sheet(images, sheet, columns=2)
    assert sheet.read_bytes().startswith(MAGIC[".png"])
    import matplotlib.image

    height, width = matplotlib.image.imread(sheet).shape[:2]
    assert width == 2 * 3.2 * 150 and height > width / 2
    with pytest.raises(OutputError, match="no images"):
        contact_sheet([], tmp_path / "empty.png")
    with pytest.raises(OutputError, match="cannot read"):
        contact_sheet([("gone", tmp_path / "gone.png")], tmp_path / "bad.png")


def test_hand_made_schedule_without_extras_plots():
    s = Schedule(lr=np.array([0.1, 0.1, 0.05]), events=[Event(2, "decay", "×0.5")])
    fig = plot(s, momentum=True)
    assert fig.axes[0].get_title() == ""
    assert any(t.get_text() == "no momentum recorded" for t in fig.axes[1].texts)


# -- issue 10: pictures that do not mislead ----------------------------------------------


def _boxes(fig, artists):
    renderer = fig.canvas.get_renderer()
    return [a.get_window_extent(renderer) for a in artists]


def test_per_epoch_schedules_are_held_over_each_step():
    """Issue 10.7: an SGDR restart is a vertical edge, not a slope over the epoch before."""
    s = simulate("sgdr:T_0=10", epochs=30)
    (line,) = lines(plot(s).axes[0], "lr")
    assert line.get_drawstyle() == "steps-post"
    assert line.get_xdata().tolist() == list(range(31))  # each epoch's lr held to the next
    from matplotlib.cbook import pts_to_poststep

    xs, ys = pts_to_poststep(line.get_xdata(), line.get_ydata())  # the path matplotlib draws
    at_restart = sorted(float(y) for x, y in zip(xs, ys, strict=True) if x == 10.0)
    assert at_restart == sorted([float(s.lr[9, 0]), float(s.lr[10, 0])])  # a vertical edge


def test_lr_axis_is_log_when_most_of_the_run_is_decades_below_the_peak():
    """Issue 10.8: plateau/exponential cuts get a log axis; a cosine stays linear from 0."""
    plateau = simulate("plateau:patience=5", epochs=100)
    assert plot(plateau).axes[0].get_yscale() == "log"
    assert plot(plateau, log=False).axes[0].get_yscale() == "linear"
    assert plot(simulate("exponential:gamma=0.9", epochs=100)).axes[0].get_yscale() == "log"
    cosine = plot(simulate("cosine:T_max=150")).axes[0]
    assert cosine.get_yscale() == "linear"
    floor = simulate("plateau:patience=5,factor=0.5,min_lr=0.05", metric="1", epochs=40)
    ax = plot(floor).axes[0]
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0.0  # x2 looks like x2


def test_metric_axis_is_named_and_its_padded_part_shaded(tmp_path, monkeypatch):
    """Issue 10.3/10.8: the metric axis names its CSV column; invented values are shaded."""
    monkeypatch.chdir(tmp_path)
    rows = ["epoch,val_loss"] + [f"{i},{max(0.4, 1 - 0.02 * i)}" for i in range(60)]
    (tmp_path / "losses.csv").write_text("\n".join(rows) + "\n")
    s = simulate("plateau:patience=3", metric="@losses.csv", epochs=100)
    ax, twin = plot(s).axes
    assert twin.get_ylabel() == "val_loss (shaded: last value repeated)"
    (span,) = [p for p in ax.patches if p.get_gid() == "metric-padded"]
    assert (span.get_x(), span.get_x() + span.get_width()) == (60.0, 100.0)
    whole = simulate("plateau:patience=3", metric="@losses.csv")
    ax, twin = plot(whole).axes
    assert twin.get_ylabel() == "val_loss" and not ax.patches


def test_boxes_and_labels_stay_off_the_data():
    """Issue 10.9: diagnostics and the legend sit outside the axes; labels do not collide."""
    cos = simulate("cosine:T_max=20", epochs=150)
    fig = plot(cos, annotations=["T_max=20 but the run is 150 epochs"])
    fig.canvas.draw()
    (ax,) = fig.axes
    (note,) = _boxes(fig, [fig._supxlabel])
    assert note.y1 <= ax.get_window_extent().y0  # below the axes
    three = [simulate(t, epochs=100) for t in ("cosine:T_max=100", "step:step_size=30")]
    fig = plot(three)
    fig.canvas.draw()
    (legend,) = _boxes(fig, fig.legends)
    assert legend.x0 >= fig.axes[0].get_window_extent().x1  # beside the axes
    sgdr = plot(simulate("sgdr:T_0=4", epochs=40))  # nine restarts, labelled
    sgdr.canvas.draw()
    labels = _boxes(sgdr, sgdr.axes[0].texts)
    assert len(labels) >= 4
    assert all(a.x1 <= b.x0 for a, b in itertools.pairwise(labels))


def test_compare_markers_take_their_curves_colour():
    a = simulate("step:step_size=30", epochs=100)
    b = simulate("multistep:milestones=[50]", epochs=100)
    ax = plot([a, b]).axes[0]
    curves = [ln.get_color() for ln in lines(ax, "lr")]
    marks = {ln.get_xdata()[0]: ln.get_color() for ln in lines(ax, "event:")}
    assert marks == {30: curves[0], 60: curves[0], 90: curves[0], 50: curves[1]}


def test_large_step_counts_tick_as_k_and_m():
    s = Schedule(lr=np.linspace(0.1, 0.01, 1_000_000), steps_per_epoch=1000, step_per="iter")
    fig = plot(s, x="step")
    fig.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert "1M" in ticks and "200k" in ticks, ticks
    assert not fig.axes[0].xaxis.get_offset_text().get_text()


def test_python_callable_in_a_title_reads_as_its_name():
    from lrplot.spec import make_spec

    def decay(epoch: int) -> float:
        return 0.9**epoch

    s = simulate(make_spec("lambda", {"lr_lambda": [decay, lambda e: 1.0]}, lr=(0.1, 0.1)))
    title = plot(s).axes[0].get_title()
    assert "0x" not in title and "decay" in title and "<lambda>" in title, title
