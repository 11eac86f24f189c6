"""``lrplot explore``: form, state, answers, copies, and a server that trusts nothing.

Everything here talks HTTP to a real server on 127.0.0.1; the page itself is driven in
``test_browser.py``.
"""

from __future__ import annotations

import contextlib
import csv
import http.client
import json
import os
import re
import shlex
import signal
import socket
import struct
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator

import numpy as np
import pytest
from typer.testing import CliRunner

from lrplot import cli, explore, pipeline, registry
from lrplot.engine import simulate
from lrplot.gallery import load_text
from lrplot.options import RUN_PANEL, DisplayOptions, RunOptions, page_options
from lrplot.spec import parse_spec
from tests.conftest import canonical

runner = CliRunner()
PLUGIN = "tests.plugins_fixture:WarmupCosine"


def same_bits(a, b) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.array_equal(a.view(np.int64), b.view(np.int64)))


# ------------------------------------------------------------------ a live server


class Client:
    """Talks to one running explorer."""

    def __init__(self, server, url: str) -> None:
        self.server = server
        self.url = url
        self.port = server.server_address[1]

    def get(self, path: str, headers: dict[str, str] | None = None, method: str = "GET", **kw):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, headers=headers or {}, **kw)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def ask(self, query: str | list[tuple[str, str]]) -> dict:
        """Return the last frame of a state's answer: error, superseded or the data."""
        if not isinstance(query, str):
            query = urllib.parse.urlencode(query)
        status, _, body = self.get("/api/run?" + query)
        assert status == 200, body
        out: dict = {"progress": []}
        for kind, data in frames(body):
            if kind == "P":
                out["progress"].append(json.loads(data))
            elif kind == "E":
                out.update(type="E", error=json.loads(data))
            elif kind == "C":
                out.update(type="C")
            else:
                (hlen,) = struct.unpack_from("<I", data)
                header = json.loads(data[4 : 4 + hlen])
                off = (4 + hlen + 7) & ~7
                ys = {}
                for c in header["curves"]:
                    ys[c["name"]] = np.frombuffer(data, "<f8", c["n"], off)
                    off += 8 * c["n"]
                out.update(type="D", header=header, ys=ys)
        return out


def frames(body: bytes) -> Iterator[tuple[str, bytes]]:
    at = 0
    while at < len(body):
        kind = chr(body[at])
        (size,) = struct.unpack_from("<I", body, at + 1)
        yield kind, body[at + 5 : at + 5 + size]
        at += 5 + size


@pytest.fixture
def served():
    """Start explorers on free ports in this process; stop them afterwards."""
    running = []

    def start(state=None, **setup) -> Client:
        state = state or [("scheduler", "cosine"), ("T_max", "30")]
        server, url = explore.make_server(explore.Setup(state, **setup), 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        running.append(server)
        return Client(server, url)

    yield start
    for server in running:
        server.explorer.stop()
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ the form


def test_form_fields_are_the_declared_options_and_the_signatures():
    form = explore.form()
    declared = page_options()
    assert [f["name"] for f in form["run"]] == [o.name for o in declared if o.panel == RUN_PANEL]
    assert [f["name"] for f in form["display"]] == [
        o.name for o in declared if o.panel != RUN_PANEL
    ]
    assert [s["name"] for s in form["schedulers"]] == [i.name for i in registry.SCHEDULERS]
    for s, info in zip(form["schedulers"], registry.SCHEDULERS, strict=True):
        assert [k["name"] for k in s["kwargs"]] == [kw.name for kw in info.cli_kwargs]
        for k in s["kwargs"]:  # every torch kwarg has its docstring's help
            assert k["help"], (s["name"], k["name"])
    cosine = next(s for s in form["schedulers"] if s["name"] == "cosine")
    assert cosine["kwargs"][0] == {
        "name": "T_max",
        "group": "kwargs",
        "kind": "int",
        "flag": "--T_max",
        "default": None,
        "required": True,
        "choices": [],
        "help": "Maximum number of iterations.",
        "type": "int",
        "metavar": "INT",
        "lines": False,
    }


def test_the_command_offers_the_page_fields_and_its_own():
    assert {o.name for o in page_options()} | {"max_steps"} == cli._EXPLORE_OPTIONS
    result = runner.invoke(cli.app, ["explore", "cosine", "--help"])
    assert result.exit_code == 0
    for flag in ("--T_max", "--epochs", "--log", "--max-steps", "--port", "--no-browser"):
        assert flag in result.output
    for flag in ("--sweep", "--out", "--table", "--annotate"):
        assert flag not in result.output
    assert "Example" in result.output


def test_plugin_form_uses_its_signature_and_docstring():
    form = explore.form(PLUGIN)
    mine = form["schedulers"][-1]
    assert mine["name"] == PLUGIN and [k["name"] for k in mine["kwargs"]] == [
        "warmup",
        "total",
        "floor",
    ]


def test_parse_docs_reads_google_style_args():
    doc = (
        "Summary.\n\nArgs:\n    a (int): First\n        continued.\n    b: Second.\n\n"
        "Example:\n    >>> x\n"
    )
    assert explore.parse_docs(doc) == {"a": "First continued.", "b": "Second."}
    assert explore.parse_docs("no args here") == {}


def test_initial_state_keeps_what_differs_from_the_defaults():
    state = explore.initial_state(
        "lambda",
        {"lr_lambda": ["0.9**epoch", "0.8**epoch"]},
        RunOptions(lr="0.1,0.2", optimizer="adam"),
        DisplayOptions(log=True, x="epoch"),
    )
    assert state == [
        ("scheduler", "lambda"),
        ("lr_lambda", "0.9**epoch"),
        ("lr_lambda", "0.8**epoch"),
        ("lr", "0.1,0.2"),
        ("optimizer", "adam"),
        ("log", "true"),
    ]


# ------------------------------------------------------------------ answers


CASES = [
    ([("scheduler", "cosine"), ("T_max", "30"), ("epochs", "50"), ("lr", "0.1,0.01")], {}),
    (
        [("scheduler", "onecycle"), ("max_lr", "0.1"), ("epochs", "6"), ("steps_per_epoch", "7")],
        {},
    ),
    (
        [
            ("scheduler", "lambda"),
            ("lr_lambda", "0.9**epoch"),
            ("lr_lambda", "1/(1+epoch)"),
            ("lr", "0.1,0.2"),
            ("epochs", "20"),
        ],
        {},
    ),
    (
        [
            ("scheduler", "sequential"),
            ("schedulers", "linear:start_factor=0.1,total_iters=5"),
            ("schedulers", "cosine:T_max=15"),
            ("milestones", "5"),
            ("optimizer", "adamw"),
        ],
        {},
    ),
    (
        [
            ("scheduler", "plateau"),
            ("patience", "2"),
            ("metric", "1/(1+epoch) if epoch < 10 else 0.1"),
            ("epochs", "30"),
        ],
        {},
    ),
    ([("scheduler", "cosine"), ("T_max", "12"), ("warmup", "3"), ("steps_per_epoch", "4")], {}),
    ([("scheduler", PLUGIN), ("warmup", "3"), ("total", "20")], {"plugin": PLUGIN}),
]


def _run_options(query: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    spec = "".join(v for k, v in query if k == "scheduler")
    return spec, {k: v for k, v in query if k != "scheduler"}


@pytest.mark.parametrize(("query", "setup"), CASES)
def test_answers_are_the_canonical_loop_and_the_copies_reproduce_them(
    served, tmp_path, monkeypatch, query, setup
):
    client = served(query, **setup)
    answer = client.ask(query)
    assert answer["type"] == "D", answer
    header = answer["header"]
    lr = np.column_stack([y for name, y in answer["ys"].items() if name.startswith("lr")])
    spec = pipeline.schedule_request(
        *_split(query), RunOptions(**_runs(query)), DisplayOptions()
    ).specs[0]
    want = canonical(spec)
    assert same_bits(lr, want["lr"])
    copies = header["copy"]
    # the command line
    monkeypatch.chdir(tmp_path)
    words = shlex.split(copies["command"])
    assert words[0] == "lrplot"
    result = runner.invoke(cli.app, [*words[1:], "-o", "x.csv"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with open("x.csv", newline="") as f:
        rows = list(csv.reader(f))
    columns = [i for i, h in enumerate(rows[0]) if h.startswith("lr")]
    assert same_bits(np.array([[float(r[i]) for i in columns] for r in rows[1:]]), lr)
    # the SPEC and the Python snippet
    assert same_bits(simulate(parse_spec(copies["spec"])).lr, lr)
    scope: dict = {"print": lambda *a: None}
    exec(copies["python"], scope)
    assert same_bits(scope["schedule"].lr, lr)
    # the YAML entry
    gallery = load_text("entries:\n" + _indent(copies["yaml"]), allow_import=bool(setup))
    assert not gallery.problems, gallery.problems
    done = pipeline.run(gallery.entries[0].request([]), write=False)
    assert same_bits(done.flat[0].lr, lr)


def _split(query):
    scheduler = dict(query)["scheduler"]
    info = explore.scheduler_info(scheduler)
    names = {kw.name: kw for kw in info.cli_kwargs}
    kwargs: dict = {}
    for k, v in query:
        if k in names:
            if names[k].repeatable:
                kwargs.setdefault(k, []).append(v)
            else:
                kwargs[k] = v
    return scheduler, kwargs


def _runs(query):
    runs = {o.name for o in page_options() if o.panel == RUN_PANEL}
    info = explore.scheduler_info(dict(query)["scheduler"])
    kwargs = {kw.name for kw in info.cli_kwargs}
    return {k: v for k, v in query if k in runs and k not in kwargs}


def _indent(text: str) -> str:
    return "".join("  " + line + "\n" for line in text.splitlines())


def test_answer_carries_events_notes_and_what_was_filled_in(served):
    client = served()
    header = client.ask("scheduler=cosine&T_max=20&epochs=50")["header"]
    assert any("T_max=20" in n["message"] and n["fix"] for n in header["notes"])
    assert header["resolved"]["epochs"] == 50 and header["title"] == header["command"]
    header = client.ask("scheduler=multistep&milestones=30,80")["header"]
    assert header["resolved"]["epochs"] == 100  # filled in; the page shows it as "auto: 100"
    assert header["events"]["count"] == 2
    header = client.ask("scheduler=cosine&T_max=20&momentum=true&x=step&log=true")["header"]
    assert [c["name"] for c in header["curves"]] == ["lr", "momentum"]
    assert header["x"] == "step" and header["log"] is True
    assert header["command"] == "lrplot cosine --T_max 20 --log --x step --momentum"


def test_display_changes_reuse_the_simulation(served):
    client = served()
    first = client.ask("scheduler=cosine&T_max=40")
    again = client.ask("scheduler=cosine&T_max=40&log=true")
    assert not first["header"]["cached"] and again["header"]["cached"]
    assert same_bits(first["ys"]["lr"], again["ys"]["lr"])


BAD = [
    ("scheduler=cosine&T_max=abc", "T_max", "expects an integer"),
    ("scheduler=cosine", "T_max", "needs T_max"),
    ("scheduler=cosine&T_max=5&epochs=0", "epochs", "at least 1"),
    ("scheduler=cosine&T_max=5&lr=-1", "lr", "positive"),
    ("scheduler=cosine&T_max=5&bogus=1", "bogus", "unknown field"),
    ("scheduler=cosine&T_max=5&x=time", "x", "one of epoch, step"),
    ("scheduler=cosine&T_max=5&log=maybe", "log", "true or false"),
    ("scheduler=plateau&warmup=3", "warmup", "cannot wrap"),
    ("scheduler=lambda&lr_lambda=__import__('os')", "lr_lambda", ""),
    ("scheduler=cosin&T_max=5", None, "unknown scheduler"),
    ("scheduler=cosine&T_max=5&epochs=3000000", "max_steps", "over the limit of 2,000,000"),
]


@pytest.mark.parametrize(("query", "key", "text"), BAD)
def test_a_bad_value_names_its_field(served, query, key, text):
    answer = served().ask(query)
    assert answer["type"] == "E", answer
    assert answer["error"]["key"] == key and text in answer["error"]["message"]


def test_the_page_cannot_import_code(served):
    assert "this" not in sys.modules  # `import this` prints; it must never happen here
    client = served()
    for query in (
        "scheduler=this:s",
        "scheduler=sequential&schedulers=this:s&schedulers=cosine:T_max=5&milestones=3",
        f"scheduler={PLUGIN}&warmup=2&total=5",
    ):
        answer = client.ask(query)
        assert answer["type"] == "E", query
        assert "not named on its command line" in answer["error"]["message"]
    assert "this" not in sys.modules
    mine = served(plugin=PLUGIN)  # the plug-in named on the command line is built
    assert mine.ask(f"scheduler={PLUGIN}&warmup=2&total=5")["type"] == "D"
    assert mine.ask("scheduler=this:s")["type"] == "E"


def test_the_page_reads_no_file(served, tmp_path):
    metric = tmp_path / "m.csv"
    metric.write_text("loss\n1\n0.5\n0.5\n0.5\n", encoding="utf-8")
    query = f"scheduler=plateau&patience=1&epochs=4&metric=@{metric}"
    answer = served().ask(query)
    assert answer["type"] == "E" and answer["error"]["key"] == "metric"
    # the file named on the command line is fine
    assert served(metric_file=f"@{metric}").ask(query)["type"] == "D"


def test_groups_and_steps_are_capped(served):
    client = served()
    lrs = ",".join(["0.1"] * (explore.MAX_GROUPS + 1))
    assert client.ask(f"scheduler=cosine&T_max=5&lr={lrs}")["error"]["key"] == "lr"
    small = served(max_steps=100)
    assert small.ask("scheduler=cosine&T_max=50&steps_per_epoch=3")["error"]["key"] == "max_steps"
    answer = small.ask("scheduler=cosine&T_max=90&lr=0.1,0.1,0.1")  # 270 values > 2 x 100
    assert answer["error"]["key"] == "lr" and "param groups" in answer["error"]["message"]
    assert small.ask("scheduler=cosine&T_max=90&lr=0.1,0.1")["type"] == "D"


def test_a_newer_state_stops_the_older_computation(served):
    client = served()
    first: dict = {}

    def slow() -> None:
        first.update(client.ask("scheduler=cosine&T_max=1900000"))

    thread = threading.Thread(target=slow)
    thread.start()
    while not client.server.explorer._compute.locked():  # wait until it simulates
        thread.join(0.01)
    assert client.ask("scheduler=cosine&T_max=10")["type"] == "D"
    thread.join()
    assert first["type"] == "C"


# ------------------------------------------------------------------ the server trusts nothing


def test_listens_on_loopback_only(served):
    client = served()
    assert client.server.server_address[0] == "127.0.0.1"
    assert client.url.startswith(f"http://127.0.0.1:{client.port}/?scheduler=cosine")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this picks the outgoing address
            outside = probe.getsockname()[0]
        except OSError:
            outside = None
    if outside is None or outside.startswith("127."):
        pytest.skip("this machine has no address but loopback")
    with pytest.raises(OSError), socket.create_connection((outside, client.port), timeout=5):
        pass


def test_rejects_a_foreign_host_header(served):
    client = served()
    port = client.port
    for host in (
        f"evil.example:{port}",
        "127.0.0.1",
        f"127.0.0.1:{port}.evil.example",
        f"127.0.0.1:{port + 1}",
        "",
    ):
        status, _, body = client.get("/api/run?scheduler=cosine&T_max=5", {"Host": host})
        assert status == 421, (host, status)
        assert b"own address" in body
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        assert client.get("/", {"Host": host})[0] == 200


def test_rejects_cross_site_requests_and_odd_ones(served):
    client = served()
    port = client.port
    assert client.get("/", {"Origin": "http://evil.example"})[0] == 403
    assert client.get("/", {"Origin": f"http://localhost:{port}"})[0] == 200
    assert client.get("/", {"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert client.get("/", {"Sec-Fetch-Site": "same-origin"})[0] == 200
    assert client.get("/", method="POST", body=b"x")[0] in (405, 413)
    assert client.get("/api/run", method="DELETE")[0] == 405
    assert client.get("/", {"Content-Length": "3"}, method="GET", body=b"abc")[0] == 413
    assert client.get("/", {"Content-Length": "x"})[0] == 413
    assert client.get("/api/run?scheduler=cosine&T_max=" + "1" * explore.MAX_URL)[0] == 414
    many = "&".join(f"k{i}=1" for i in range(explore.MAX_FIELDS + 1))
    assert client.get("/api/run?" + many)[0] == 400
    assert client.get("/etc/passwd")[0] == 404
    status, headers, body = client.get("/")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"
    text = body.decode("utf-8")
    assert "connect-src 'self'" in text and "default-src 'none'" in text
    assert re.findall(r'(?:src|href)="(?!data:)', text) == []


def test_ctrl_c_stops_it_cleanly(tmp_path):
    env = {**os.environ, "BROWSER": "", "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lrplot", "explore", "step", "--step_size", "5", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:(\d+)/\S*", line)
        assert url, line
        port = int(url.group(1))
        assert "scheduler=step&step_size=5" in url.group(0)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/api/run?scheduler=step&step_size=5")
        assert conn.getresponse().status == 200
        conn.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "explorer stopped" in out
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def test_a_busy_port_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(cli.app, ["explore", "--no-browser", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_open_browser_never_uses_a_text_browser(monkeypatch):
    import webbrowser

    opened = []
    monkeypatch.setattr(webbrowser.GenericBrowser, "open", lambda self, url, *a: opened.append(url))
    monkeypatch.delenv("BROWSER", raising=False)
    monkeypatch.setattr(webbrowser, "get", lambda using=None: webbrowser.GenericBrowser("lynx"))
    assert explore.open_browser("http://127.0.0.1:1/") is False and opened == []
