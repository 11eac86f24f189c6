"""Take the README's screenshots of ``-o x.html`` and ``lrplot explore`` (1400 and 390 px wide).

Run: ``.venv/bin/python docs/screenshots.py`` (needs chromium and playwright, as the browser
tests do). Writes ``docs/img/{html,explore}-{1400,390}.png``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import urllib.parse
from pathlib import Path

from playwright.sync_api import sync_playwright
from typer.testing import CliRunner

from lrplot import cli, explore

OUT = Path(__file__).resolve().parent / "img"
CHROMIUM = os.environ.get("LRPLOT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
PAGE = [
    "sgdr", "--T_0", "10", "--T_mult", "2", "--epochs", "150", "--steps-per-epoch", "100",
    "--warmup", "5", "--lr", "0.1,0.02",
]  # fmt: skip
STATE = [("scheduler", "cosine"), ("T_max", "100"), ("epochs", "150")]
PIN = [("scheduler", "cosine"), ("T_max", "150"), ("epochs", "150")]


def settle(page) -> None:
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def hover(page, x: float) -> None:
    left, top = page.evaluate(
        """(x) => { const u = lrplot.u, r = u.over.getBoundingClientRect();
        return [r.left + u.valToPos(x, 'x'), r.top + r.height * 0.35]; }""",
        x,
    )
    page.mouse.move(left, top)
    settle(page)


def main() -> None:
    """Write the four screenshots."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp, "sgdr.html")
        result = CliRunner().invoke(cli.app, [*PAGE, "-o", str(page_file)])
        assert result.exit_code == 0, result.output
        server, base = explore.make_server(explore.Setup(STATE), 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = base.split("?")[0] + "?" + urllib.parse.urlencode(STATE)
        url += "&pin=" + urllib.parse.quote(urllib.parse.urlencode(PIN))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for width, height in ((1400, 900), (390, 844)):
                    page = browser.new_page(viewport={"width": width, "height": height})
                    page.goto(page_file.as_uri())
                    page.wait_for_selector("body[data-ready]")
                    hover(page, 3712.5)
                    page.screenshot(path=OUT / f"html-{width}.png", full_page=width < 600)
                    page.goto(url)
                    page.wait_for_selector("body[data-ready]")
                    hover(page, 120.5)
                    page.screenshot(path=OUT / f"explore-{width}.png")
                    page.close()
                browser.close()
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    main()
