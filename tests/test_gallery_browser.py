"""The rendered gallery in a real browser (Debian's chromium driven by Playwright).

At a phone's width (390 px) and a desktop's (1400 px): nothing overflows sideways, every
image loads, there is one card per entry and the table of contents reaches every card.
The test skips when Playwright or chromium is missing, unless ``LRPLOT_BROWSER=required``
or ``CI=true`` (set by ``.ci/run``, which installs both).
``LRPLOT_SCREENSHOTS=DIR`` keeps screenshots.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lrplot import gallery

ROOT = Path(__file__).resolve().parent.parent
WIDTHS = (390, 1400)


def _inspect(browser, index: Path, width: int, shot: str) -> dict:
    """Open the page at ``width`` px; return what the test checks."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(index.as_uri())
        for image in page.query_selector_all("img"):  # lazy images load when seen
            image.scroll_into_view_if_needed()
        page.wait_for_function("[...document.images].every(i => i.complete)", timeout=30_000)
        found = page.evaluate(
            """() => ({
                overflow: document.documentElement.scrollWidth - window.innerWidth,
                wide: [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                    .map(e => e.tagName + '.' + e.className).slice(0, 5),
                broken: [...document.images].filter(i => !(i.naturalWidth > 0))
                    .map(i => i.getAttribute('src')),
                images: document.images.length,
                cards: [...document.querySelectorAll('.card')].map(c => c.id),
                toc: [...document.querySelectorAll('nav a')].map(a => a.getAttribute('href')),
                selfLinks: [...document.querySelectorAll('.card h2 a')]
                    .map(a => a.getAttribute('href')),
            })"""
        )
        keep = os.environ.get("LRPLOT_SCREENSHOTS")
        if keep:
            page.evaluate("window.scrollTo(0, 0)")
            Path(keep).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(keep) / f"{shot}-{width}.png"), full_page=False)
        return found
    finally:
        page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_repo_gallery_in_a_browser(browser, width):
    """The committed gallery/: fits the width, loads every image, one card per entry."""
    index = ROOT / "gallery" / "index.html"
    entries = gallery.load(ROOT / "configs" / "gallery.yaml").entries
    found = _inspect(browser, index, width, "gallery")
    assert found["overflow"] <= 0, found["wide"]
    assert found["broken"] == [] and found["images"] == len(entries)
    assert found["cards"] == [e.name for e in entries]
    assert found["toc"] == [f"#{e.name}" for e in entries]
    assert found["selfLinks"] == found["toc"]


BROKEN = """\
entries:
  fine:
    scheduler: cosine
    kwargs: {T_max: 10}
    epochs: 10
  crashes:
    scheduler: lambda
    kwargs: {lr_lambda: "1/(epoch - 3)"}
    epochs: 10
  a-very-long-entry-name-that-a-phone-must-wrap-somewhere-sensible:
    scheduler: cyclic
    kwargs: {base_lr: 0.001, max_lr: 0.1, step_size_up: 3, mode: exp_range, gamma: 0.99}
    epochs: 4
    steps_per_epoch: 5
"""


@pytest.fixture(scope="module")
def broken_gallery(tmp_path_factory) -> Path:
    """Render a gallery with an entry that fails while stepping and a very long name."""
    base = tmp_path_factory.mktemp("broken")
    config = base / "broken.yaml"
    config.write_text(BROKEN, encoding="utf-8")
    done = gallery.run(config, base / "out", formats="png")
    assert done.total == 3 and done.rendered == 2
    return base / "out" / "index.html"


@pytest.mark.parametrize("width", WIDTHS)
def test_a_gallery_with_a_failure_and_a_long_name_fits(browser, broken_gallery, width):
    found = _inspect(browser, broken_gallery, width, "broken")
    assert found["overflow"] <= 0, found["wide"]
    assert found["broken"] == []


@pytest.mark.parametrize("width", WIDTHS)
def test_failed_entries_get_a_card_too(browser, broken_gallery, width):
    """One card per entry, the failed one included."""
    found = _inspect(browser, broken_gallery, width, "broken")
    assert len(found["cards"]) == 3, found["cards"]
