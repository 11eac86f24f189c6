"""Measure ``lrplot explore``: a kwarg change to a redrawn curve, timed in the browser.

Run: ``python benchmarks/bench_explore.py [--quick]`` (needs chromium and playwright, as the
browser tests do). Targets (issue 14): under 100 ms for a 10,000-step schedule and under
1 s for 1,000,000 steps, server time plus browser draw.

``lrplot explore --no-browser`` runs as its own process, as a user starts it. For each
case the page loads a state, one change warms up, then each measured change sets a new
kwarg value (never a cached one) and dispatches the field's ``change`` event. Columns:

- to drawn: from the change handler to the new curve drawn on the canvas (the page's own
  ``explore.timings.last.total``: request, server, transfer, decimation, uPlot draw).
- server: the server's part of it (the real scheduler stepped through the whole run).
- to next frame: from dispatching the event to the next animation frame after the draw
  (an upper bound that includes waiting for the frame).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import urllib.parse
from pathlib import Path

LRPLOT = str(Path(sys.executable).parent / "lrplot")
CHROMIUM = os.environ.get("LRPLOT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

#: (label, state, field changed, value for the k-th change)
CASES = [
    ("cosine, 10k steps", [("scheduler", "cosine"), ("T_max", "10000")], "eta_min", "{k}e-6"),
    (
        "onecycle, 10k steps (100 x 100)",
        [("scheduler", "onecycle"), ("max_lr", "0.1"), ("epochs", "100"),
         ("steps_per_epoch", "100")],
        "pct_start", "0.{k:02d}1",
    ),
    ("cosine, 1M steps", [("scheduler", "cosine"), ("T_max", "1000000")], "eta_min", "{k}e-6"),
    (
        "onecycle, 1M steps (1000 x 1000)",
        [("scheduler", "onecycle"), ("max_lr", "0.1"), ("epochs", "1000"),
         ("steps_per_epoch", "1000")],
        "pct_start", "0.{k:02d}1",
    ),
    (
        "step per epoch, 1M steps (100 x 10000)",
        [("scheduler", "step"), ("step_size", "30"), ("epochs", "100"),
         ("steps_per_epoch", "10000")],
        "gamma", "0.{k:02d}5",
    ),
    ("cosine, 1M steps: log toggle (no resimulation)",
     [("scheduler", "cosine"), ("T_max", "1000000")], "log", None),
]  # fmt: skip

CHANGE = """async ([name, value]) => {
  const runs = explore.timings.runs;
  const input = document.getElementById('f-' + name);
  if (value === null) input.checked = !input.checked; else input.value = value;
  const t0 = performance.now();
  input.dispatchEvent(new Event('change'));
  await new Promise((done) => {
    const poll = () => (explore.timings.runs > runs ? done() : setTimeout(poll, 1));
    poll();
  });
  await new Promise((done) => requestAnimationFrame(() => done()));
  return { ...explore.timings.last, frame: performance.now() - t0 };
}"""


def start_server() -> tuple[subprocess.Popen, str]:
    """Start ``lrplot explore --no-browser``; return the process and its base URL."""
    proc = subprocess.Popen(
        [LRPLOT, "explore", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stdout is not None
    match = re.search(r"http://127\.0\.0\.1:\d+/", proc.stdout.readline())
    assert match, "no URL printed"
    return proc, match.group(0)


def main() -> None:
    """Run every case and print a table of medians (min-max)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer changes per case")
    args = parser.parse_args()
    reps = 3 if args.quick else 7
    from playwright.sync_api import sync_playwright

    proc, base = start_server()
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            for label, state, name, pattern in CASES:
                page.goto(base + "?" + urllib.parse.urlencode(state))
                page.wait_for_selector("body[data-ready]", timeout=300_000)
                found = []
                for k in range(reps + 1):  # the first change warms up
                    value = None if pattern is None else pattern.format(k=k + 1)
                    last = page.evaluate(CHANGE, [name, value])
                    if k:
                        found.append(last)
                steps = found[0]["steps"]

                def cell(key: str, runs: list[dict] = found) -> str:
                    v = [r[key] for r in runs]
                    return f"{statistics.median(v):.0f} ms ({min(v):.0f}-{max(v):.0f})"

                rows.append(
                    (
                        label,
                        f"{steps:,}",
                        cell("total"),
                        cell("server"),
                        cell("draw"),
                        cell("frame"),
                    )
                )
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    head = ("case", "steps", "to drawn", "server", "draw", "to next frame")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
