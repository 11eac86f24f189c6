"""Peak memory (max RSS) and wall time of writing N rows, per output format.

Run: ``python benchmarks/bench_memory.py [--rows 1000000,10000000] [--repeat 3]``
(``--lrplot "python run.py"`` measures another command, e.g. an older lrplot).

Each figure is one ``lrplot`` process (the console script of this interpreter's
environment), measured with ``os.wait4``: its own peak resident set and CPU time (user +
system), not its children's; wall and CPU times are medians of ``--repeat`` runs, the RSS
is their max. CPU time is the steadier figure on a busy machine.
Rows are made cheaply (1,000 scheduler steps repeated per epoch: ``--steps-per-epoch
N/1000``), so the figures are the cost of holding and writing the rows, not of stepping.
``--momentum`` adds the momentum column (CSV/JSON) or panel (images): 4 columns per row.
``compare`` writes two such schedules side by side (one lr column each).
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

LRPLOT = str(Path(sys.executable).parent / "lrplot")
FORMATS = ("csv", "json", "png", "svg", "pdf")


def measure(command: list[str], args: list[str], cwd: str) -> tuple[float, float, float]:
    """Run ``command args`` once; return (wall seconds, CPU seconds, peak RSS in MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen([*command, *args], cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"lrplot {' '.join(args)} failed")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux: KiB


def cases(rows: int) -> list[tuple[str, list[str]]]:
    """Return (label, lrplot arguments without -o) for one row count."""
    spe = str(rows // 1000)
    run = ["--epochs", "1000", "--steps-per-epoch", spe, "--max-steps", str(10 * rows)]
    single = ["cosine", "--T_max", "1000", *run, "--momentum"]
    both = ["compare", "cosine:T_max=1000", "exp:gamma=0.999", *run]
    return [(f"schedule.{fmt}", [*single, "-o", f"out.{fmt}"]) for fmt in FORMATS] + [
        (f"compare.{fmt}", [*both, "-o", f"out.{fmt}"]) for fmt in ("csv", "json")
    ]


def main() -> None:
    """Print a table: rows, case, median wall and CPU seconds, peak RSS (MB)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,10000000", help="comma list of row counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median time)")
    parser.add_argument("--only", default="", help="run only cases containing this text")
    parser.add_argument("--lrplot", default=LRPLOT, help="the lrplot command to measure")
    opts = parser.parse_args()
    command = opts.lrplot.split()
    print(f"{'rows':>11}  {'case':<14} {'wall s':>7} {'CPU s':>7} {'peak RSS MB':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in (int(r) for r in opts.rows.split(",")):
            for label, args in cases(rows):
                if opts.only not in label:
                    continue
                runs = [measure(command, args, tmp) for _ in range(opts.repeat)]
                wall = statistics.median(r[0] for r in runs)
                cpu = statistics.median(r[1] for r in runs)
                rss = max(r[2] for r in runs)
                print(f"{rows:>11,}  {label:<14} {wall:>7.2f} {cpu:>7.2f} {rss:>12.0f}", flush=True)


if __name__ == "__main__":
    main()
