"""Interactive pages: ``-o schedule.html`` and the plot of ``lrplot explore``.

A page is one self-contained HTML file: the exact curves, the viewer (``assets/viewer.js``)
and uPlot 1.6.32 (MIT, vendored in ``assets/uplot``), all inline, behind a Content Security
Policy that forbids every network request. Curves are stored losslessly: the float64 bit
patterns are delta-coded (the order picked per curve), zigzagged, byte-shuffled, deflated
and base64'd ("dd"); piecewise-constant curves are run-length coded ("rle"). The browser
decodes them to bit-identical arrays and decimates (M4) per pixel column on every zoom,
like the PNG path, so no spike is lost and hover shows the exact value of any step.

Example:
    >>> y = np.cos(np.arange(1000) / 100.0)
    >>> bool(np.array_equal(decode_curve(encode_curve(y)), y))
    True
"""

from __future__ import annotations

import base64
import html
import json
import os
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np

from lrplot.export import atomic_write
from lrplot.schedule import Event, Schedule

UPLOT_VERSION = "1.6.32"
#: the shared script of a gallery's pages (uPlot and the viewer), written once next to them.
LIBRARY_FILE = "lrplot-viewer.js"
Kind = Literal["lr", "momentum", "metric"]
#: a curve with at most one run per this many steps is run-length coded.
_RLE_RATIO = 16
_ESCAPE = 0xFFFF
#: the bytes of one independently deflated part of a curve (parts compress in parallel).
_PART = 1 << 19
#: the zlib level: 4 takes about half the time of 6 for 4% more bytes, which keeps a
#: million-step page as quick to write as its PNG (benchmarks/bench_html.py).
LEVEL = 4


@dataclass
class Curve:
    """One line of a page: its legend name, kind (its y axis) and exact values."""

    name: str
    kind: Kind
    y: np.ndarray
    show: bool = True


# --------------------------------------------------------------------------- curves


def curves(
    schedules: Sequence[Schedule], labels: Sequence[str], *, several: bool, momentum: bool = False
) -> list[Curve]:
    """Return the lines a page shows: every group's lr, momentum when asked or varying, metric.

    Names follow the CSV columns (``lr``, ``lr_0``; ``label``, ``label[1]`` for several).

    Example:
        >>> s = Schedule(lr=np.array([[0.1, 0.2], [0.05, 0.1]]))
        >>> [c.name for c in curves([s], ["cosine"], several=False)]
        ['lr_0', 'lr_1']
    """
    out: list[Curve] = []
    for schedule, label in zip(schedules, labels, strict=True):
        many = schedule.groups > 1

        def name(what: str, g: int, *, many: bool = many, label: str = label) -> str:
            if several:
                return f"{label}[{g}]" if many else label
            return f"{what}_{g}" if many else what

        for g in range(schedule.groups):
            out.append(Curve(name("lr", g), "lr", schedule.lr[:, g]))
        if schedule.momentum is not None and (momentum or schedule.momentum_varies):
            mname = schedule.momentum_name
            for g in range(schedule.groups):
                text = f"{name('', g)} {mname}".strip() if several else name(mname, g)
                out.append(Curve(text, "momentum", np.asarray(schedule.momentum[:, g])))
        if schedule.metric is not None:
            out.append(Curve(f"{label} metric" if several else "metric", "metric", schedule.metric))
    return out


def events(schedules: Sequence[Schedule]) -> list[Event]:
    """Return the events of every schedule, once each, by step.

    Example:
        >>> a = Schedule(lr=np.ones(3), events=[Event(2, "decay", "×0.1")])
        >>> [e.step for e in events([a, a])]
        [2]
    """
    return sorted({e for s in schedules for e in s.events}, key=lambda e: (e.step, e.kind, e.label))


# --------------------------------------------------------------------------- codec


def _shuffle(buf: bytes, width: int) -> bytes:
    """Return the bytes plane by plane: byte 0 of every word, then byte 1, ..."""
    return np.frombuffer(buf, np.uint8).reshape(-1, width).T.tobytes()


def _unshuffle(buf: bytes, count: int, width: int) -> np.ndarray:
    if count == 0:
        return np.zeros(0, f"<u{width}")
    planes = np.frombuffer(buf, np.uint8)[: count * width].reshape(width, count)
    return planes.T.copy().view(f"<u{width}").ravel()


def _delta(bits: np.ndarray, order: int) -> np.ndarray:
    """Return the ``order``-th wrap-around difference of int64 words, zigzagged to uint64."""
    d = bits.copy()
    for _ in range(order):
        d[1:] = d[1:] - d[:-1]
    return ((d << 1) ^ (d >> 63)).view(np.uint64)


def _undelta(z: np.ndarray, order: int) -> np.ndarray:
    z = z.astype(np.uint64)
    d = (z >> np.uint64(1)).view(np.int64) ^ -(z & np.uint64(1)).view(np.int64)
    for _ in range(order):
        d = np.cumsum(d, dtype=np.int64)
    return d


def _order(bits: np.ndarray) -> int:
    """Return the delta order (1-4) that deflates a few sample chunks best."""
    chunk, n = 16384, len(bits)
    if n <= 4 * chunk:
        samples = [bits]
    else:
        samples = [bits[s : s + chunk] for s in np.linspace(0, n - chunk, 4).astype(np.int64)]
    sizes = {
        k: sum(len(zlib.compress(_shuffle(_delta(s, k).tobytes(), 8), 1)) for s in samples)
        for k in (1, 2, 3, 4)
    }
    return min(sizes, key=lambda k: (sizes[k], k))


def encode_curve(y: np.ndarray, level: int = LEVEL) -> dict[str, Any]:
    """Return the lossless, compact JSON form of a float64 curve (``decode_curve`` inverts it).

    Example:
        >>> encode_curve(np.repeat([0.1, 0.01], 500))["codec"]
        'rle'
    """
    y = np.ascontiguousarray(y, dtype=np.float64)
    n = len(y)
    bits = y.view(np.int64)
    starts = np.flatnonzero(np.r_[True, bits[1:] != bits[:-1]]) if n else np.zeros(0, np.int64)
    if n and len(starts) * _RLE_RATIO <= n:
        counts = np.diff(np.r_[starts, n]).astype("<u4")
        body = _shuffle(_delta(bits[starts], 2).tobytes(), 8) + _shuffle(counts.tobytes(), 4)
        return {"codec": "rle", "n": n, "runs": len(starts), "data": _pack(body, level)}
    order = _order(bits) if n else 1
    zz = _delta(bits, order)
    # residuals are almost all < 2^16: two bytes each, 0xFFFF = "the next 8-byte exception"
    big = zz >= _ESCAPE
    low = np.where(big, _ESCAPE, zz).astype("<u2")
    body = _shuffle(low.tobytes(), 2) + _shuffle(zz[big].astype("<u8").tobytes(), 8)
    return {
        "codec": "dd",
        "n": n,
        "order": order,
        "exc": int(big.sum()),
        "data": _pack(body, level),
    }


def _pack(body: bytes, level: int) -> list[str]:
    """Return ``body`` deflated in independent parts (compressed in parallel), base64'd."""
    parts = [body[i : i + _PART] for i in range(0, len(body), _PART)] or [b""]
    if len(parts) == 1:
        packed = [zlib.compress(parts[0], level)]
    else:  # zlib releases the GIL: one part per core at a time
        with ThreadPoolExecutor(min(len(parts), os.cpu_count() or 1)) as pool:
            packed = list(pool.map(lambda part: zlib.compress(part, level), parts))
    return [base64.b64encode(p).decode("ascii") for p in packed]


def _unpack(data: list[str]) -> bytes:
    return b"".join(zlib.decompress(base64.b64decode(p)) for p in data)


def decode_curve(c: dict[str, Any]) -> np.ndarray:
    """Return the float64 array of an ``encode_curve`` result (what the browser computes).

    Example:
        >>> decode_curve(encode_curve(np.array([0.1, -0.0, np.inf]))).tolist()
        [0.1, -0.0, inf]
    """
    raw = _unpack(c["data"])
    n = c["n"]
    if c["codec"] == "dd":
        zz = _unshuffle(raw[: 2 * n], n, 2).astype(np.uint64)
        zz[zz == _ESCAPE] = _unshuffle(raw[2 * n :], c["exc"], 8)
        return _undelta(zz, c["order"]).view(np.float64)
    runs = c["runs"]
    values = _undelta(_unshuffle(raw[: 8 * runs], runs, 8), 2).view(np.float64)
    return np.repeat(values, _unshuffle(raw[8 * runs :], runs, 4).astype(np.int64))


def encode_events(found: Iterable[Event]) -> dict[str, Any]:
    """Return the compact JSON form of events: step gaps and label numbers, deflated.

    Example:
        >>> encode_events([Event(30, "decay", "×0.1"), Event(60, "decay", "×0.1")])["labels"]
        ['×0.1']
    """
    found = sorted(found, key=lambda e: e.step)
    table: dict[tuple[str, str], int] = {}
    which = [table.setdefault((e.label, e.kind), len(table)) for e in found]
    if len(table) > _ESCAPE:  # label every event by its kind instead
        table = {}
        which = [table.setdefault((e.kind, e.kind), len(table)) for e in found]
    steps = np.array([e.step for e in found], dtype=np.int64)
    gaps = np.diff(steps, prepend=0).astype("<u4")
    return {
        "count": len(found),
        "labels": [label for label, _ in table],
        "kinds": [kind for _, kind in table],
        "steps": _pack(gaps.tobytes(), 6),
        "which": _pack(np.asarray(which, dtype="<u2").tobytes(), 6),
    }


# --------------------------------------------------------------------------- pages


def payload(
    lines: Sequence[Curve],
    *,
    title: str,
    command: str,
    steps_per_epoch: int | None,
    x: str = "epoch",
    log: bool = False,
    found: Iterable[Event] = (),
    notes: Iterable[tuple[str, str, str | None]] = (),
    level: int = LEVEL,
) -> dict[str, Any]:
    """Return what a page embeds: encoded curves, events, notes and how to show them.

    Args:
        lines: the curves (``curves``).
        title: the heading; command: the command line the Copy button copies.
        steps_per_epoch: for the epoch axis and hover (None when curves differ).
        x: ``epoch`` or ``step`` axis; log: start on a log lr axis.
        found: events to mark; notes: ``(level, message, fix)`` shown under the plot.
        level: the zlib level.
    """
    with ThreadPoolExecutor(min(len(lines), os.cpu_count() or 1) or 1) as pool:
        encoded = list(pool.map(lambda line: encode_curve(line.y, level), lines))
    for c, line in zip(encoded, lines, strict=True):
        c.update(name=line.name, kind=line.kind, show=line.show)
    return {
        "v": 1,
        "title": title,
        "command": command,
        "spe": steps_per_epoch,
        "x": x,
        "log": log,
        "curves": encoded,
        "events": encode_events(found),
        "notes": [{"level": lv, "message": m, "fix": f} for lv, m, f in notes],
    }


@cache
def _asset(name: str) -> str:
    return (resources.files("lrplot") / "assets" / name).read_text(encoding="utf-8")


def _notice() -> str:
    """Return uPlot's MIT notice, which must travel with every copy."""
    return (
        f"uPlot {UPLOT_VERSION} (https://github.com/leeoniya/uPlot), vendored from npm "
        f"uplot@{UPLOT_VERSION}.\n\n" + _asset("uplot/LICENSE").strip()
    )


def library_text() -> str:
    """Return the gallery's shared script: uPlot and the viewer, with uPlot's licence.

    Example:
        >>> "Copyright (c) 2022 Leon Sorokin" in library_text()
        True
    """
    return (
        f"/*! {_notice()}\n*/\n"
        + _asset("uplot/uPlot.iife.min.js").strip()
        + "\n"
        + _asset("viewer.js")
    )


def script_json(obj: Any) -> str:
    """Return JSON that is inert inside ``<script type="application/json">`` (no ``</script``).

    Example:
        >>> script_json({"t": "</script>"})
        '{"t":"\\\\u003c/script>"}'
    """
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).replace(
        "<", "\\u003c"
    )


def viewer_markup(title: str, command: str) -> str:
    """Return the viewer's elements: heading, toolbar, chart, legend and notes.

    Example:
        >>> '<h1 id="lp-title">a &lt;b&gt;</h1>' in viewer_markup("a <b>", "a <b>")
        True
    """
    esc = html.escape
    sub = command if command != title else ""
    return (
        '<header id="lp-head"><div id="lp-heading">'
        f'<h1 id="lp-title">{esc(title)}</h1>'
        f'<p id="lp-command" class="lp-mono"{"" if sub else " hidden"}>{esc(sub)}</p></div>'
        '<button id="lp-copy" type="button" title="Copy the command line">Copy</button>'
        "</header>\n"
        '<div id="lp-bar"><label class="lp-check"><input type="checkbox" id="lp-log"> log</label>'
        '<button id="lp-reset" type="button">Reset zoom</button>'
        '<span id="lp-info"></span><span id="lp-err" role="alert"></span>'
        '<span id="lp-hint">drag: zoom · wheel: zoom · shift+drag: pan · '
        "double-click: reset</span></div>\n"
        '<div id="lp-chart"><div id="lp-tip"></div></div>\n<div id="lp-legend"></div>\n'
        '<ul id="lp-notes" hidden></ul>\n'
    )


def page(
    data: dict[str, Any] | None,
    *,
    title: str,
    library: str | None = None,
    connect: str = "'none'",
    body: str | None = None,
    scripts: Sequence[str] = (),
    styles: Sequence[str] = (),
) -> str:
    """Return a whole page: the viewer with ``data`` embedded (or loaded later by a script).

    Args:
        data: the ``payload`` to embed, or None (the explorer loads its own).
        title: the document title.
        library: a script file next to the page holding uPlot and the viewer (a gallery),
            else None to inline both.
        connect: the CSP ``connect-src`` (``'none'``: the page may fetch nothing).
        body: the markup around the viewer (default: ``viewer_markup``).
        scripts, styles: more inline code, after the viewer.
    """
    esc = html.escape
    src = "'self' 'unsafe-inline'" if library else "'unsafe-inline'"
    csp = (
        f"default-src 'none'; script-src {src}; style-src 'unsafe-inline'; "
        f"img-src data:; connect-src {connect}; base-uri 'none'; form-action 'none'"
    )
    if body is None:
        assert data is not None
        body = viewer_markup(data["title"], data["command"])
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n',
        '<meta name="referrer" content="no-referrer">\n',
        '<link rel="icon" href="data:,">\n',
        f"<title>{esc(title)}</title>\n",
        f"<style>{_asset('uplot/uPlot.min.css').strip()}</style>\n",
        f"<style>{_asset('viewer.css')}</style>\n",
        *(f"<style>{s}</style>\n" for s in styles),
        '</head>\n<body class="lp-page">\n',
        body,
        f'<p class="lp-credit">lrplot · drawn with uPlot {UPLOT_VERSION} (MIT licence)</p>\n',
    ]
    if data is not None:
        parts.append(
            f'<script type="application/json" id="lrplot-data">{script_json(data)}</script>\n'
        )
    if library:
        parts.append(f'<script src="{esc(library)}"></script>\n')
    else:
        parts += [
            f"<!-- {_notice()}\n-->\n",
            f"<script>{_asset('uplot/uPlot.iife.min.js').strip()}</script>\n",
            f"<script>{_asset('viewer.js')}</script>\n",
        ]
    parts += [f"<script>{s}</script>\n" for s in scripts]
    parts.append("</body>\n</html>\n")
    return "".join(parts)


def write(
    path: str | Path,
    schedules: Sequence[Schedule],
    labels: Sequence[str],
    *,
    title: str,
    command: str,
    several: bool,
    momentum: bool = False,
    log: bool = False,
    x: str = "epoch",
    notes: Iterable[tuple[str, str, str | None]] = (),
    library: str | None = None,
) -> None:
    """Write the interactive page of some schedules to ``path`` (atomically).

    Args:
        path: the ``.html`` file.
        schedules, labels: the curves and their legend labels.
        title: the heading; command: the command line the Copy button copies.
        several: label lines by schedule (a comparison or sweep) rather than by group.
        momentum, log, x: as ``--momentum``, ``--log``, ``--x``.
        notes: ``(level, message, fix)`` lines under the plot (diagnostics).
        library: the gallery's shared script (``LIBRARY_FILE``) instead of inlining it.

    Example:
        >>> write("cosine.html", [schedule], ["cosine"], title="t", command="c",
        ...       several=False)  # doctest: +SKIP
    """
    spe = {s.steps_per_epoch for s in schedules}
    notes = [
        *notes,
        *(
            ("note", f"{label}: {n}" if several else n, None)
            for s, label in zip(schedules, labels, strict=True)
            for n in s.notes
        ),
    ]
    data = payload(
        curves(schedules, labels, several=several, momentum=momentum),
        title=title,
        command=command,
        steps_per_epoch=spe.pop() if len(spe) == 1 else None,
        x=x,
        log=log,
        found=events(schedules),
        notes=notes,
    )
    body = page(data, title=title, library=library).encode("utf-8")

    def put(handle: IO[bytes]) -> None:
        handle.write(body)

    atomic_write(path, put, binary=True)
