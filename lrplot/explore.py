"""``lrplot explore``: a local page where every change redraws the real schedule.

The page holds a form built from the scheduler's signature (the registry's kwargs, with the
help text of its docstring) and from the run and display options declared in
``lrplot.options``. Each change sends the form's state (the page's URL query) to this
process, which runs it through ``lrplot.pipeline`` (the real torch scheduler, stepped like
the training loop), and answers with the exact arrays, the diagnostics and the command
line, SPEC, YAML entry and Python snippet that reproduce the curve.

The server is the standard library's ``ThreadingHTTPServer`` bound to 127.0.0.1. It answers
only requests whose Host is its own address (DNS rebinding) and whose Origin, if any, is
the page itself; it builds only the built-in schedulers and the plug-in named on the command
line (a plug-in typed into the page is refused), reads no file named in the page, and caps
the URL size, the number of param groups and the steps of a run. A newer request stops an
older computation at its next progress report.

Example:
    >>> state = initial_state("cosine", {"T_max": "50"}, RunOptions(epochs=80), DisplayOptions())
    >>> state
    [('scheduler', 'cosine'), ('T_max', '50'), ('epochs', '80')]
    >>> parse_docs("Args:\\n    T_max (int): Maximum number of iterations.\\n")
    {'T_max': 'Maximum number of iterations.'}
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import numpy as np

from lrplot import html, pipeline, registry
from lrplot.errors import LrplotError, UsageError
from lrplot.options import RUN_PANEL, DisplayOptions, Option, RunOptions, page_options
from lrplot.plugins import imports_allowed, scheduler_info
from lrplot.spec import RUN_KEYS, ScheduleSpec, display_value

#: the most optimizer steps one page may ask for, unless ``--max-steps`` says otherwise.
MAX_STEPS = 2_000_000
#: the longest request line accepted (the state is in the query).
MAX_URL = 8192
#: the most param groups (``--lr`` values) a page may ask for.
MAX_GROUPS = 16
#: the most query fields a page may send.
MAX_FIELDS = 200
#: the scheduler shown when ``lrplot explore`` names none.
DEFAULT_START = ("cosine", {"T_max": "100"})
#: the run and display options the form offers (sweeps and limits stay on the command line).
RUN_FIELDS: tuple[Option, ...] = tuple(o for o in page_options() if o.panel == RUN_PANEL)
DISPLAY_FIELDS: tuple[Option, ...] = tuple(o for o in page_options() if o.panel != RUN_PANEL)
_PROGRESS_EVERY = 0.1  # seconds between progress frames
_CACHE = 4  # simulated results kept for display-only changes and pins


# --------------------------------------------------------------------------- form


def parse_docs(doc: str) -> dict[str, str]:
    """Return each kwarg's help text from the ``Args:`` section of a Google-style docstring."""
    out: dict[str, str] = {}
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() in ("Args:", "Arguments:"))
    except StopIteration:
        return out
    indent, name = None, None
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        if indent is None:
            indent = width
        if width < indent or (width == 0 and line.rstrip().endswith(":")):
            break
        match = re.match(r"\s*(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)", line)
        if width == indent and match:
            name = match.group(1)
            out[name] = match.group(3).strip()
        elif name is not None:
            out[name] = (out[name] + " " + line.strip()).strip()
    return {k: re.sub(r"``?([^`]+)``?", r"\1", v) for k, v in out.items()}


def _option_field(o: Option, group: str) -> dict[str, Any]:
    return {
        "name": o.name,
        "group": group,
        "kind": o.kind,
        "flag": o.flag,
        "default": None if o.default is None else display_value(o.default),
        "choices": list(o.choices),
        "help": o.help,
        "metavar": o.metavar,
    }


def _kwarg_field(kw: registry.KwargInfo, docs: dict[str, str]) -> dict[str, Any]:
    default = None if kw.required or kw.default is None else display_value(kw.default)
    return {
        "name": kw.name,
        "group": "kwargs",
        "kind": kw.kind,
        "flag": f"--{kw.name}",
        "default": default,
        "required": kw.required,
        "choices": list(kw.choices) or (["true", "false"] if kw.kind == "bool" else []),
        "help": docs.get(kw.name, ""),
        "type": kw.annotation or kw.kind,
        "metavar": kw.metavar,
        "lines": kw.repeatable,
    }


def form(plugin: str | None = None) -> dict[str, Any]:
    """Return the form of the page: each scheduler's kwargs, the run and display options.

    Example:
        >>> f = form()
        >>> [k["name"] for k in f["schedulers"][0]["kwargs"]], f["run"][0]["name"]
        (['step_size', 'gamma'], 'lr')
    """
    from lrplot.engine import scheduler_doc

    infos = [*registry.SCHEDULERS, *([scheduler_info(plugin)] if plugin else [])]
    schedulers = []
    for info in infos:
        name = plugin if not info.builtin and plugin else info.name
        docs = parse_docs(scheduler_doc(name))
        schedulers.append(
            {
                "name": name,
                "cls": info.cls,
                "summary": info.summary,
                "aliases": list(info.aliases),
                "metric": info.traits.metric,
                "kwargs": [_kwarg_field(kw, docs) for kw in info.cli_kwargs],
            }
        )
    return {
        "schedulers": schedulers,
        "run": [_option_field(o, "run") for o in RUN_FIELDS],
        "display": [_option_field(o, "display") for o in DISPLAY_FIELDS],
    }


# --------------------------------------------------------------------------- state


def initial_state(
    scheduler: str, kwargs: dict[str, Any], run: RunOptions, display: DisplayOptions
) -> list[tuple[str, str]]:
    """Return the page state (URL query items) of a command line's values.

    Only values that differ from the declared defaults are kept.
    """
    state = [("scheduler", scheduler)]
    for key, value in kwargs.items():
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            state.append((key, str(item)))
    for o in (*RUN_FIELDS, *DISPLAY_FIELDS):
        value = getattr(run if o in RUN_FIELDS else display, o.name)
        if value is not None and value != o.default:
            state.append((o.name, display_value(value)))
    return state


@dataclass
class Setup:
    """What the command line fixed: the plug-in allowed, the limits, the first state."""

    state: list[tuple[str, str]]
    plugin: str | None = None
    max_steps: int = MAX_STEPS
    metric_file: str | None = None
    host: str = "127.0.0.1"


@dataclass
class Answer:
    """The outcome of one state: the request and result, or the error to show."""

    query: dict[str, list[str]]
    request: pipeline.Request | None = None
    result: pipeline.Result | None = None
    error: LrplotError | None = None
    server_ms: float = 0.0
    cached: bool = False


def _display_value(key: str, text: str) -> Any:
    """Type a display option of the page (booleans and choices are all it offers)."""
    o = next(o for o in DISPLAY_FIELDS if o.name == key)
    low = text.strip().lower()
    if o.kind == "bool":
        if low in ("", "auto") and o.negatable:
            return None  # lrplot decides (e.g. a log axis when the run spans decades)
        if low in ("true", "1", "yes", "on", "false", "0", "no", "off", ""):
            return low in ("true", "1", "yes", "on")
        raise UsageError(f"{o.flag} expects true or false, got {text!r}", key=key, value=text)
    if o.choices and low not in o.choices:
        raise UsageError(
            f"{o.flag} must be one of {', '.join(o.choices)}, got {text!r}", key=key, value=text
        )
    return low


_PLUGIN_HEAD = re.compile(r"\s*['\"]?([A-Za-z_][\w.]*:[A-Za-z_]\w*)")


def _refuse_plugins(name: str, values: Sequence[str], setup: Setup) -> None:
    """Refuse any plug-in but the command line's, named as the scheduler or in a SPEC."""
    for text in [name, *values]:
        match = _PLUGIN_HEAD.match(text)
        if match and registry.is_plugin(match.group(1)) and match.group(1) != setup.plugin:
            raise UsageError(
                "the explorer builds only the built-in schedulers"
                + (f" and {setup.plugin}" if setup.plugin else "")
                + f"; '{match.group(1)}' was not named on its command line",
                hint="start it with: lrplot explore MODULE:NAME",
                key="scheduler" if text == name else None,
                value=text,
            )


def build_request(query: dict[str, list[str]], setup: Setup) -> pipeline.Request:
    """Return the pipeline request of a page state; refuse what the page may not ask.

    Example:
        >>> build_request({"scheduler": ["cosine"], "T_max": ["9"]}, Setup([])).command
        'lrplot cosine --T_max 9'

    Raises:
        UsageError: a bad value (its ``key`` names the field), an unknown field, a plug-in
            or a metric file the command line did not name, too many groups or steps.
    """
    scheduler = (query.get("scheduler") or [""])[-1].strip()
    if not scheduler:
        raise UsageError("choose a scheduler", key="scheduler")
    _refuse_plugins(scheduler, [v for vs in query.values() for v in vs], setup)
    info = scheduler_info(scheduler)
    kwarg_names = {kw.name: kw for kw in info.cli_kwargs}
    run_names = {o.name for o in RUN_FIELDS} - set(kwarg_names)
    display_names = {o.name for o in DISPLAY_FIELDS} - set(kwarg_names)
    kwargs: dict[str, Any] = {}
    run: dict[str, Any] = {}
    display: dict[str, Any] = {}
    for key, values in query.items():
        if key == "scheduler":
            continue
        value = values[-1]
        if key in kwarg_names:
            kwargs[key] = list(values) if kwarg_names[key].repeatable else value
        elif key in run_names:
            run[key] = value
        elif key in display_names:
            display[key] = _display_value(key, value)
        else:
            raise UsageError(f"the page sent an unknown field '{key}'", key=key, at_key=True)
    metric = run.get("metric")
    if isinstance(metric, str) and metric.strip().startswith("@") and metric != setup.metric_file:
        raise UsageError(
            "the explorer reads no file named in the page",
            hint="give --metric @FILE on its command line",
            key="metric",
            value=metric,
        )
    lr = run.get("lr")
    if isinstance(lr, str) and lr.count(",") >= MAX_GROUPS:
        raise UsageError(
            f"--lr gives {lr.count(',') + 1} param groups; the explorer draws at most {MAX_GROUPS}",
            key="lr",
            value=lr,
        )
    request = pipeline.schedule_request(
        scheduler, kwargs, RunOptions(**run), DisplayOptions(**display)
    )
    request.max_steps = setup.max_steps
    spec = request.specs[0]
    steps = spec.resolved().n_steps
    if spec.groups > 1 and steps <= setup.max_steps < steps * spec.groups // 2:
        raise UsageError(
            f"{steps:,} steps x {spec.groups} param groups is more than the explorer draws "
            f"({2 * setup.max_steps:,} values)",
            hint="use fewer groups or steps",
            key="lr",
        )
    return request


class Superseded(Exception):
    """A newer state arrived: stop computing this one."""


class Explorer:
    """The warm process behind the page: computes states, newest first, and keeps a few."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self._latest = 0
        self._ids = itertools.count(1)
        self._compute = threading.Lock()
        self._cache: OrderedDict[tuple[Any, ...], pipeline.Result] = OrderedDict()
        self._form: dict[str, Any] | None = None

    def form(self) -> dict[str, Any]:
        """Return the page's form (built once)."""
        if self._form is None:
            self._form = form(self.setup.plugin)
        return self._form

    def stop(self) -> None:
        """Make every running computation stop at its next progress report."""
        self._latest = -1

    def answer(
        self, query: dict[str, list[str]], report: Callable[[int, int], None] | None = None
    ) -> Answer:
        """Compute a state (or take it from the cache); never raise for bad input.

        Args:
            query: the state, as URL query fields.
            report: called with ``(done, total)`` optimizer steps while simulating.

        Raises:
            Superseded: a newer state arrived while this one waited or ran.
        """
        mine = next(self._ids)
        self._latest = mine
        start = time.perf_counter()
        out = Answer(query)
        display = {o.name for o in DISPLAY_FIELDS}
        key = tuple(sorted((k, tuple(v)) for k, v in query.items() if k not in display))
        try:
            allowed = [self.setup.plugin] if self.setup.plugin else []
            with imports_allowed(False, except_for=allowed):
                out.request = build_request(query, self.setup)
                with self._compute:
                    if self._latest != mine:
                        raise Superseded
                    cached = self._cache.get(key)
                    if cached is not None:
                        self._cache.move_to_end(key)
                        out.result = pipeline.Result(
                            out.request, cached.schedules, cached.diagnostics
                        )
                        out.cached = True
                    else:
                        out.result = pipeline.run(
                            out.request, progress=self._progress(mine, report), write=False
                        )
                        self._cache[key] = out.result
                        while len(self._cache) > _CACHE:
                            self._cache.popitem(last=False)
        except LrplotError as exc:
            out.error = exc
        except Superseded:
            raise
        except Exception as exc:  # a plug-in may fail in any way: say so, keep serving
            out.error = LrplotError(f"unexpected {type(exc).__name__}: {exc}".splitlines()[0])
        out.server_ms = (time.perf_counter() - start) * 1e3
        return out

    def _progress(self, mine: int, report: Callable[[int, int], None] | None) -> Any:
        @contextlib.contextmanager
        def factory(total: int) -> Iterator[Callable[[int, int], None]]:
            last = [time.perf_counter()]

            def update(done: int, total: int) -> None:
                if self._latest != mine:
                    raise Superseded
                now = time.perf_counter()
                if report is not None and now - last[0] >= _PROGRESS_EVERY:
                    last[0] = now
                    report(done, total)

            yield update

        return factory


# --------------------------------------------------------------------------- answers


def _spec_item(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_spec_item(v) for v in value) + "]"
    text = display_value(value)
    return text if re.fullmatch(r"[\w.+-]+", text) else repr(text)


def spec_text(spec: ScheduleSpec) -> str:
    """Return a SPEC string with the run options that differ from the defaults.

    Example:
        >>> from lrplot.spec import make_spec
        >>> spec_text(make_spec("cosine", {"T_max": 50}, epochs=80, lr="0.1,0.01"))
        'cosine:T_max=50,lr=[0.1,0.01],epochs=80'
    """
    plain = ScheduleSpec(spec.scheduler)
    base = spec.to_spec_string()
    extra = [
        f"{key}={_spec_item(value)}"
        for key in RUN_KEYS
        if key != "label"
        and (value := getattr(spec, key)) is not None
        and value != getattr(plain, key)
    ]
    if not extra:
        return base
    return base + ("," if base != spec.scheduler else ":") + ",".join(extra)


def _yaml_value(value: Any) -> str:
    if isinstance(value, ScheduleSpec):
        return json.dumps(value.to_spec_string())
    if hasattr(value, "source"):
        return json.dumps(str(value.source))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(str(value))
    return json.dumps(value)


def yaml_entry(spec: ScheduleSpec, display: DisplayOptions) -> str:
    """Return a gallery config entry (YAML) that draws the same curve.

    Example:
        >>> from lrplot.spec import make_spec
        >>> print(yaml_entry(make_spec("step", {"step_size": 30}, epochs=90), DisplayOptions()))
        step:
          scheduler: step
          kwargs: {"step_size": 30}
          epochs: 90
    """
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", spec.scheduler.rpartition(":")[2]).strip(".-") or "entry"
    lines = [f"{name}:", f"  scheduler: {json.dumps(spec.scheduler)}"]
    if ":" not in spec.scheduler:
        lines[1] = f"  scheduler: {spec.scheduler}"
    if spec.kwargs:
        items = ", ".join(f"{json.dumps(k)}: {_yaml_value(v)}" for k, v in spec.kwargs.items())
        lines.append(f"  kwargs: {{{items}}}")
    plain = ScheduleSpec(spec.scheduler)
    for o in RUN_FIELDS:
        value = getattr(spec, o.name)
        if value is not None and value != getattr(plain, o.name):
            value = value[0] if isinstance(value, tuple) and len(value) == 1 else value
            lines.append(f"  {o.name}: {_yaml_value(value)}")
    for o in DISPLAY_FIELDS:
        value = getattr(display, o.name)
        if value != o.default:
            lines.append(f"  {o.name}: {_yaml_value(value)}")
    return "\n".join(lines)


def python_snippet(spec: ScheduleSpec) -> str:
    """Return Python that computes the same curve with lrplot's API.

    Example:
        >>> from lrplot.spec import make_spec
        >>> print(python_snippet(make_spec("cosine", {"T_max": 50})))
        import lrplot
        <BLANKLINE>
        schedule = lrplot.simulate('cosine:T_max=50')
        print(schedule.lr[:, 0])  # the lr of each optimizer step (column = param group)
    """
    return (
        "import lrplot\n\n"
        f"schedule = lrplot.simulate({spec_text(spec)!r})\n"
        "print(schedule.lr[:, 0])  # the lr of each optimizer step (column = param group)"
    )


def data_frame(answer: Answer) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Return the header and arrays of a computed state, for the page."""
    assert answer.request is not None and answer.result is not None
    request, result = answer.request, answer.result
    flat = result.flat
    spec = request.specs[0]
    display = request.display
    lines = html.curves(
        flat, [s.name for s in flat], several=request.several, momentum=display.momentum
    )
    notes: list[tuple[str, str, str | None]] = [
        (d.level, d.message, d.fix) for d in result.diagnostics
    ]
    notes += [("note", n, None) for s in flat for n in s.notes]
    resolved = spec.resolved()
    schedule = flat[0]
    header = {
        "v": 1,
        "title": request.command,
        "command": request.command,
        "spe": schedule.steps_per_epoch,
        "x": display.x,
        "log": display.log,
        "curves": [
            {"name": c.name, "kind": c.kind, "show": c.show, "codec": "f64", "n": len(c.y)}
            for c in lines
        ],
        "events": html.encode_events(html.events(flat)),
        "notes": [{"level": lv, "message": m, "fix": f} for lv, m, f in notes],
        "copy": {
            "command": request.command,
            "spec": spec_text(spec),
            "yaml": yaml_entry(spec, display),
            "python": python_snippet(spec),
        },
        "label": spec_text(spec),
        "resolved": {
            "epochs": resolved.epochs,
            "step_per": resolved.step_per,
            "steps": schedule.n,
            "planned": schedule.planned_steps,
            "groups": schedule.groups,
            "steps_per_epoch": schedule.steps_per_epoch,
        },
        "server_ms": round(answer.server_ms, 2),
        "cached": answer.cached,
    }
    return header, [np.ascontiguousarray(c.y, dtype="<f8") for c in lines]


def error_body(error: LrplotError) -> dict[str, Any]:
    """Return the JSON of an error for the page (the field it is about, message, hint).

    Example:
        >>> error_body(UsageError("bad", key="T_max"))
        {'key': 'T_max', 'message': 'bad', 'hint': None}
    """
    return {"key": error.key, "message": error.message, "hint": error.hint}


def frame(kind: bytes, body: bytes) -> bytes:
    """Return one response frame: a type byte, the body length (uint32 LE), the body.

    Example:
        >>> frame(b"P", b"{}")
        b'P\\x02\\x00\\x00\\x00{}'
    """
    return kind + struct.pack("<I", len(body)) + body


def data_body(header: dict[str, Any], arrays: list[np.ndarray]) -> bytes:
    """Return a data frame body: header length, JSON header, padding to 8, float64 arrays.

    Example:
        >>> len(data_body({"n": 1}, [np.zeros(1)]))  # 4 + 8 header bytes, pad 4, 8 data
        24
    """
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    pad = -(4 + len(head)) % 8
    return b"".join(
        [struct.pack("<I", len(head)), head, b" " * pad, *(a.tobytes() for a in arrays)]
    )


# --------------------------------------------------------------------------- page


def _asset(name: str) -> str:
    return (resources.files("lrplot") / "assets" / name).read_text(encoding="utf-8")


def page(explorer: Explorer) -> str:
    """Return the explorer's page: the viewer, the form and its data, no network but itself."""
    boot = {
        "form": explorer.form(),
        "initial": urllib.parse.urlencode(explorer.setup.state),
        "limits": {"max_steps": explorer.setup.max_steps, "max_groups": MAX_GROUPS},
    }
    body = (
        '<div id="ex-app"><form id="ex-form" autocomplete="off" novalidate>'
        '<div class="ex-brand">lrplot <b>explore</b></div>'
        '<div class="ex-field" data-name="scheduler"><label for="ex-scheduler">scheduler</label>'
        '<select id="ex-scheduler" name="scheduler"></select>'
        '<div class="ex-help" id="ex-summary"></div><div class="ex-err" role="alert"></div></div>'
        '<fieldset id="ex-kwargs"><legend>Scheduler kwargs</legend></fieldset>'
        '<fieldset id="ex-run"><legend>Run options</legend></fieldset>'
        '<fieldset id="ex-display"><legend>Display</legend></fieldset>'
        "</form>"
        '<main id="ex-view">'
        + html.viewer_markup("lrplot explore", "lrplot explore")
        + '<div id="ex-actions"><span class="ex-label">copy</span>'
        '<button type="button" data-copy="command">Command</button>'
        '<button type="button" data-copy="spec">SPEC</button>'
        '<button type="button" data-copy="yaml">YAML</button>'
        '<button type="button" data-copy="python">Python</button>'
        '<button type="button" id="ex-pin" title="Keep this curve to compare">Pin</button>'
        '<span id="ex-status" role="status"></span></div>'
        '<div id="ex-error" class="ex-err" role="alert"></div>'
        '<ul id="ex-pins"></ul></main></div>\n'
        f'<script type="application/json" id="lrplot-explore">{html.script_json(boot)}</script>\n'
    )
    return html.page(
        None,
        title="lrplot explore",
        connect="'self'",
        body=body,
        scripts=[_asset("explore.js")],
        styles=[_asset("explore.css")],
    )


# --------------------------------------------------------------------------- server


def allowed_hosts(port: int) -> set[str]:
    """Return the Host headers the server answers (its own address only).

    Example:
        >>> sorted(allowed_hosts(8000))
        ['127.0.0.1:8000', 'localhost:8000']
    """
    return {f"127.0.0.1:{port}", f"localhost:{port}"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else ~40 ms of delayed ACK per keep-alive answer
    timeout = 120  # seconds an idle connection may wait for its next request
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: the terminal shows the URL and the page shows the rest."""

    def _guard(self) -> bool:
        port = self.server.server_address[1]
        hosts = allowed_hosts(port)
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in hosts:
            self._plain(421, "this server answers only to its own address (127.0.0.1)")
            return False
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() not in {f"http://{h}" for h in hosts}:
            self._plain(403, "cross-origin request refused")
            return False
        site = self.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            self._plain(403, "cross-site request refused")
            return False
        if (self.headers.get("Content-Length") or "0").strip() != "0":
            self._plain(413, "requests carry no body")
            return False
        if len(self.path) > MAX_URL:
            self._plain(414, "request too long")
            return False
        return True

    def _headers(self, code: int, ctype: str, length: int | None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.end_headers()

    def _plain(self, code: int, text: str) -> None:
        body = (text + "\n").encode("utf-8")
        self._headers(code, "text/plain; charset=utf-8", len(body))
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        """Serve the page or compute a state."""
        if not self._guard():
            return
        path, _, query = self.path.partition("?")
        if path == "/":
            body = self.server.page.encode("utf-8")
            self._headers(200, "text/html; charset=utf-8", len(body))
            if self.command != "HEAD":
                self.wfile.write(body)
        elif path == "/api/run" and self.command == "GET":
            self._run(query)
        else:
            self._plain(404, "not found")

    def do_HEAD(self) -> None:
        """Answer like GET, without a body."""
        self.do_GET()

    def _refuse(self) -> None:
        self._plain(405, "only GET is served")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def _send_frame(self, kind: bytes, body: bytes) -> None:
        data = frame(kind, body)
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _run(self, query: str) -> None:
        try:
            fields = urllib.parse.parse_qsl(
                query, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FIELDS
            )
        except ValueError:
            self._plain(400, f"at most {MAX_FIELDS} fields")
            return
        parsed: dict[str, list[str]] = {}
        for key, value in fields:
            parsed.setdefault(key, []).append(value)
        self._headers(200, "application/octet-stream", None)

        def report(done: int, total: int) -> None:
            try:
                self._send_frame(b"P", json.dumps({"done": done, "total": total}).encode())
            except OSError as exc:  # the page gave up on this request
                raise Superseded from exc

        try:
            answer = self.server.explorer.answer(parsed, report)
            if answer.error is not None:
                self._send_frame(b"E", json.dumps(error_body(answer.error)).encode())
            else:
                header, arrays = data_frame(answer)
                self._send_frame(b"D", data_body(header, arrays))
        except Superseded:
            with contextlib.suppress(OSError):
                self._send_frame(b"C", b"{}")
        with contextlib.suppress(OSError):
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False
    explorer: Explorer
    page: str

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore a page that went away; report anything else in one line, no traceback."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            sys.stderr.write(f"lrplot explore: {type(exc).__name__}: {exc}\n")


def make_server(setup: Setup, port: int = 0) -> tuple[_Server, str]:
    """Return the server, bound to 127.0.0.1 (a free port for 0), and its URL.

    Raises:
        LrplotError: the port cannot be bound.

    Example:
        >>> server, url = make_server(Setup([("scheduler", "cosine"), ("T_max", "9")]))
        >>> url.startswith("http://127.0.0.1:") and url.endswith("/?scheduler=cosine&T_max=9")
        True
        >>> server.server_close()
    """
    try:
        server = _Server((setup.host, port), _Handler, bind_and_activate=False)
        server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        server.server_bind()
        server.server_activate()
    except OSError as exc:
        raise LrplotError(
            f"cannot listen on {setup.host}:{port}: {exc.strerror or exc}",
            hint="choose another --port, or 0 for a free one",
        ) from None
    server.explorer = Explorer(setup)
    server.page = page(server.explorer)
    bound = server.server_address[1]
    query = urllib.parse.urlencode(setup.state)
    return server, f"http://127.0.0.1:{bound}/" + (f"?{query}" if query else "")


def serve(
    setup: Setup,
    *,
    port: int = 0,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the explorer until Ctrl-C; call ``ready(url)`` once it listens.

    The first state is computed in the background right away, so the page's first answer
    does not wait for torch to load.

    Example:
        >>> serve(Setup([("scheduler", "cosine"), ("T_max", "9")]), ready=print)  # doctest: +SKIP
        http://127.0.0.1:41187/?scheduler=cosine&T_max=9
    """
    server, url = make_server(setup, port)
    explorer = server.explorer

    def warm() -> None:
        with contextlib.suppress(Exception):
            explorer.answer(_lists(setup.state))

    threading.Thread(target=warm, daemon=True).start()
    try:
        if ready is not None:
            ready(url)
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        explorer.stop()
        server.server_close()


def _lists(state: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in state:
        out.setdefault(key, []).append(value)
    return out


def open_browser(url: str) -> bool:
    """Open ``url`` in a graphical browser (never a text one in this terminal); True if done."""
    import os
    import webbrowser

    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    console = type(browser) is webbrowser.GenericBrowser and not os.environ.get("BROWSER")
    if console:  # lynx or w3m would take over the terminal the server prints to
        return False
    threading.Thread(target=browser.open, args=(url,), daemon=True).start()
    return True


__all__ = [
    "DEFAULT_START",
    "MAX_STEPS",
    "Explorer",
    "Setup",
    "allowed_hosts",
    "build_request",
    "form",
    "initial_state",
    "make_server",
    "open_browser",
    "python_snippet",
    "serve",
    "spec_text",
    "yaml_entry",
]
