"""Render a gallery from a YAML config: one image per entry, README.md, index.html, contact sheet.

The config is YAML 1.2 plain data (no tags, anchors, aliases or merge keys; no repeated
keys; at most 1 MB). ``entries`` maps an entry name (its file name: ``[A-Za-z0-9_.-]``, not
starting with a dot, unique ignoring case) to one of three kinds of entry::

    defaults:                    # optional; every entry inherits these unless it sets them
      lr: 0.1                    # or a list, one param group (curve) per value
      epochs: 100
      steps_per_epoch: 1
      step_per: epoch            # epoch | iter (default: iter for cyclic/onecycle)
      optimizer: sgd             # sgd | adam | adamw
      warmup: 0                  # and warmup_start_factor
      formats: [png, svg]        # png svg pdf html (interactive pages sharing one script);
                                 # a --format other than png,svg overrides it
      log: false                 # log lr axis (unset: log when the run sits decades below its peak)
      x: epoch                   # epoch | step
      momentum: false            # add the momentum/beta1 panel
      annotate: true             # draw the diagnostics on the image
    entries:
      cosine-short:              # a single schedule
        scheduler: cosine        # alias, torch class name, or module:Name (--allow-import)
        kwargs: {T_max: 20}      # torch's own kwarg names; typed from the signature
        epochs: 150              # run options, as in defaults (plus metric for plateau)
        title: T_max shorter than the run
        description: One sentence for README.md and index.html.
        requires: [timm]         # skip the entry (and say so) where a package is missing
      three-ways:                # a comparison: SPEC strings and/or mappings
        compare:
          - cosine:T_max=100
          - {scheduler: step, kwargs: {step_size: 30}, label: step 30}
        layout: overlay          # overlay | grid
        epochs: 100
      cosine-tmax:               # a sweep: one kwarg (overlay) or two (grid), <= 12 values
        scheduler: cosine
        kwargs: {eta_min: 0.001}
        sweep: {T_max: [25, 50, 100]}

Nested ``schedulers`` (sequential, chained) are SPEC strings or ``{scheduler, kwargs}``
mappings. True/false values (``log``, ``momentum``, ``annotate``, boolean kwargs such as
``three_phase``) also accept yes/no and on/off, in any case: YAML 1.2 reads those YAML 1.1
booleans as text, and lrplot takes them for true/false everywhere, as on the command line.
Values are typed and checked by ``lrplot.spec`` exactly as on the command line.
Every problem is reported as ``file:line:col: entry 'name': field: message``; a file-level
problem raises ``ConfigError`` and a bad entry is skipped while the others render.

The package: ``config`` (YAML and schema), ``build`` (entries), ``site`` (README.md,
index.html, contact sheet, publishing) and, here, the run that renders every entry through
``lrplot.pipeline`` in worker processes.

Example:
    >>> check_name("cosine-150")
    >>> check_name("../x")
    Traceback (most recent call last):
    ...
    ValueError: entry names may only use letters, digits, '_', '.' and '-'; got '../x'
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrplot.errors import LrplotError, OutputError
from lrplot.gallery.build import MAX_STEPS, Entry, Gallery, load, load_text
from lrplot.gallery.config import MAX_BYTES, check_name, parse_formats
from lrplot.gallery.site import (
    DEFAULT_FORMATS,
    THUMB_PX,
    THUMBS,
    EntryResult,
    compare,
    finish,
    publish,
)
from lrplot.html import LIBRARY_FILE

__all__ = [
    "MAX_BYTES",
    "MAX_STEPS",
    "Entry",
    "Gallery",
    "GalleryRun",
    "check_name",
    "load",
    "load_text",
    "parse_formats",
    "render_entry",
    "run",
]

#: ``progress(done, total, name)`` after each entry.
Progress = Callable[[int, int, str], None]


@dataclass
class GalleryRun:
    """What a gallery run did, for the client to report.

    Attributes:
        problems: located messages of the entries the config could not build.
        skipped: located messages of the entries whose ``requires:`` is not installed.
        failures: located messages of the entries that failed to render.
        written / unchanged: files replaced in DIR, and those already current.
        foreign: images in DIR that this config does not produce (left alone; with
            ``check``, reported as left over and DIR is not current).
        stale / missing: with ``check``, files that differ from a fresh render or are absent.
        regenerate: with ``check``, the command that brings DIR up to date.
        drawn_with: with ``check``, which matplotlib/FreeType drew DIR and which draw now,
            when they differ (then images differ even if nothing else changed).
    """

    out_dir: Path
    total: int
    rendered: int
    check: bool = False
    problems: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    foreign: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    produced: int = 0
    regenerate: str = ""
    drawn_with: str = ""

    @property
    def ok(self) -> bool:
        """Return True when every entry rendered and, with ``check``, DIR is current."""
        current = not self.stale and not self.missing and not (self.check and self.foreign)
        return self.rendered == self.total and current


def run(
    config: Path,
    out_dir: Path,
    *,
    jobs: int = 1,
    formats: str | None = DEFAULT_FORMATS,
    check: bool = False,
    allow_import: bool = False,
    progress: Progress | None = None,
) -> GalleryRun:
    """Render (or with ``check`` verify) a gallery; return what happened.

    Files in ``out_dir`` are replaced atomically and only when their bytes change; files
    lrplot did not write are never touched. With ``check`` nothing is written.

    Args:
        config: the YAML config.
        out_dir: the gallery directory.
        jobs: worker processes (1 renders in this process).
        formats: image formats, e.g. ``"png,svg"``; the config's ``defaults.formats``
            applies when this is None or the default ``"png,svg"``.
        check: re-render into a temporary directory and compare with ``out_dir``.
        allow_import: let the config load ``module:Name`` plug-in schedulers.
        progress: called after each entry is rendered.

    Raises:
        ConfigError: the config file itself is unusable.
        UsageError: a bad ``formats``.
        OutputError: ``out_dir`` cannot be created or written.
    """
    config, out_dir = Path(config), Path(out_dir)
    chosen = parse_formats(formats) if formats is not None else None
    gallery = load(config, allow_import=allow_import)
    if chosen is None or (formats == DEFAULT_FORMATS and gallery.formats):
        chosen = gallery.formats or parse_formats(DEFAULT_FORMATS)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"cannot write the gallery to {out_dir}: it is not a directory")
    staging = tempfile.mkdtemp(prefix="lrplot-gallery-")
    os.mkdir(os.path.join(staging, THUMBS))
    workers = min(jobs, len(gallery.entries))
    outcome = GalleryRun(
        out_dir,
        gallery.total,
        0,
        check,
        problems=list(gallery.problems),
        skipped=list(gallery.skipped),
    )
    try:
        with _pool(workers) if workers > 1 else contextlib.nullcontext() as pool:
            results = _render_all(gallery.entries, chosen, staging, pool, progress)
            outcome.failures = [
                f"{e.where}: entry '{e.name}': {results[e.name].error}"
                for e in gallery.entries
                if results[e.name].error
            ]
            good = [e for e in gallery.entries if not results[e.name].error]
            produced = finish(gallery, good, results, chosen, staging, pool)
        outcome.rendered, outcome.produced = len(good), len(produced)
        if check:
            compare(outcome, produced, staging, config, chosen, formats, allow_import)
        else:
            publish(outcome, produced, staging)
        return outcome
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _warm() -> None:
    """Import torch, matplotlib and lrplot once per worker process (a tiny simulation)."""
    import lrplot
    import lrplot.pipeline
    import lrplot.render

    lrplot.simulate("constant:factor=1,total_iters=1", epochs=1)


def render_entry(
    entry: Entry, out_dir: str | Path, formats: Iterable[str] = ("png",)
) -> list[tuple[str, str, str | None]]:
    """Simulate, diagnose and draw one entry into ``out_dir``; return its diagnostics.

    Raises:
        LrplotError: the entry failed to simulate or draw.
    """
    os.makedirs(os.path.join(out_dir, THUMBS), exist_ok=True)
    result = _render(entry, parse_formats(list(formats)), str(out_dir))
    if result.error:
        raise LrplotError(result.error)
    return result.diagnostics


def _render(entry: Entry, formats: tuple[str, ...], out: str) -> EntryResult:
    """Simulate, diagnose and draw one entry into ``out``; never raise."""
    from lrplot import pipeline

    result = EntryResult(entry.name)
    try:
        request = entry.request(
            [os.path.join(out, f"{entry.name}.{fmt}") for fmt in formats],
            thumbnail=(os.path.join(out, THUMBS, f"{entry.name}.png"), THUMB_PX),
        )
        request.page_library = LIBRARY_FILE  # written once by site.finish
        done = pipeline.run(request)
        result.diagnostics = [(d.level, d.message, d.fix) for d in done.diagnostics]
    except LrplotError as exc:
        result.error = str(exc)
    except Exception as exc:  # isolate any failure to its entry
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
        result.error = f"unexpected {type(exc).__name__}: {exc}{where}"
    return result


def _render_all(
    entries: list[Entry],
    formats: tuple[str, ...],
    staging: str,
    pool: Any,
    progress: Progress | None,
) -> dict[str, EntryResult]:
    """Render every entry into ``staging``: in ``pool`` if given, else in this process."""
    results: dict[str, EntryResult] = {}

    def record(name: str, result: EntryResult) -> None:
        results[name] = result
        if progress is not None:
            progress(len(results), len(entries), name)

    if pool is None:
        for entry in entries:
            record(entry.name, _render(entry, formats, staging))
        return results
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    futures = {pool.submit(_render, e, formats, staging): e.name for e in entries}
    try:
        for future in as_completed(futures):
            name = futures[future]
            try:
                record(name, future.result())
            except BrokenProcessPool as exc:  # a worker died (killed, out of memory)
                record(name, EntryResult(name, error=f"the worker process died: {exc}"))
    except BaseException:  # Ctrl-C: do not wait for the queued entries
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return results


def _pool(workers: int) -> Any:
    """Return a process pool whose workers import torch and matplotlib once each.

    ``forkserver`` starts workers from a clean server process: no inherited threads (the
    progress bar, torch's pools) and none of the parent's memory, unlike ``fork``; on
    Linux it rendered configs/gallery.yaml as fast as ``fork`` and ``spawn`` (within the
    noise) and all three give the same bytes. Like ``spawn``, it re-imports the main
    script, so a script calling ``run`` needs the ``if __name__ == "__main__":`` guard.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_warm)
