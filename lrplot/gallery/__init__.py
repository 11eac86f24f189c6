"""Render a gallery from a YAML config: one image per entry, README.md, index.html, contact sheet.

The config is YAML 1.2 plain data (no tags, anchors, aliases or merge keys; no repeated
keys; at most 1 MB, 20 levels deep and 1,000 entries; a kwarg list holds at most 1,000
values). ``entries`` maps an entry name (its file name: ``[A-Za-z0-9_.-]``, not starting
with a dot, unique ignoring case) to one of three kinds of entry::

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
A ``module:Name`` scheduler, wherever it sits, is imported only with ``--allow-import``.
lrplot writes only in DIR, and there only the files it lists in ``.lrplot-gallery.json``.
Values are typed and checked by ``lrplot.spec`` exactly as on the command line. Every
problem is reported as ``file:line:col: entry 'name': field: message``; a file-level problem
raises ``ConfigError`` and a bad entry is skipped while the others render (it keeps a card,
marked failed, in README.md and index.html).

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
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrplot.errors import LrplotError, OutputError, UsageError
from lrplot.export import path_error
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
from lrplot.plugins import imports_allowed

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
    config: str | Path,
    out_dir: str | Path,
    *,
    jobs: int = 1,
    formats: str | None = DEFAULT_FORMATS,
    check: bool = False,
    allow_import: bool = False,
    progress: Progress | None = None,
) -> GalleryRun:
    """Render (or with ``check`` verify) a gallery; return what happened.

    Files in ``out_dir`` are replaced atomically and only when their bytes change; files
    lrplot did not write are never touched (its manifest in DIR lists the files it wrote;
    any other file in the way is refused). A failed entry keeps a card, marked failed;
    when no entry rendered, DIR is left as it was. With ``check`` nothing is written.

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
        UsageError: a bad ``formats``, or an empty ``out_dir``.
        OutputError: ``out_dir`` cannot be created, locked or written, or it holds files
            in the way that lrplot did not write.
    """
    if not str(out_dir).strip():
        raise UsageError("--out is empty", hint="name the gallery directory, e.g. --out gallery")
    config, out_dir = Path(config), Path(out_dir)
    chosen = parse_formats(formats) if formats is not None else None
    gallery = load(config, allow_import=allow_import)
    if chosen is None or (formats == DEFAULT_FORMATS and gallery.formats):
        chosen = gallery.formats or parse_formats(DEFAULT_FORMATS)
    try:
        if out_dir.exists() and not out_dir.is_dir():
            raise OutputError(f"cannot write the gallery to {out_dir}: it is not a directory")
    except OSError as exc:  # a name too long, a loop of links, ...
        raise path_error(out_dir, exc) from None
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
            results = _render_all(gallery.entries, chosen, staging, pool, progress, allow_import)
            outcome.failures = [
                f"{e.where}: entry '{e.name}': {results[e.name].error}"
                for e in gallery.entries
                if results[e.name].error
            ]
            produced = finish(gallery, results, chosen, staging, pool)
        outcome.rendered = sum(1 for e in gallery.entries if not results[e.name].error)
        outcome.produced = len(produced)
        if check:
            compare(outcome, produced, staging, config, chosen, formats, allow_import)
        else:
            from lrplot.pipeline import input_files

            inputs = input_files([s for e in gallery.entries for s in e.specs])
            publish(outcome, produced, staging, {str(config): "the config", **inputs})
        return outcome
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _warm(parent: int) -> None:
    """Import torch, matplotlib and lrplot once per worker process (a tiny simulation).

    A worker leaves Ctrl-C to the parent, which stops it, so it never prints a traceback
    of its own when the terminal interrupts the whole process group; and it ends itself
    if the parent is gone (killed with SIGKILL, say) instead of waiting for work forever.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.name == "posix":  # on Windows os.kill(pid, 0) would end the parent
        threading.Thread(target=_orphan_watch, args=(parent,), daemon=True).start()
    import lrplot
    import lrplot.pipeline
    import lrplot.render

    lrplot.simulate("constant:factor=1,total_iters=1", epochs=1)


def _orphan_watch(parent: int) -> None:
    """End this worker within half a second of the parent's death."""
    while True:
        time.sleep(0.5)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(1)
        except OSError:  # pragma: no cover - alive, owned by someone else
            pass


def render_entry(
    entry: Entry, out_dir: str | Path, formats: Iterable[str] = ("png",)
) -> list[tuple[str, str, str | None]]:
    """Simulate, diagnose and draw one entry into ``out_dir``; return its diagnostics.

    Raises:
        LrplotError: the entry failed to simulate or draw.
    """
    os.makedirs(os.path.join(out_dir, THUMBS), exist_ok=True)
    result = _render(entry, parse_formats(list(formats)), str(out_dir), allow_import=True)
    if result.error:
        raise LrplotError(result.error)
    return result.diagnostics


def _render(entry: Entry, formats: tuple[str, ...], out: str, *, allow_import: bool) -> EntryResult:
    """Simulate, diagnose and draw one entry into ``out``; never raise.

    It runs in worker processes too, which inherit none of the parent's consent:
    ``allow_import`` is the run's own answer, so a plug-in name that reaches a worker is
    imported only with ``--allow-import`` (entries are built, and checked, in the parent).
    """
    from lrplot import pipeline

    result = EntryResult(entry.name)
    try:
        request = entry.request(
            [os.path.join(out, f"{entry.name}.{fmt}") for fmt in formats],
            thumbnail=(os.path.join(out, THUMBS, f"{entry.name}.png"), THUMB_PX),
        )
        request.page_library = LIBRARY_FILE  # written once by site.finish
        with imports_allowed(allow_import):
            done = pipeline.run(request)
        result.diagnostics = [(d.level, d.message, d.fix) for d in done.diagnostics]
    except LrplotError as exc:
        result.error = str(exc)
    except (Exception, SystemExit) as exc:  # isolate any failure to its entry
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
    allow_import: bool = False,
) -> dict[str, EntryResult]:
    """Render every entry into ``staging``: in ``pool`` if given, else in this process."""
    results: dict[str, EntryResult] = {}

    def record(name: str, result: EntryResult) -> None:
        results[name] = result
        if progress is not None:
            progress(len(results), len(entries), name)

    if pool is None:
        for entry in entries:
            record(entry.name, _render(entry, formats, staging, allow_import=allow_import))
        return results
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    with signals_deferred():  # every worker is known to the pool before a signal lands
        futures = {
            pool.submit(_render, e, formats, staging, allow_import=allow_import): e.name
            for e in entries
        }
    for future in as_completed(futures):
        name = futures[future]
        try:
            record(name, future.result())
        except BrokenProcessPool as exc:  # a worker died (killed, out of memory)
            record(name, EntryResult(name, error=f"the worker process died: {exc}"))
    return results


@contextlib.contextmanager
def _pool(workers: int) -> Iterator[Any]:
    """Yield a process pool whose workers import torch and matplotlib once each.

    ``forkserver`` starts workers from a clean server process: no inherited threads (the
    progress bar, torch's pools) and none of the parent's memory, unlike ``fork``; on
    Linux it rendered configs/gallery.yaml as fast as ``fork`` and ``spawn`` (within the
    noise) and all three give the same bytes. Like ``spawn``, it re-imports the main
    script, so a script calling ``run`` needs the ``if __name__ == "__main__":`` guard.

    The server is started with Ctrl-C ignored, so it and every worker it forks ignore it
    from their first instruction; the parent stops them. When the block ends with an
    exception (Ctrl-C, SIGTERM, an error) the workers are killed at once rather than
    left to finish their entries, and the pool is shut down: no process outlives the run.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    method = "forkserver" if "forkserver" in methods else "spawn"
    context = multiprocessing.get_context(method)
    with signals_deferred():
        if method == "forkserver":
            from multiprocessing import forkserver

            with _sigint_ignored():
                forkserver.ensure_running()
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_warm, initargs=(os.getpid(),)
        )
    try:
        yield pool
    except BaseException:
        # shutdown() forgets the workers even without waiting: kill them first, then
        # wait for the pool's own thread to notice and clean up
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                process.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold back Ctrl-C and SIGTERM while the block runs, then deliver them.

    Starting worker processes must not be cut in half (a worker started but not yet
    known to the pool would never be stopped). In a thread other than the main one,
    where handlers cannot be set, this does nothing.
    """
    caught: list[int] = []
    watched = (signal.SIGINT, signal.SIGTERM)
    try:
        previous = {sig: signal.signal(sig, lambda n, _f: caught.append(n)) for sig in watched}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        if caught:
            signal.raise_signal(caught[0])


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C while the block runs (in the main thread; elsewhere do nothing)."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
