"""Measure ``lrplot verify`` and ``lrplot check --resume-at`` and print a table of medians.

Run: ``python benchmarks/bench_verify.py [--quick]``. Each figure is the median wall time
of several runs of the command line, in a fresh process:

1. verify a committed log (Lightning ``metrics.csv``, 16 steps; a bug to explain).
2. verify a committed TensorBoard log (the tensorboard reader's import included).
3. verify a 200,000-step CSV against a plan stretched 2x (reading, pairing, explaining).
4. resume check of a 1,000,000-step cosine at one point (four ways of resuming).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LRPLOT = str(Path(sys.executable).parent / "lrplot")
LOGS = ROOT / "tests" / "data" / "logs"
PLAN = ["cosine", "--T_max", "16", "--epochs", "2", "--steps-per-epoch", "8", "--step-per", "iter"]
TB_PLAN = [
    "cosine", "--T_max", "13", "--warmup", "3", "--warmup-start-factor", "0.1",
    "--epochs", "2", "--steps-per-epoch", "8", "--step-per", "iter",
]  # fmt: skip


def _time(words: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([LRPLOT, *words], capture_output=True, check=False, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print the medians."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run each")
    runs = 1 if parser.parse_args().quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.csv"
        subprocess.run(
            [LRPLOT, "cosine", "--T_max", "200000", "--epochs", "200000", "-o", str(big)],
            capture_output=True,
            check=True,
        )
        cases = [
            ("verify Lightning metrics.csv (16 steps)", ["verify", *PLAN, "--log",
             str(LOGS / "lightning" / "bug_epoch" / "metrics.csv")]),
            ("verify TensorBoard events (16 steps)", ["verify", *TB_PLAN, "--log",
             str(LOGS / "tensorboard" / "bug_resume")]),
            ("verify a 200,000-step CSV, stretched 2x", ["verify", "cosine", "--T_max",
             "100000", "--epochs", "200000", "--log", str(big)]),
            ("check --resume-at, 1,000,000 steps", ["check", "cosine", "--T_max", "1000000",
             "--epochs", "1000000", "--resume-at", "500000"]),
        ]  # fmt: skip
        print(f"{'command':48} {'median s':>9}")
        for name, words in cases:
            print(f"{name:48} {_time(words, runs):9.2f}")


if __name__ == "__main__":
    main()
