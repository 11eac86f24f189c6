"""The pages in a real browser: Debian's chromium driven by Playwright (no ``playwright install``).

Without chromium or playwright these tests are skipped, except in CI (``CI=true``), where
they fail: ``.ci/run`` installs both.
"""

from __future__ import annotations

import base64
import csv
import re
import shlex
import threading

import numpy as np
import pytest
from typer.testing import CliRunner

from lrplot import cli, explore, gallery, html
from tests.conftest import canonical

runner = CliRunner()


class Tab:
    """One page, with its requests and console messages recorded."""

    def __init__(self, browser, url: str, width: int = 1400, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on(
            "console", lambda m: m.type in ("error", "warning") and self.problems.append(m.text)
        )
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.open(url)

    def open(self, url: str) -> None:
        self.url = url
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready]", timeout=120_000)
        state = self.page.evaluate("() => document.body.dataset.ready")
        assert state == "1", self.page.inner_text("body")[:2000]

    def js(self, code: str, arg=None):
        return self.page.evaluate(code, arg)

    def settle(self) -> None:
        """uPlot applies a mouse move on the next animation frame: wait two."""
        self.js("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def hover(self, x: float) -> dict:
        """Put the mouse on x (in steps) and return the tooltip: step and values by curve."""
        left, top = self.js(
            """(x) => { const u = lrplot.u, r = u.over.getBoundingClientRect();
            return [r.left + u.valToPos(x, 'x'), r.top + r.height / 2]; }""",
            x,
        )
        self.page.mouse.move(left, top)
        self.settle()
        return self.js(
            """() => { const tip = document.getElementById('lp-tip');
            const head = tip.querySelector('.h').textContent;
            const rows = [...tip.querySelectorAll('.r[data-curve]')].map((r) =>
                [lrplot.curves[+r.dataset.curve].name, r.querySelector('.v').textContent]);
            return {head, rows: Object.fromEntries(rows)}; }"""
        )

    def curves(self) -> dict[str, np.ndarray]:
        """Return the arrays the viewer holds, bit for bit."""
        pairs = self.js(
            """() => lrplot.curves.map((c) => { const b = new Uint8Array(c.y.buffer,
                c.y.byteOffset, c.y.byteLength); let s = '';
            for (let i = 0; i < b.length; i += 0x8000)
                s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
            return [c.name, btoa(s)]; })"""
        )
        return {name: np.frombuffer(base64.b64decode(b64), "<f8") for name, b64 in pairs}

    def no_overflow(self) -> bool:
        return self.js("() => document.documentElement.scrollWidth <= window.innerWidth")

    def close(self) -> None:
        self.context.close()


def same_bits(a, b) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.array_equal(a.view(np.int64), b.view(np.int64)))


def step_of(head: str) -> int:
    return int(re.match(r"step ([\d,]+)", head).group(1).replace(",", ""))


# ------------------------------------------------------------------ -o x.html


@pytest.fixture(scope="module")
def onecycle_page(tmp_path_factory):
    """A 100,000-step OneCycleLR page (two groups, momentum) and the canonical loop's values."""
    out = tmp_path_factory.mktemp("page") / "onecycle.html"
    args = ["--max_lr", "0.1,0.01", "--epochs", "100", "--steps-per-epoch", "1000"]
    result = runner.invoke(
        cli.app, ["onecycle", *args, "--lr", "0.1,0.01", "-o", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    want = canonical("onecycle:max_lr=[0.1,0.01]", epochs=100, steps_per_epoch=1000, lr=(0.1, 0.01))
    return out, want


def test_html_file_opens_offline_and_holds_the_exact_curves(browser, onecycle_page):
    path, want = onecycle_page
    tab = Tab(browser, path.as_uri())
    try:
        assert tab.requests == [path.as_uri()]  # nothing else: no CDN, no font, no favicon
        assert tab.problems == []
        got = tab.curves()
        assert list(got) == ["lr_0", "lr_1", "momentum_0", "momentum_1"]
        for g in (0, 1):
            assert same_bits(got[f"lr_{g}"], want["lr"][:, g])
            assert same_bits(got[f"momentum_{g}"], want["momentum"][:, g])
    finally:
        tab.close()


@pytest.mark.parametrize("step", [0, 1, 29_999, 30_000, 54_321, 99_998, 99_999])
def test_html_hover_shows_the_exact_value_of_a_step(browser, onecycle_page, step):
    path, want = onecycle_page
    tab = Tab(browser, path.as_uri())
    try:
        tab.js("([a, b]) => lrplot.setView(a, b)", [step - 40, step + 40])
        tip = tab.hover(step + 0.5)  # the middle of the step's [s, s+1) span
        assert step_of(tip["head"]) == step, tip
        assert f"epoch {step // 1000}" in tip["head"]
        for g in (0, 1):
            assert float(tip["rows"][f"lr_{g}"]) == want["lr"][step, g]
            assert float(tip["rows"][f"momentum_{g}"]) == want["momentum"][step, g]
    finally:
        tab.close()


def test_html_hover_is_exact_at_full_view_and_controls_work(browser, onecycle_page):
    path, want = onecycle_page
    tab = Tab(browser, path.as_uri())
    try:
        tip = tab.hover(61_234)  # hundreds of steps per pixel: the step under the mouse
        step = step_of(tip["head"])
        assert abs(step - 61_234) < 500 and float(tip["rows"]["lr_0"]) == want["lr"][step, 0]
        drawn = tab.js("() => lrplot.u.data[0].length")
        assert drawn <= 4 * tab.js("() => lrplot.u.bbox.width") + 2  # decimated for drawing
        tab.page.click("#lp-log")
        assert tab.js("() => lrplot.u.scales.y.distr") == 3
        tab.page.click("#lp-legend button >> nth=1")  # hide lr_1
        assert "lr_1" not in tab.hover(500.5)["rows"]
        tab.page.dblclick("#lp-chart .u-over")
        assert tab.js("() => lrplot.view") == {"a": 0, "b": 100_000}
    finally:
        tab.close()


def test_html_copy_button_copies_the_command(browser, onecycle_page):
    path, _ = onecycle_page
    tab = Tab(browser, path.as_uri())
    try:
        tab.context.grant_permissions(["clipboard-read", "clipboard-write"])
        tab.page.click("#lp-copy")
        tab.page.wait_for_selector("#lp-copy.ok")
        copied = tab.js("() => navigator.clipboard.readText()")
        assert copied.startswith("lrplot onecycle --max_lr 0.1,0.01")
        assert copied == tab.js("() => lrplot.payload.command")
    finally:
        tab.close()


@pytest.mark.parametrize("width", [1400, 390])
def test_html_fits_desktop_and_phone(browser, tmp_path, width):
    out = tmp_path / "c.html"
    runner.invoke(cli.app, ["cosine", "--T_max", "20", "--epochs", "60", "-o", str(out)])
    tab = Tab(browser, out.as_uri(), width, 900 if width > 600 else 844)
    try:
        assert tab.no_overflow()
        assert tab.page.is_visible("#lp-notes")  # the T_max diagnostic and its fix
        assert "fix:" in tab.page.inner_text("#lp-notes")
    finally:
        tab.close()


def test_gallery_pages_load_only_their_shared_library(browser, tmp_path):
    config = tmp_path / "g.yaml"
    config.write_text(
        "defaults: {epochs: 12, formats: [png, html]}\n"
        "entries:\n  c: {scheduler: cosine, kwargs: {T_max: 4}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "site"
    assert gallery.run(config, out, formats=None).ok
    page = out / "c.html"
    tab = Tab(browser, page.as_uri())
    try:
        assert tab.requests == [page.as_uri(), (out / html.LIBRARY_FILE).as_uri()]
        assert tab.problems == []
        assert same_bits(tab.curves()["lr"], canonical("cosine:T_max=4", epochs=12)["lr"][:, 0])
    finally:
        tab.close()


# ------------------------------------------------------------------ lrplot explore


@pytest.fixture
def explorer():
    """Start an explorer in this process; return its URL."""
    running = []

    def start(state) -> str:
        server, url = explore.make_server(explore.Setup(state), 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        running.append(server)
        return url

    yield start
    for server in running:
        server.explorer.stop()
        server.shutdown()
        server.server_close()


def change(tab: Tab, name: str, value: str) -> None:
    """Type a value into a field and press Enter; wait for the answer."""
    answers = tab.js("() => explore.timings.answers")
    tab.page.fill(f"#f-{name}", value)
    tab.page.press(f"#f-{name}", "Enter")
    tab.page.wait_for_function("(n) => explore.timings.answers > n", arg=answers, timeout=120_000)


def test_explorer_redraws_the_canonical_loop_on_a_field_change(browser, explorer):
    url = explorer([("scheduler", "cosine"), ("T_max", "30")])
    tab = Tab(browser, url)
    try:
        assert tab.problems == []
        assert same_bits(tab.curves()["lr"], canonical("cosine:T_max=30")["lr"][:, 0])
        change(tab, "T_max", "45")
        change(tab, "epochs", "60")
        assert same_bits(tab.curves()["lr"], canonical("cosine:T_max=45", epochs=60)["lr"][:, 0])
        assert "T_max=45" in tab.page.url and "epochs=60" in tab.page.url
        assert tab.page.inner_text("#lp-title") == "lrplot cosine --T_max 45 --epochs 60"
        assert "T_max=45 but the run is 60 epochs" in tab.page.inner_text("#lp-notes")
        # another scheduler, and a run option that is a list
        tab.page.select_option("#ex-scheduler", "exponential")
        tab.page.wait_for_selector(".ex-field[data-name=gamma].bad")  # gamma is required
        assert "needs gamma" in tab.page.inner_text(".ex-field[data-name=gamma] .ex-err")
        change(tab, "gamma", "0.9")
        change(tab, "lr", "0.1,0.05")
        want = canonical("exp:gamma=0.9", epochs=60, lr=(0.1, 0.05))["lr"]
        got = tab.curves()
        assert same_bits(got["lr_0"], want[:, 0]) and same_bits(got["lr_1"], want[:, 1])
        assert tab.requests and all(u.startswith(url.split("?")[0]) for u in tab.requests)
    finally:
        tab.close()


def test_explorer_shows_a_bad_value_next_to_its_field(browser, explorer):
    tab = Tab(browser, explorer([("scheduler", "cosine"), ("T_max", "30")]))
    try:
        change(tab, "T_max", "abc")
        field = ".ex-field[data-name=T_max]"
        assert "expects an integer, got 'abc'" in tab.page.inner_text(f"{field} .ex-err")
        assert tab.js("() => document.querySelectorAll('.ex-field.bad').length") == 1
        assert tab.page.inner_text("#ex-status") == "showing the last valid curve"
        change(tab, "T_max", "20")
        assert tab.js("() => document.querySelectorAll('.ex-field.bad').length") == 0
        change(tab, "warmup_start_factor", "2")  # a run option has its own field too
        bad = ".ex-field[data-name=warmup_start_factor].bad .ex-err"
        assert "--warmup-start-factor must be in (0, 1]" in tab.page.inner_text(bad)
        change(tab, "warmup_start_factor", "")
        assert tab.js("() => document.querySelectorAll('.ex-field.bad').length") == 0
    finally:
        tab.close()


def test_explorer_copies_reproduce_the_curve_on_the_command_line(
    browser, explorer, tmp_path, monkeypatch
):
    state = [("scheduler", "sgdr"), ("T_0", "7"), ("T_mult", "2"), ("steps_per_epoch", "3")]
    url = explorer(state)
    tab = Tab(browser, url)
    try:
        origin = url.split("/?")[0]
        tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
        tab.page.select_option("#f-step_per", "iter")  # a change event: no typing delay
        tab.page.wait_for_function("() => explore.timings.runs >= 2")
        copies = {}
        for kind in ("command", "spec", "yaml", "python"):
            tab.page.click(f"#ex-actions [data-copy={kind}]")
            tab.page.wait_for_selector(f"#ex-actions [data-copy={kind}].ok")
            copies[kind] = tab.js("() => navigator.clipboard.readText()")
        page_lr = tab.curves()["lr"]
        assert copies["command"] == "lrplot cosine-restarts --T_0 7 --T_mult 2 " + (
            "--steps-per-epoch 3 --step-per iter"
        )
        monkeypatch.chdir(tmp_path)
        words = shlex.split(copies["command"])
        result = runner.invoke(cli.app, [*words[1:], "-o", "x.csv"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        with open("x.csv", newline="") as f:
            column = [float(row["lr"]) for row in csv.DictReader(f)]
        assert same_bits(column, page_lr)
        assert copies["spec"] == "cosine-restarts:T_0=7,T_mult=2,steps_per_epoch=3,step_per=iter"
        assert "scheduler: cosine-restarts" in copies["yaml"]
        assert "lrplot.simulate(" in copies["python"]
    finally:
        tab.close()


def test_explorer_url_reloads_the_same_state(browser, explorer):
    tab = Tab(browser, explorer([("scheduler", "multistep"), ("milestones", "30,80")]))
    try:
        change(tab, "gamma", "0.5")
        tab.page.click("#ex-pin")
        tab.page.wait_for_selector("#ex-pins li")
        change(tab, "milestones", "20,40,60")
        tab.page.select_option("#f-log", "true")
        tab.page.wait_for_function("() => lrplot.logY === true")
        url = tab.page.url
        assert "pin=" in url and "log=true" in url
        before = tab.curves()
        again = Tab(browser, url)
        try:
            assert again.page.input_value("#f-milestones") == "20,40,60"
            assert again.page.input_value("#f-gamma") == "0.5"
            assert (
                again.page.input_value("#f-log") == "true" and again.js("() => lrplot.logY") is True
            )
            pinned = again.page.inner_text("#ex-pins")
            assert "pin 1: multistep:milestones=[30,80],gamma=0.5" in pinned
            after = again.curves()
            assert list(after) == list(before)
            assert all(same_bits(after[k], before[k]) for k in before)
            assert again.page.url == url
        finally:
            again.close()
    finally:
        tab.close()


@pytest.mark.parametrize("width", [1400, 390])
def test_explorer_fits_desktop_and_phone(browser, explorer, width):
    url = explorer([("scheduler", "onecycle"), ("max_lr", "0.1"), ("epochs", "20")])
    tab = Tab(browser, url, width, 900 if width > 600 else 844)
    try:
        assert tab.no_overflow()
        assert tab.page.is_visible("#lp-chart") and tab.page.is_visible("#f-max_lr")
    finally:
        tab.close()
