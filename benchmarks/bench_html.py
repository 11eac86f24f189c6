"""Measure ``-o x.html`` against ``-o x.png`` for 1,000,000-step schedules.

Run: ``python benchmarks/bench_html.py [--quick]``. Targets (issue 14): the page under
2 MB plus the library, written in under 1.2x the time of the PNG of the same schedule.

Two views of the time, both medians of alternated runs:

1. the output step alone, in one process: the schedule is simulated once, then the page
   (``lrplot.html.write``) and the PNG (``render.plot`` + ``render.save``) are written in
   turn. This is what the choice of format costs.
2. the whole command in a fresh process (``lrplot ... -o x.html`` vs ``-o x.png``):
   imports and the simulation included, as a user sees it.

The size is split into the curves' data and the rest (uPlot 51 KB, the viewer, CSS).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LRPLOT = str(Path(sys.executable).parent / "lrplot")
CASES = [
    ("cosine 1M", ["cosine", "--T_max", "1000000"]),
    ("onecycle 1M (lr + momentum)", ["onecycle", "--max_lr", "0.1", "--epochs", "1000",
                                     "--steps-per-epoch", "1000"]),
    ("cosine 1M, 3 groups", ["cosine", "--T_max", "1000000", "--lr", "0.1,0.05,0.01"]),
    ("sgdr 1M (restarts)", ["sgdr", "--T_0", "100000", "--epochs", "1000000"]),
    ("multistep 1M, 2 groups", ["multistep", "--milestones", "300000,600000,800000",
                                "--epochs", "1000000", "--lr", "0.1,0.2"]),
]  # fmt: skip

WRITE_SCRIPT = """
import json, statistics, sys, time
from lrplot import html, pipeline, render
from lrplot.options import RunOptions, DisplayOptions
args, reps, out = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
name, kwargs, run = args[0], {}, {}
it = iter(args[1:])
for flag in it:
    value = next(it)
    key = flag.lstrip("-").replace("-", "_")
    (run if key in ("epochs", "lr", "steps_per_epoch") else kwargs)[key] = value
request = pipeline.schedule_request(name, kwargs, RunOptions(**run), DisplayOptions())
result = pipeline.run(request, write=False)
page, png = [], []
for _ in range(reps):
    t = time.perf_counter()
    pipeline._write_page(result, out + ".html")
    page.append(time.perf_counter() - t)
    t = time.perf_counter()
    render.save(pipeline._figure(result), out + ".png")
    png.append(time.perf_counter() - t)
print(json.dumps([statistics.median(page), statistics.median(png)]))
"""


def wall(cmd: list[str], cwd: str) -> float:
    """Return the wall time of one command (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def sizes(path: Path) -> tuple[int, int]:
    """Return (whole file, curve data) in bytes."""
    text = path.read_text(encoding="utf-8")
    data = re.search(r'id="lrplot-data">(.*?)</script>', text, re.S)
    assert data
    payload = json.loads(data.group(1))
    encoded = sum(len("".join(c["data"])) for c in payload["curves"])
    return len(text.encode("utf-8")), encoded


def main() -> None:
    """Run every case and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    args = parser.parse_args()
    reps = 3 if args.quick else 5
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "write.py")
        Path(script).write_text(WRITE_SCRIPT)
        wall([LRPLOT, "cosine", "--T_max", "5", "-o", "warm.png", "-o", "warm.html"], tmp)
        for label, words in CASES:
            out = subprocess.run(
                [sys.executable, script, json.dumps(words), str(reps), os.path.join(tmp, "w")],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            page_s, png_s = json.loads(out)
            whole_page, whole_png = [], []
            for _ in range(max(2, reps - 2)):
                whole_page.append(wall([LRPLOT, *words, "-o", "x.html"], tmp))
                whole_png.append(wall([LRPLOT, *words, "-o", "x.png"], tmp))
            size, data = sizes(Path(tmp, "x.html"))
            png_size = Path(tmp, "x.png").stat().st_size
            rows.append(
                (
                    label,
                    f"{size / 1e6:.2f} MB ({data / 1e6:.2f} MB data)",
                    f"{png_size / 1e3:.0f} KB",
                    f"{page_s:.2f} s / {png_s:.2f} s = {page_s / png_s:.2f}x",
                    f"{statistics.median(whole_page):.2f} s / {statistics.median(whole_png):.2f} s"
                    f" = {statistics.median(whole_page) / statistics.median(whole_png):.2f}x",
                )
            )
    head = ("case", "page size", "PNG size", "write: page / PNG", "whole command: page / PNG")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
