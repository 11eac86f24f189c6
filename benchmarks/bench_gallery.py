"""Measure ``lrplot gallery --jobs 2`` against running each entry as its own ``lrplot`` command.

Run: ``python benchmarks/bench_gallery.py [CONFIG] [--jobs 2] [--repeat 3]``.

Each entry's equivalent command line (the one README.md shows: ``lrplot SCHEDULER ...``,
``lrplot compare ...``, ``... --sweep ...``) is run once, one after another, writing the
same formats (``-o NAME.png -o NAME.svg``); the sum of their wall times is the "separate"
figure. The gallery figure is the median wall time of ``lrplot gallery CONFIG --jobs N``,
its runs alternating with the separate runs so background load hits both alike.
Target: gallery <= 0.35 x separate.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LRPLOT = str(Path(sys.executable).parent / "lrplot")
TARGET = 0.35


def _run(argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a command; return its wall time and the result."""
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, done


def commands(config: Path, out: Path) -> list[tuple[str, list[str]]]:
    """Return (entry name, argv) of the separate command of every entry of ``config``."""
    from lrplot import gallery

    loaded = gallery.load(config)
    if loaded.problems:
        sys.exit("the config has problems:\n" + "\n".join(loaded.problems))
    formats = loaded.formats or gallery.parse_formats(gallery.DEFAULT_FORMATS)
    result = []
    for entry in loaded.entries:
        argv = shlex.split(entry.command)
        argv[0] = LRPLOT
        if entry.kind == "schedule" and entry.annotate:
            argv.append("--annotate")
        for fmt in formats:
            argv += ["-o", str(out / f"{entry.name}.{fmt}")]
        result.append((entry.name, argv))
    return result


def main() -> int:
    """Print the separate and gallery times and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default=str(ROOT / "configs" / "gallery.yaml"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="gallery runs (median)")
    args = parser.parse_args()
    config = Path(args.config)

    with tempfile.TemporaryDirectory(prefix="bench-gallery-") as tmp:
        separate_dir, gallery_dir = Path(tmp, "separate"), Path(tmp, "gallery")
        separate_dir.mkdir()
        cmds = commands(config, separate_dir)
        gallery_argv = [
            LRPLOT,
            "gallery",
            str(config),
            "--out",
            str(gallery_dir),
            "--jobs",
            str(args.jobs),
        ]

        def gallery_once() -> float:
            wall, done = _run(gallery_argv)
            if done.returncode != 0:
                sys.exit(f"lrplot gallery failed ({done.returncode}):\n{done.stdout}{done.stderr}")
            return wall

        gallery_runs = [gallery_once()]
        separate = 0.0
        failures = []
        for i, (name, argv) in enumerate(cmds):
            wall, done = _run(argv)
            separate += wall
            if done.returncode != 0:
                failures.append(f"{name}: {shlex.join(argv)}\n{done.stdout}{done.stderr}")
            if len(gallery_runs) < args.repeat and (i + 1) % max(1, len(cmds) // args.repeat) == 0:
                gallery_runs.append(gallery_once())  # interleave: same background load
        while len(gallery_runs) < args.repeat:
            gallery_runs.append(gallery_once())

    gallery = statistics.median(gallery_runs)
    ratio = gallery / separate
    print(f"config: {config} ({len(cmds)} entries), gallery --jobs {args.jobs}")
    print(f"separate lrplot invocations (sum): {separate:7.2f} s")
    print(
        f"lrplot gallery (median of {len(gallery_runs)}):      {gallery:7.2f} s   runs: "
        + ", ".join(f"{w:.2f}" for w in gallery_runs)
    )
    print(
        f"ratio gallery / separate:          {ratio:7.3f}   target <= {TARGET}: "
        f"{'PASS' if ratio <= TARGET else 'FAIL'}"
    )
    for failure in failures:
        print("separate command failed:", failure, file=sys.stderr)
    return 0 if ratio <= TARGET and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
