"""Interactive pages (``-o x.html``): a lossless codec, a safe page, every command and the gallery.

The browser side (decoding, hover, no network) is tested in ``test_browser.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from typer.testing import CliRunner

from lrplot import cli, html
from lrplot.engine import simulate
from lrplot.schedule import Event, Schedule
from tests.conftest import canonical

runner = CliRunner()
ASSETS = Path(html.__file__).parent / "assets"


def run(*args: str):
    return runner.invoke(cli.app, list(args), catch_exceptions=False)


def embedded(path: Path) -> dict:
    """Return the payload a page embeds."""
    text = path.read_text(encoding="utf-8")
    match = re.search(
        r'<script type="application/json" id="lrplot-data">(.*?)</script>', text, re.S
    )
    assert match, "no embedded data"
    return json.loads(match.group(1))


def arrays(payload: dict) -> dict[str, np.ndarray]:
    return {c["name"]: html.decode_curve(c) for c in payload["curves"]}


def unpack(parts: list[str]) -> bytes:
    return b"".join(zlib.decompress(base64.b64decode(p)) for p in parts)


def decode_events(ev: dict) -> list[tuple[int, str, str]]:
    """Python mirror of the viewer's event decoder."""
    if not ev["count"]:
        return []
    gaps = np.frombuffer(unpack(ev["steps"]), "<u4")
    which = np.frombuffer(unpack(ev["which"]), "<u2")
    steps = np.cumsum(gaps.astype(np.int64))
    return [(int(s), ev["kinds"][k], ev["labels"][k]) for s, k in zip(steps, which, strict=True)]


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.array_equal(a.view(np.int64), b.view(np.int64)))


# ------------------------------------------------------------------ the codec


@given(hnp.arrays(np.float64, st.integers(0, 3000), elements=st.floats(allow_subnormal=True)))
def test_codec_round_trips_any_float64_bit_pattern(y):
    assert same_bits(html.decode_curve(html.encode_curve(y)), y)


@given(st.lists(st.tuples(st.floats(allow_nan=True), st.integers(1, 400)), min_size=1, max_size=30))
def test_codec_round_trips_piecewise_constant_curves(runs):
    y = np.concatenate([np.full(k, v) for v, k in runs])
    assert same_bits(html.decode_curve(html.encode_curve(y)), y)


def test_codec_keeps_a_one_step_spike_and_picks_the_compact_form():
    y = np.full(1_000_000, 0.1)
    y[123_457] = 7.0
    c = html.encode_curve(y)
    assert c["codec"] == "rle" and len("".join(c["data"])) < 200
    assert same_bits(html.decode_curve(c), y)


def test_codec_is_small_for_a_million_real_steps():
    lr = simulate("cosine:T_max=1000000", epochs=1_000_000).lr[:, 0]
    c = html.encode_curve(lr)
    assert c["codec"] == "dd" and c["order"] >= 2
    assert len(c["data"]) > 1  # parts deflated in parallel
    assert len("".join(c["data"])) < 1_000_000  # about 0.6 MB: far below 8 MB of raw float64
    assert same_bits(html.decode_curve(c), lr)


def test_events_round_trip_many_and_few():
    many = [Event(k, "decay", "×0.5") for k in range(1, 200_000)]
    ev = html.encode_events(many)
    assert ev["labels"] == ["×0.5"] and len("".join(ev["steps"])) < 2000
    assert decode_events(ev) == [(e.step, e.kind, e.label) for e in many]
    few = [Event(30, "decay", "×0.1"), Event(5, "phase", "warmup ends")]
    assert decode_events(html.encode_events(few)) == [
        (5, "phase", "warmup ends"),
        (30, "decay", "×0.1"),
    ]
    assert decode_events(html.encode_events([])) == []


# ------------------------------------------------------------------ the vendored library


def test_vendored_uplot_matches_its_recorded_sha256():
    source = (ASSETS / "uplot" / "SOURCE.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\S+) \| (\d+) \| ([0-9a-f]{64}) \|$", source, re.M)
    assert {r[0] for r in rows} == {"uPlot.iife.min.js", "uPlot.min.css", "LICENSE"}
    for name, size, digest in rows:
        data = (ASSETS / "uplot" / name).read_bytes()
        assert len(data) == int(size) and hashlib.sha256(data).hexdigest() == digest, name
    assert f"uplot@{html.UPLOT_VERSION}" in source
    assert f"(v{html.UPLOT_VERSION})" in (ASSETS / "uplot" / "uPlot.iife.min.js").read_text()


def test_page_carries_the_mit_notice_and_forbids_the_network(tmp_path):
    out = tmp_path / "c.html"
    assert run("cosine", "--T_max", "20", "-o", str(out)).exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert "Copyright (c) 2022 Leon Sorokin" in text and "Permission is hereby granted" in text
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp
    assert "'self'" not in csp  # the page may load nothing, not even from its own directory
    # nothing to fetch: no src/href to anything but a data: URL
    assert re.findall(r'(?:src|href)="(?!data:)', text) == []


def test_hostile_title_and_labels_stay_text(tmp_path):
    out = tmp_path / "t.html"
    bad = "</script><script>window.PWNED=1</script><!--"
    result = run("compare", "cosine:T_max=5,label='" + bad + "'", "--title", bad, "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "<script>window.PWNED" not in text
    payload = embedded(out)
    assert payload["title"] == bad and payload["curves"][0]["name"] == bad


# ------------------------------------------------------------------ -o x.html


def test_schedule_page_holds_the_canonical_loop_exactly(tmp_path):
    out = tmp_path / "oc.html"
    args = ["onecycle", "--max_lr", "0.1", "--epochs", "30", "--steps-per-epoch", "50"]
    result = run(*args, "--lr", "0.1,0.01", "-o", str(out))
    assert result.exit_code == 0, result.output
    payload = embedded(out)
    want = canonical(
        "onecycle:max_lr=0.1", epochs=30, steps_per_epoch=50, lr=(0.1, 0.01), step_per="iter"
    )
    got = arrays(payload)
    assert list(got) == ["lr_0", "lr_1", "momentum_0", "momentum_1"]  # momentum varies
    assert same_bits(got["lr_0"], want["lr"][:, 0]) and same_bits(got["lr_1"], want["lr"][:, 1])
    assert same_bits(got["momentum_1"], want["momentum"][:, 1])
    assert payload["spe"] == 50 and payload["x"] == "epoch"
    assert payload["command"] == (
        "lrplot onecycle --max_lr 0.1 --lr 0.1,0.01 --epochs 30 --steps-per-epoch 50"
    )


def test_page_marks_events_and_lists_diagnostics(tmp_path):
    out = tmp_path / "c.html"
    assert run("cosine", "--T_max", "20", "--epochs", "50", "--log", "-o", str(out)).exit_code == 0
    payload = embedded(out)
    assert payload["log"] is True and payload["command"].endswith("--log")
    assert any("T_max=20" in n["message"] and n["fix"] for n in payload["notes"])
    out = tmp_path / "m.html"
    assert run("multistep", "--milestones", "30,80", "-o", str(out)).exit_code == 0
    assert decode_events(embedded(out)["events"]) == [(30, "decay", "×0.1"), (80, "decay", "×0.1")]


def test_compare_and_sweep_pages(tmp_path):
    out = tmp_path / "cmp.html"
    result = run(
        "compare", "cosine:T_max=100", "step:step_size=30", "--epochs", "120", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    payload = embedded(out)
    assert payload["command"] == "lrplot compare cosine:T_max=100 step:step_size=30 --epochs 120"
    got = arrays(payload)
    assert same_bits(
        got["step:step_size=30"], canonical("step:step_size=30", epochs=120)["lr"][:, 0]
    )
    out = tmp_path / "sw.html"
    result = run("cosine", "--sweep", "T_max=50,100", "--sweep", "eta_min=0,0.01", "-o", str(out))
    assert result.exit_code == 0, result.output
    names = [c["name"] for c in embedded(out)["curves"]]
    assert names == [
        "T_max=50, eta_min=0",
        "T_max=50, eta_min=0.01",
        "T_max=100, eta_min=0",
        "T_max=100, eta_min=0.01",
    ]


def test_html_beside_other_outputs_and_bad_extensions(tmp_path):
    png, page = tmp_path / "a.png", tmp_path / "a.HTML"
    assert run("exp", "--gamma", "0.9", "-o", str(png), "-o", str(page)).exit_code == 0
    assert png.exists() and page.exists()
    result = run("exp", "--gamma", "0.9", "-o", str(tmp_path / "a.htm"))
    assert result.exit_code == 2 and ".html" in result.output


def test_python_api_writes_a_page(tmp_path):
    s = simulate("step:step_size=3", epochs=10)
    html.write(tmp_path / "s.html", [s], ["step"], title="t", command="c", several=False)
    got = arrays(embedded(tmp_path / "s.html"))
    assert same_bits(got["lr"], s.lr[:, 0])


def test_curve_names_follow_csv_columns():
    s = Schedule(lr=np.ones((3, 2)), momentum=np.ones((3, 2)), metric=np.ones(3))
    names = [c.name for c in html.curves([s], ["x"], several=False, momentum=True)]
    assert names == ["lr_0", "lr_1", "momentum_0", "momentum_1", "metric"]
    names = [c.name for c in html.curves([s], ["x"], several=True)]
    assert names == ["x[0]", "x[1]", "x metric"]


# ------------------------------------------------------------------ the gallery


GALLERY = """\
defaults: {epochs: 12, formats: [png, html]}
entries:
  cosine-short: {scheduler: cosine, kwargs: {T_max: 4}}
  two:
    compare: [step:step_size=4, exp:gamma=0.8]
"""


@pytest.mark.parametrize("jobs", [1, 2])
def test_gallery_pages_share_one_library_and_cards_link_to_them(tmp_path, jobs):
    from lrplot import gallery

    config = tmp_path / "g.yaml"
    config.write_text(GALLERY, encoding="utf-8")
    out = tmp_path / "out"
    done = gallery.run(config, out, jobs=jobs, formats=None)
    assert done.ok, done.failures
    assert html.LIBRARY_FILE in done.written
    lib = (out / html.LIBRARY_FILE).read_text(encoding="utf-8")
    assert lib == html.library_text() and "Leon Sorokin" in lib
    for name in ("cosine-short", "two"):
        text = (out / f"{name}.html").read_text(encoding="utf-8")
        assert f'<script src="{html.LIBRARY_FILE}"></script>' in text
        assert "uPlot.iife" not in text and len(text) < 30_000  # the library is not inlined
        assert "script-src 'self' 'unsafe-inline'" in text
    index = (out / "index.html").read_text(encoding="utf-8")
    assert '<a href="cosine-short.html"><img src="cosine-short.png"' in index
    assert '<a href="cosine-short.html">' in (out / "README.md").read_text(encoding="utf-8")
    again = gallery.run(config, out, jobs=1, formats=None, check=True)
    assert again.ok and not again.stale and not again.missing


def test_gallery_needs_an_image_format_beside_html(tmp_path):
    from lrplot.errors import UsageError
    from lrplot.gallery import parse_formats

    assert parse_formats("png,html") == ("png", "html")
    with pytest.raises(UsageError, match="no image format"):
        parse_formats("html")
