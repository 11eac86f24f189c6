"""Measure the speed targets of the core issue and print a table of medians.

Run: ``python benchmarks/bench_cli.py [--quick]`` (``make bench``). Each figure is the
median of several runs; paired measurements alternate the two sides so background load
hits both alike.

1. ``lrplot --help`` and ``lrplot list`` wall time (target < 0.25 s).
2. ``lrplot cosine --T_max 150 -o x.png`` vs the floor script doing the same (target <= 1.10x).
3. 1,000,000 steps: lrplot's stepping loop vs a bare ``scheduler.step()`` loop (<= 1.2x).
4. 1,000,000 steps end to end to PNG vs bare stepping + one savefig (<= 1.3x).
5. Peak memory (max RSS) of ``lrplot cosine`` over 10,000,000 steps (< 500 MB).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
LRPLOT = str(BIN / "lrplot")

BARE_SCRIPT = """
# The floor: what any script drawing this curve must do (import torch and matplotlib, build
# the real optimizer and scheduler, step, save one figure), with the one-off torch._dynamo
# import skipped the same way lrplot skips it, so only lrplot's own overhead is measured.
import sys, warnings
import torch
from torch.optim.lr_scheduler import CosineAnnealingLR
from matplotlib.figure import Figure
from matplotlib.backends.backend_agg import FigureCanvasAgg
warnings.simplefilter("ignore")
n = int(sys.argv[1])
for klass in torch.optim.SGD.__mro__:
    for attr in vars(klass).values():
        inner, code = getattr(attr, "__wrapped__", None), getattr(attr, "__code__", None)
        if inner is not None and code is not None and code.co_name == "inner":
            inner.__dynamo_disable = inner
opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
sched = CosineAnnealingLR(opt, T_max=n)
lrs = []
for _ in range(n):
    lrs.append(opt.param_groups[0]["lr"])
    sched.step()
fig = Figure(figsize=(8, 4.5), dpi=200)
FigureCanvasAgg(fig)
fig.add_subplot().plot(lrs)
fig.savefig(sys.argv[2])
"""

LOOP_SCRIPT = """
import statistics, sys, time, warnings
import torch
from torch.optim.lr_scheduler import CosineAnnealingLR
from lrplot.engine import simulate
n, reps = int(sys.argv[1]), int(sys.argv[2])
simulate("cosine:T_max=10")  # warm up imports
ratios = []
for _ in range(reps):  # alternate, and compare CPU time of each pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
        sched = CosineAnnealingLR(opt, T_max=n)
        step = sched.step
        t = time.process_time()
        for _ in range(n):
            step()
        bare = time.process_time() - t
    t = time.process_time()
    simulate(f"cosine:T_max={n}")
    ours = time.process_time() - t
    ratios.append((ours / bare, bare, ours))
ratio, bare, ours = sorted(ratios)[len(ratios) // 2]
print(bare, ours, ratio)
"""


def wall(cmd: list[str], cwd: str) -> float:
    """Return the wall time of one command (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def paired(a: list[str], b: list[str], runs: int, cwd: str) -> tuple[float, float]:
    """Alternate two commands ``runs`` times; return their median wall times."""
    ta, tb = [], []
    for _ in range(runs):
        ta.append(wall(a, cwd))
        tb.append(wall(b, cwd))
    return statistics.median(ta), statistics.median(tb)


def peak_rss_mb(cmd: list[str], cwd: str) -> float:
    """Return the max RSS of a child command in MB (Linux reports KiB)."""
    code = (
        "import resource, subprocess, sys;"
        f"subprocess.run({cmd!r}, cwd={cwd!r}, check=True, stdout=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout) / 1024


def main() -> None:
    """Run every benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, skip 10M memory")
    args = parser.parse_args()
    runs = 3 if args.quick else 7
    # As `pip install` does for an installed package: compile lrplot's bytecode first, so
    # an editable checkout (or PYTHONDONTWRITEBYTECODE=1) does not pay compiling per run.
    import lrplot

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", os.path.dirname(lrplot.__file__)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        bare = os.path.join(tmp, "bare.py")
        Path(bare).write_text(BARE_SCRIPT)
        loop = os.path.join(tmp, "loop.py")
        Path(loop).write_text(LOOP_SCRIPT)
        wall([LRPLOT, "cosine", "--T_max", "5", "-o", "warm.png"], tmp)  # font cache etc.

        for what in (["--help"], ["list"]):
            t = statistics.median(wall([LRPLOT, *what], tmp) for _ in range(runs * 2))
            rows.append((f"lrplot {' '.join(what)}", f"{t:.3f} s", "< 0.25 s"))

        ours, base = paired(
            [LRPLOT, "cosine", "--T_max", "150", "-o", "x.png"],
            [sys.executable, bare, "150", "b.png"],
            runs,
            tmp,
        )
        rows.append(
            (
                "cosine T_max=150 -> PNG",
                f"{ours:.2f} s vs floor {base:.2f} s",
                f"{ours / base:.2f}x (<= 1.10x)",
            )
        )

        n = 1_000_000
        out = subprocess.run(
            [sys.executable, loop, str(n), str(max(3, runs // 2))],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        b, o, ratio = (float(v) for v in out)
        rows.append(
            (
                "1M steps: stepping loop (CPU)",
                f"{o:.2f} s vs bare {b:.2f} s",
                f"{ratio:.2f}x (<= 1.2x, median of paired runs)",
            )
        )

        ours, base = paired(
            [LRPLOT, "cosine", "--T_max", str(n), "-o", "m.png"],
            [sys.executable, bare, str(n), "mb.png"],
            max(3, runs // 2),
            tmp,
        )
        rows.append(
            (
                "1M steps -> PNG",
                f"{ours:.2f} s vs bare {base:.2f} s",
                f"{ours / base:.2f}x (<= 1.3x)",
            )
        )

        if not args.quick:
            mb = peak_rss_mb([LRPLOT, "cosine", "--T_max", "10000000", "-o", "big.png"], tmp)
            rows.append(("10M steps peak RSS", f"{mb:.0f} MB", "< 500 MB"))
            torch_mb = peak_rss_mb([sys.executable, "-c", "import torch"], tmp)
            rows.append(("  (import torch alone)", f"{torch_mb:.0f} MB", ""))

    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:<32} {target}")


if __name__ == "__main__":
    main()
