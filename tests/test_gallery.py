"""Gallery configs: loading that never surprises, isolated failures, reproducible output."""

from __future__ import annotations

import csv
import io
import re
import shlex
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from lrplot import cli, gallery, registry
from lrplot.errors import ConfigError

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

SMALL = """\
defaults:
  epochs: 12
entries:
  cosine-short:
    scheduler: cosine
    kwargs: {T_max: 4}
    description: T_max shorter than the run.
  two:
    compare:
      - step:step_size=4
      - {scheduler: exponential, kwargs: {gamma: 0.8}, label: exp 0.8}
"""

BROKEN = (
    SMALL
    + """\
  bad:
    scheduler: cosine
    kwargs: {T_max: abc}
"""
)


def write(tmp_path: Path, text: str, name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=300, highlight=False, soft_wrap=True), out


def render(config: Path, out: Path, **options) -> tuple[int, str]:
    from lrplot import report

    con, text = console()
    options = {"jobs": 1, "formats": "png,svg", "check": False, "allow_import": False, **options}
    done = gallery.run(config, out, **options)
    con.print(report.gallery_report(done))
    return (0 if done.ok else 1), text.getvalue()


def snapshot(directory: Path) -> dict[str, bytes]:
    if not directory.exists():
        return {}
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


# ------------------------------------------------------------------ broken configs

E = "entries:\n  a:\n"
OK = "{scheduler: cosine, kwargs: {T_max: 10}}"

# (id, yaml text, "file" (ConfigError) or "entry" (skipped entry), location, must contain)
CASES = [
    (
        "unknown top-level key",
        f"defaults: {{}}\nentrys:\n  a: {OK}\n",
        "file",
        "2:1",
        ["unknown key 'entrys' at the top level", "did you mean entries?"],
    ),
    (
        "unknown entry key",
        E + "    scheduler: cosine\n    kwargs: {T_max: 10}\n    colour: red\n",
        "entry",
        "5:5",
        ["entry 'a'", "unknown key 'colour'"],
    ),
    (
        "unknown defaults key",
        f"defaults: {{epoch: 3}}\nentries:\n  a: {OK}\n",
        "file",
        "1:12",
        ["unknown key 'epoch' in defaults", "did you mean epochs?"],
    ),
    ("name with ..", f"entries:\n  ../x: {OK}\n", "entry", "2:3", ["entry '../x'", "entry names"]),
    ("name with /", f"entries:\n  a/b: {OK}\n", "entry", "2:3", ["entry 'a/b'", "letters, digits"]),
    (
        "name starting with .",
        f"entries:\n  .hidden: {OK}\n",
        "entry",
        "2:3",
        ["may not start with '.'"],
    ),
    (
        "duplicate names ignoring case",
        f"entries:\n  Cos: {OK}\n  cos: {OK}\n",
        "entry",
        "3:3",
        ["entry 'cos'", "differ ignoring case", "'Cos'"],
    ),
    ("reserved name", f"entries:\n  README: {OK}\n", "entry", "2:3", ["reserved"]),
    (
        "duplicate YAML key",
        E + "    scheduler: cosine\n    scheduler: step\n",
        "file",
        "4:5",
        ["duplicate key 'scheduler' (first at line 3, column 5)"],
    ),
    (
        "anchor",
        f"defaults: &d {{epochs: 10}}\nentries:\n  a: {OK}\n",
        "file",
        "1:11",
        ["anchors (&d) are not allowed"],
    ),
    ("alias", f"entries:\n  a: {OK}\n  b: *x\n", "file", "3:6", ["aliases (*x) are not allowed"]),
    (
        "merge key",
        "entries:\n  a:\n    <<: {scheduler: cosine}\n",
        "file",
        "3:5",
        ["merge keys (<<) are not allowed"],
    ),
    (
        "python tag",
        "entries:\n  a: !!python/object:os.system {}\n",
        "file",
        "2:6",
        ["tag '!!python/object:os.system' is not allowed"],
    ),
    ("local tag", "entries:\n  a: !thing 3\n", "file", "2:6", ["tag '!thing' is not allowed"]),
    (
        "YAML 1.1 directive",
        "%YAML 1.1\n---\nentries: {}\n",
        "file",
        "2:1",
        ["'%YAML 1.1' is not supported"],
    ),
    ("two documents", "entries: {}\n---\nentries: {}\n", "file", "2:1", ["one YAML document"]),
    ("not a mapping", "- a\n- b\n", "file", "1:1", ["must be a mapping", "got a list"]),
    ("empty file", "", "file", "1:1", ["the config is empty"]),
    ("empty entries", "entries: {}\n", "file", "1:1", ["entries: is empty"]),
    ("entries as a list", "entries:\n  - a: 1\n", "file", "2:3", ["not a list"]),
    ("key that is not text", f"entries:\n  1: {OK}\n", "file", "2:3", ["key 1 is not text"]),
    ("list as a key", "entries:\n  ? [a]\n  : 1\n", "file", "2:5", ["must be plain text"]),
    (
        "YAML syntax error",
        "entries: [a, b\n",
        "file",
        "2:1",
        ["YAML syntax error", "flow sequence (from 1:10)"],
    ),
    ("entry not a mapping", E + "    42\n", "entry", "2:3", ["an entry is a mapping", "int 42"]),
    (
        "scheduler and compare",
        E + "    scheduler: cosine\n    compare: [step:step_size=3]\n",
        "entry",
        "4:5",
        ["either compare: or scheduler:, not both"],
    ),
    (
        "neither scheduler nor compare",
        E + "    kwargs: {T_max: 3}\n",
        "entry",
        "2:3",
        ["needs scheduler:"],
    ),
    (
        "unknown scheduler",
        E + "    scheduler: cosin\n    kwargs: {T_max: 10}\n",
        "entry",
        "3:16",
        ["scheduler: unknown scheduler 'cosin'", "did you mean cosine?"],
    ),
    (
        "unknown kwarg",
        E + "    scheduler: cosine\n    kwargs: {T_maxx: 10}\n",
        "entry",
        "4:14",
        ["kwargs: cosine has no kwarg 'T_maxx'", "did you mean T_max?"],
    ),
    (
        "kwarg below its minimum",
        E + "    scheduler: cosine\n    kwargs: {T_max: 0}\n",
        "entry",
        "4:21",
        ["kwargs.T_max: must be at least 1, got 0"],
    ),
    (
        "one value per param group",
        E + "    scheduler: onecycle\n    kwargs: {max_lr: [0.1, 0.2]}\n",
        "entry",
        "4:22",
        ["kwargs.max_lr: has 2 values for 1 param group"],
    ),
    (
        "wrong kwarg type",
        E + "    scheduler: cosine\n    kwargs: {T_max: abc}\n",
        "entry",
        "4:21",
        ["kwargs.T_max: expects an integer, got 'abc'"],
    ),
    (
        "bool for a float kwarg",
        E + "    scheduler: exp\n    kwargs: {gamma: true}\n",
        "entry",
        "4:21",
        ["kwargs.gamma: expects a number, got True"],
    ),
    (
        "missing required kwarg",
        E + "    scheduler: cosine\n",
        "entry",
        "3:16",
        ["scheduler: cosine needs T_max", "add kwargs: {T_max: ...}"],
    ),
    (
        "run option inside kwargs",
        E + "    scheduler: cosine\n    kwargs: {T_max: 10, epochs: 5}\n",
        "entry",
        "4:25",
        ["'epochs' is a run option"],
    ),
    (
        "nested scheduler kwarg",
        E + "    scheduler: sequential\n    kwargs:\n      milestones: [5]\n"
        "      schedulers:\n        - linear:total_iters=5\n"
        "        - {scheduler: cosine, kwargs: {T_max: x}}\n",
        "entry",
        "8:47",
        ["kwargs.schedulers[1].kwargs.T_max: expects an integer"],
    ),
    (
        "plug-in without --allow-import",
        E + "    scheduler: nowhere_xyz.mod:Thing\n",
        "entry",
        "3:16",
        ["plug-in scheduler", "--allow-import"],
    ),
    (
        "plug-in nested in a SPEC",
        E + '    compare:\n      - "sequential:schedulers=['
        "'linear:total_iters=2','nowhere_xyz.mod:Thing'],milestones=[2]\"\n",
        "entry",
        "4:9",
        ["compare[0]: 'nowhere_xyz.mod:Thing' is a plug-in scheduler", "--allow-import"],
    ),
    (
        "bad sweep key",
        E + "    scheduler: cosine\n    kwargs: {eta_min: 0}\n    sweep: {T_maxx: [1, 2]}\n",
        "entry",
        "5:13",
        ["sweep: cosine has no kwarg 'T_maxx'", "did you mean T_max?"],
    ),
    (
        "three sweep keys",
        E + "    scheduler: cosine\n    sweep: {T_max: [1], eta_min: [0], epochs: [3]}\n",
        "entry",
        "4:12",
        ["sweep: --sweep is given 3 times; at most 2"],
    ),
    (
        "too many sweep values",
        E + "    scheduler: cosine\n    sweep: {T_max: [" + "1, " * 12 + "13]}\n",
        "entry",
        "4:20",
        ["sweep.T_max: list should have at most 12 items"],
    ),
    (
        "bad swept lr",
        E + "    scheduler: cosine\n    kwargs: {T_max: 5}\n    sweep: {lr: [0.1, -1]}\n",
        "entry",
        "5:17",
        ["sweep.lr: --lr must be positive"],
    ),
    (
        "bad sweep value",
        E + "    scheduler: cosine\n    sweep: {T_max: [10, ten]}\n",
        "entry",
        "4:25",
        ["sweep.T_max[1]: expects an integer, got 'ten'"],
    ),
    (
        "lr: no is text",
        E + "    scheduler: cosine\n    kwargs: {T_max: 10}\n    lr: no\n",
        "entry",
        "5:9",
        ["lr: expected a positive number", "got 'no'"],
    ),
    (
        "epochs: 0",
        E + "    scheduler: cosine\n    kwargs: {T_max: 10}\n    epochs: 0\n",
        "entry",
        "5:13",
        ["epochs: input should be greater than or equal to 1"],
    ),
    (
        "epochs as text",
        E + "    scheduler: cosine\n    kwargs: {T_max: 10}\n    epochs: '5'\n",
        "entry",
        "5:13",
        ["epochs: input should be a valid integer, got '5'"],
    ),
    (
        "metric for a cosine",
        E + "    scheduler: cosine\n    kwargs: {T_max: 10}\n    metric: 1,2\n",
        "entry",
        "5:5",
        ["only plateau (ReduceLROnPlateau) uses a metric"],
    ),
    (
        "bad metric",
        E + "    scheduler: plateau\n    metric: 'max(0.3, epoch'\n",
        "entry",
        "4:13",
        ["metric:", "max(0.3, epoch"],
    ),
    (
        "bad compare SPEC",
        E + "    compare: [cosin:T_max=3, 'step:step_size=3']\n",
        "entry",
        "3:15",
        ["compare[0]: unknown scheduler 'cosin'"],
    ),
    (
        "bad image format",
        f"defaults: {{formats: [png, gif]}}\nentries:\n  a: {OK}\n",
        "file",
        "1:12",
        ["defaults.formats: unknown image format 'gif'"],
    ),
    (
        "too many steps",
        E + "    scheduler: cosine\n    kwargs: {T_max: 10}\n"
        "    epochs: 100000\n    steps_per_epoch: 1000\n",
        "entry",
        "2:3",
        ["at most 10,000,000"],
    ),
]


@pytest.mark.parametrize(
    ("text", "kind", "where", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_broken_config_is_reported_with_its_location(tmp_path, text, kind, where, needles):
    path = write(tmp_path, text)
    if kind == "file":
        with pytest.raises(ConfigError) as info:
            gallery.load(path)
        message = str(info.value)
    else:
        loaded = gallery.load(path)
        assert len(loaded.problems) == 1, loaded.problems
        message = loaded.problems[0]
    assert f"{path}:{where}: " in message, message
    for needle in needles:
        assert needle in message, message


def test_file_over_the_size_cap_is_refused(tmp_path):
    path = write(tmp_path, "# padding\n" * (gallery.MAX_BYTES // 10 + 1) + "entries: {}\n")
    with pytest.raises(ConfigError, match=r"larger than 1,000,000 bytes"):
        gallery.load(path)


def test_plug_in_is_not_imported_without_allow_import(tmp_path, monkeypatch):
    (tmp_path / "gallery_plugin_mod.py").write_text(
        "raise RuntimeError('imported!')\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(
        tmp_path,
        E + "    scheduler: gallery_plugin_mod:Thing\n"
        "  b:\n    scheduler: chained\n"
        "    kwargs: {schedulers: [\"chained:schedulers=['gallery_plugin_mod:X']\"]}\n",
    )
    problems = gallery.load(path).problems
    assert len(problems) == 2 and all("--allow-import" in p for p in problems)
    problems = gallery.load(path, allow_import=True).problems
    assert "cannot import 'gallery_plugin_mod'" in problems[0] and "imported!" in problems[0]
    label = write(tmp_path, E + "    compare: [\"cosine:T_max=5,label='a.b:C'\"]\n", "label.yaml")
    assert gallery.load(label).problems == []  # text that only looks like a plug-in


def test_plug_in_loads_with_allow_import(tmp_path, monkeypatch):
    (tmp_path / "gallery_plugin_ok.py").write_text(
        "from torch.optim.lr_scheduler import LambdaLR\n\n"
        "def halving(optimizer, every: int = 2):\n"
        "    return LambdaLR(optimizer, lambda e: 0.5 ** (e // every))\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(
        tmp_path,
        E + "    scheduler: gallery_plugin_ok:halving\n    kwargs: {every: 3}\n    epochs: 6\n",
    )
    loaded = gallery.load(path, allow_import=True)
    assert loaded.problems == []
    gallery.render_entry(loaded.entries[0], tmp_path / "out")
    assert (tmp_path / "out" / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_yaml_12_numbers_and_words(tmp_path):
    path = write(
        tmp_path,
        E + "    scheduler: cosine\n    kwargs: {T_max: 10, eta_min: 1e-5}\n"
        "    lr: 1e-3\n    title: no\n",
    )
    entry = gallery.load(path).entries[0]
    assert entry.specs[0].lr == (0.001,)
    assert isinstance(entry.specs[0].kwargs["eta_min"], float)
    assert entry.specs[0].kwargs["eta_min"] == 1e-5
    assert entry.display.title == "no"  # YAML 1.2: 'no' is text, not false


def test_every_problem_is_reported_and_good_entries_survive(tmp_path):
    text = (
        "entries:\n"
        f"  good: {OK}\n"
        "  bad1: {scheduler: cosine, kwargs: {T_max: x}}\n"
        "  bad2: {scheduler: step}\n"
    )
    loaded = gallery.load(write(tmp_path, text))
    assert [e.name for e in loaded.entries] == ["good"]
    assert len(loaded.problems) == 2 and loaded.total == 3


# ------------------------------------------------------------------ the three kinds of entry


def test_entries_build_specs_commands_and_sweeps(tmp_path):
    text = """\
defaults: {epochs: 20}
entries:
  one:
    scheduler: sgdr
    kwargs: {T_0: 5, T_mult: 2}
    log: true
  cmp:
    compare:
      - cosine:T_max=20
      - {scheduler: multistep, kwargs: {milestones: [5, 10]}, label: two drops}
    layout: grid
  grid:
    scheduler: cosine
    sweep: {T_max: [5, 10], eta_min: [0.0, 0.01]}
"""
    one, cmp, grid = gallery.load(write(tmp_path, text)).entries
    assert one.command == "lrplot cosine-restarts --T_0 5 --T_mult 2 --epochs 20 --log"
    assert one.spec_text == "cosine-restarts:T_0=5,T_mult=2,epochs=20"
    assert [s.label for s in cmp.specs] == ["cosine:T_max=20", "two drops"]
    assert cmp.command == (
        "lrplot compare cosine:T_max=20 "
        "'multistep:milestones=[5,10],label=\"two drops\"' --epochs 20 "
        "--layout grid"
    )
    assert [[s.kwargs for s in row] for row in grid.grid] == [
        [{"T_max": 5, "eta_min": 0.0}, {"T_max": 5, "eta_min": 0.01}],
        [{"T_max": 10, "eta_min": 0.0}, {"T_max": 10, "eta_min": 0.01}],
    ]
    assert grid.request([]).row_labels == ["T_max=5", "T_max=10"]
    assert grid.request([]).col_labels == ["eta_min=0.0", "eta_min=0.01"]
    assert grid.command == ("lrplot cosine --epochs 20 --sweep T_max=5,10 --sweep eta_min=0.0,0.01")


def test_commands_reproduce_the_specs(tmp_path):
    """The command line shown for each entry parses back to the same schedule."""
    from lrplot.spec import parse_spec

    loaded = gallery.load(CONFIGS / "gallery.yaml")
    for entry in loaded.entries:
        if entry.kind == "compare":
            continue
        for spec in entry.specs:
            again = parse_spec(gallery.build._spec_text(spec))
            assert again.resolved().to_command() == spec.resolved().to_command(), entry.name


@pytest.mark.parametrize("name", ["compare.yaml", "gallery.yaml"])
def test_compare_and_sweep_commands_draw_the_same_curves(tmp_path, name):
    """``lrplot compare ...`` / ``lrplot ... --sweep`` as README.md shows them: same curves."""
    from lrplot.engine import simulate

    for entry in gallery.load(CONFIGS / name).entries:
        if entry.kind == "schedule":
            continue
        out = tmp_path / f"{entry.name}.csv"
        argv = [*shlex.split(entry.command)[1:], "-o", str(out)]
        result = CliRunner().invoke(cli.app, argv)
        assert result.exit_code == 0, (entry.command, result.output)
        header, *rows = list(csv.reader(out.open(encoding="utf-8")))
        expected = [(s.label, simulate(s).lr[:, 0].tolist()) for s in entry.specs]
        got = [
            (h, [float(r[i]) for r in rows if r[i]])
            for i, h in enumerate(header)
            if h not in ("step", "epoch")
        ]
        assert got == expected, entry.name


# ------------------------------------------------------------------ rendering


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, Path]:
    """Render SMALL once (in-process) and return (config, out_dir)."""
    base = tmp_path_factory.mktemp("rendered")
    config = write(base, SMALL)
    code, _ = render(config, base / "out")
    assert code == 0
    return config, base / "out"


def copy_of(rendered, tmp_path) -> tuple[Path, Path]:
    config, out = rendered
    shutil.copytree(out, tmp_path / "out")
    return config, tmp_path / "out"


def test_render_writes_images_index_and_contact_sheet(rendered):
    _, out = rendered
    names = set(snapshot(out))
    assert names == {
        "cosine-short.png",
        "cosine-short.svg",
        "two.png",
        "two.svg",
        "README.md",
        "index.html",
        "contact-sheet.png",
        ".lrplot-gallery.json",  # the manifest: the files lrplot wrote in DIR
    }
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert '<img src="cosine-short.png"' in readme
    assert "```console\nlrplot cosine --T_max 4 --epochs 12 --annotate\n```" in readme
    assert "- ⚠ T_max=4 but the run is 12 epochs" in readme  # the entry's diagnostics
    assert "lrplot compare step:step_size=4" in readme
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.startswith("<!DOCTYPE html>") and "<style>" in index
    assert 'src="two.png"' in index and "http" not in index
    for text in (readme, index):
        assert str(out) not in text and str(Path.home()) not in text
        assert not re.search(r"\b(19|20)\d\d-\d\d-\d\d\b|\d\d:\d\d:\d\d", text)  # no dates


def test_one_broken_entry_renders_the_rest_and_exits_1(tmp_path):
    config = write(tmp_path, BROKEN)
    code, output = render(config, tmp_path / "out", formats="png")
    assert code == 1
    assert f"{config}:14:21: entry 'bad': kwargs.T_max: expects an integer" in output
    assert "rendered 2 of 3 entries; 1 failed" in output
    assert {"cosine-short.png", "two.png", "contact-sheet.png", "README.md"} <= set(
        snapshot(tmp_path / "out")
    )
    assert not (tmp_path / "out" / "bad.png").exists()


def test_a_failing_simulation_is_isolated(tmp_path):
    text = (
        SMALL + "  logzero:\n    scheduler: linear\n    kwargs: {end_factor: 0.0, "
        "total_iters: 4}\n    log: true\n"
    )
    config = write(tmp_path, text)
    code, output = render(config, tmp_path / "out", formats="png")
    assert code == 1
    assert f"{config}:12:3: entry 'logzero': --log needs every lr > 0" in output
    assert "rendered 2 of 3 entries; 1 failed" in output


def test_rerender_is_byte_identical_across_jobs(tmp_path, rendered):
    config, first = rendered
    code, _ = render(config, tmp_path / "b", jobs=2)
    assert code == 0
    assert snapshot(tmp_path / "b") == snapshot(first)


def test_check_passes_when_up_to_date_and_writes_nothing(rendered, tmp_path):
    config, out = copy_of(rendered, tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    code, output = render(config, out, check=True)
    assert code == 0, output
    assert "is up to date" in output
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_check_with_a_failed_entry_never_says_up_to_date(rendered, tmp_path):
    config, out = copy_of(rendered, tmp_path)
    broken = tmp_path / "broken.yaml"
    broken.write_text(config.read_text() + "  bad: {scheduler: step}\n")
    code, output = render(broken, out, check=True)
    assert code == 1, output
    assert "is up to date" not in output and "entry 'bad'" in output
    assert "stale:" in output  # README.md and index.html now carry the failed card
    (tmp_path / "all.yaml").write_text("entries:\n  bad: {scheduler: step}\n")
    code, output = render(tmp_path / "all.yaml", tmp_path / "nowhere", check=True)
    assert code == 1 and "up to date" not in output and "match" not in output, output


def test_check_names_a_stale_file(rendered, tmp_path):
    config, out = copy_of(rendered, tmp_path)
    with open(out / "two.png", "ab") as f:
        f.write(b"\0")
    before = snapshot(out)
    code, output = render(config, out, check=True)
    assert code == 1
    assert f"stale:   {out / 'two.png'}" in output
    assert "regenerate with: lrplot gallery" in output and "--out" in output
    assert snapshot(out) == before  # nothing written, the stale file kept


def test_check_names_a_missing_file_and_creates_nothing(rendered, tmp_path):
    config, out = copy_of(rendered, tmp_path)
    (out / "cosine-short.svg").unlink()
    before = snapshot(out)
    code, output = render(config, out, check=True)
    assert code == 1
    assert f"missing: {out / 'cosine-short.svg'}" in output
    assert snapshot(out) == before
    code, _ = render(config, tmp_path / "nowhere", check=True)
    assert code == 1 and not (tmp_path / "nowhere").exists()


def test_foreign_files_are_left_alone(rendered, tmp_path):
    config, out = copy_of(rendered, tmp_path)
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    (out / "old-entry.png").write_bytes(b"not lrplot's")
    code, output = render(config, out)
    assert code == 0
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (out / "old-entry.png").read_bytes() == b"not lrplot's"
    assert "old-entry.png" in output and "left alone" in output
    assert "wrote 0 files" in output  # everything was already up to date


def test_format_option_and_config_formats(tmp_path):
    config = write(
        tmp_path, "defaults: {formats: svg, epochs: 5}\nentries:\n  c: {scheduler: constant}\n"
    )
    code, _ = render(config, tmp_path / "a", formats="png,svg")  # the default: config wins
    assert code == 0
    assert {"c.svg", "contact-sheet.png"} <= set(snapshot(tmp_path / "a"))
    assert not (tmp_path / "a" / "c.png").exists()
    readme = (tmp_path / "a" / "README.md").read_text(encoding="utf-8")
    assert '<img src="c.svg"' in readme
    code, _ = render(config, tmp_path / "b", formats="pdf")  # an explicit choice wins
    assert code == 0 and (tmp_path / "b" / "c.pdf").read_bytes()[:4] == b"%PDF"
    with pytest.raises(Exception, match="unknown image format 'gif'"):
        render(config, tmp_path / "c", formats="gif")


def test_cli_end_to_end_with_two_jobs(tmp_path):
    config = write(tmp_path, SMALL)
    out = tmp_path / "site"
    result = CliRunner().invoke(
        cli.app, ["gallery", str(config), "--out", str(out), "--jobs", "2", "--format", "png"]
    )
    assert result.exit_code == 0, result.output
    assert "rendered 2 of 2 entries" in result.output
    assert {"cosine-short.png", "two.png", "contact-sheet.png", "README.md", "index.html"} == set(
        snapshot(out)
    ) - {".lrplot-gallery.json"}
    result = CliRunner().invoke(
        cli.app,
        ["gallery", str(config), "--out", str(out), "--check", "--format", "png", "--jobs", "1"],
    )
    assert result.exit_code == 0, result.output


def test_cli_reports_a_file_level_error_with_exit_2(tmp_path):
    config = write(tmp_path, "entries: [a\n")
    result = CliRunner().invoke(cli.app, ["gallery", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "YAML syntax error" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ the shipped configs


@pytest.mark.parametrize("name", ["gallery.yaml", "recipes.yaml", "compare.yaml"])
def test_shipped_configs_load_without_problems(name):
    loaded = gallery.load(CONFIGS / name)
    assert loaded.problems == []
    assert len(loaded.entries) == loaded.total >= 3


def test_gallery_config_covers_every_scheduler():
    loaded = gallery.load(CONFIGS / "gallery.yaml")
    used = set()
    for entry in loaded.entries:
        for spec in entry.specs:
            used.add(spec.info.name)
            used.update(s.info.name for s in spec.kwargs.get("schedulers", []))
    assert used >= {info.name for info in registry.SCHEDULERS}
    assert {e.kind for e in loaded.entries} == {"schedule", "compare", "sweep"}


def test_recipes_cite_their_sources():
    text = (CONFIGS / "recipes.yaml").read_text(encoding="utf-8")
    for author in (
        "He et al. 2016",
        "Goyal et al. 2017",
        "Loshchilov & Hutter 2017",
        "Devlin et al. 2019",
        "Smith & Topin 2019",
        "Hu et al. 2024",
    ):
        assert author in text


def test_shipped_entries_render(tmp_path):
    """Render a couple of shipped entries (the whole gallery is rendered by CI)."""
    entries = {e.name: e for e in gallery.load(CONFIGS / "gallery.yaml").entries}
    notes = gallery.render_entry(entries["cosine-tmax-20-of-150"], tmp_path)
    assert any("T_max=20" in message for _, message, _ in notes)
    assert gallery.render_entry(entries["sgdr-grid"], tmp_path) == []
    assert (tmp_path / "sgdr-grid.png").stat().st_size > 10_000


# ------------------------------------------------------------------ issue 10: the gallery


def test_index_page_fits_a_phone_and_links_every_card(rendered):
    """Issue 10.16: no break-all, a table of contents, every card links its own anchor."""
    _, out = rendered
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "break-all" not in index and "minmax(min(100%,420px),1fr)" in index
    nav = re.search(r"<nav[^>]*>(.*?)</nav>", index).group(1)
    assert re.findall(r'href="#([^"]+)"', nav) == ["cosine-short", "two"]
    for name in ("cosine-short", "two"):
        assert f'<div class="card" id="{name}">' in index
        assert f'<h2><a href="#{name}">{name}</a></h2>' in index
    # wraps between words and after , = : only, never at the dashes of --epochs
    assert '<span class="w">step:</span><wbr><span class="w">step_size=</span>' in index
    assert '<span class="w">--epochs</span>' in index


def test_readme_is_sections_not_a_squeezed_table(rendered):
    """Issue 10.19: one section per entry; the command in a code block at full width."""
    _, out = rendered
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "| image | entry |" not in readme
    assert "Contents: [cosine-short](#cosine-short) · [two](#two)" in readme
    assert "## cosine-short\n" in readme and "## two\n" in readme
    assert readme.rstrip().splitlines()[-1].startswith("Images drawn with matplotlib ")


def test_check_reports_left_over_images(rendered, tmp_path):
    """Issue 10.18: an image no entry produces any more makes --check fail, by name."""
    config, out = copy_of(rendered, tmp_path)
    (out / "renamed-entry.png").write_bytes(b"from an entry since renamed")
    code, output = render(config, out, check=True)
    assert code == 1
    assert f"left over: {out / 'renamed-entry.png'} (no entry makes it)" in output
    assert "1 left over" in output


def test_check_names_both_drawing_library_versions(rendered, tmp_path):
    """Issue 10.18: images that differ across matplotlib versions say which versions."""
    from lrplot.render import versions

    config, out = copy_of(rendered, tmp_path)
    readme = out / "README.md"
    now = versions()
    old = readme.read_text(encoding="utf-8").replace(
        f"matplotlib {now['matplotlib']} and FreeType {now['freetype']}",
        "matplotlib 3.0.0 and FreeType 2.0.0",
    )
    readme.write_text(old, encoding="utf-8")
    with open(out / "two.png", "ab") as f:
        f.write(b"\0")
    code, output = render(config, out, check=True)
    assert code == 1
    assert "drawn with matplotlib 3.0.0 and FreeType 2.0.0" in output
    assert f"this run uses matplotlib {now['matplotlib']} and FreeType {now['freetype']}" in output


def test_matplotlib_is_pinned_for_development():
    """Issue 10.18: CI draws with the matplotlib the gallery was rendered with."""
    from importlib.metadata import version

    pins = (CONFIGS.parent / "constraints.txt").read_text(encoding="utf-8")
    assert f"matplotlib=={version('matplotlib')}" in pins.split()


@pytest.mark.parametrize(
    ("text", "where", "needles"),
    [
        (
            "entries:\n  a:\n    scheduler: cosine\n\tkwargs: {T_max: 5}\n",
            "4:1",
            ["spaces, not tabs"],
        ),
        (
            "entries:\n  a:\n    scheduler: cosine\n     kwargs: {T_max: 5}\n",
            "4:12",
            ["check the indentation of line 4"],
        ),
        (
            "entries:\n  a:\n    epochs: 10\n    schedular: cosine\n",
            "4:5",
            ["unknown key 'schedular'", "did you mean scheduler?"],
        ),
        (
            E + "    scheduler: cosine\n    kwargs: {T_max: 5}\n    epochs: 1\n    epochs: 2\n",
            "6:5",
            ["duplicate key 'epochs' (first at line 5, column 5)"],
        ),
        (E + "    scheduler: step\n", "3:16", ["add kwargs: {step_size: ...}"]),
        (E + "    scheduler: cosine\n    kwargs: {T_max: 5}\n    log: maybe\n", "5:10", ["yes/no"]),
    ],
)
def test_yaml_errors_speak_yaml(tmp_path, text, where, needles):
    """Issue 10.20: hints in YAML's terms, at the line and column they are about."""
    path = write(tmp_path, text)
    try:
        problems = gallery.load(path).problems
    except ConfigError as exc:
        problems = [str(exc)]
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:{where}:"), problems
    for needle in needles:
        assert needle in problems[0], problems


def test_yaml_11_booleans_mean_the_same_everywhere(tmp_path):
    """Issue 10.20: yes/no, on/off are true/false for kwargs and drawing keys alike."""
    text = (
        "defaults: {log: off}\nentries:\n  a:\n    scheduler: cyclic\n"
        "    kwargs: {base_lr: 0.01, max_lr: 0.1, cycle_momentum: no}\n    momentum: yes\n"
    )
    (entry,) = gallery.load(write(tmp_path, text)).entries
    assert entry.specs[0].kwargs["cycle_momentum"] is False
    assert entry.display.momentum is True and entry.display.log is False
    doc = gallery.__doc__ or ""
    assert "yes/no" in doc and "on/off" in doc


def test_sweep_spec_is_copyable_and_prefixes_are_not_repeated(tmp_path):
    """Issue 10.21: the sweep's SPEC and --sweep flags parse back; no "T_max=25: T_max=25"."""
    from lrplot import pipeline
    from lrplot.spec import parse_spec

    text = "entries:\n  s:\n    scheduler: cosine\n    sweep: {T_max: [25, 100]}\n    epochs: 100\n"
    (entry,) = gallery.load(write(tmp_path, text)).entries
    specs = [parse_spec(line) for line in entry.spec_text.splitlines()]  # one per curve
    assert [(s.kwargs, s.epochs) for s in specs] == [({"T_max": 25}, 100), ({"T_max": 100}, 100)]
    found = pipeline.run(entry.request([]), write=False).diagnostics
    assert found and all(not d.message.startswith("T_max=25: T_max=25") for d in found)
    assert found[0].message.startswith("T_max=25 but the run is 100 epochs")


@pytest.mark.parametrize("name", ["plateau-metric", "cosine-tmax-sweep", "three-decays", "sgdr"])
def test_a_cards_command_redraws_its_image_byte_for_byte(tmp_path, monkeypatch, name):
    """Issue 10.21: the title orders kwargs as the command line does."""
    monkeypatch.chdir(tmp_path)
    (entry,) = [e for e in gallery.load(CONFIGS / "gallery.yaml").entries if e.name == name]
    diagnostics = gallery.render_entry(entry, tmp_path, ["png"])
    command = gallery.site._command(entry, gallery.site.EntryResult(name, diagnostics))
    result = CliRunner().invoke(cli.app, [*shlex.split(command)[1:], "-o", "cli.png"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli.png").read_bytes() == (tmp_path / f"{name}.png").read_bytes()


def test_class_path_and_dotted_torch_paths_are_schedulers(tmp_path):
    """LightningCLI's class_path/init_args and torch's dotted paths, as configs write them."""
    text = """\
entries:
  by-class-path:
    class_path: torch.optim.lr_scheduler.CosineAnnealingLR
    init_args: {T_max: 20}
    epochs: 20
  dotted:
    scheduler: torch.optim.lr_scheduler.StepLR
    kwargs: {step_size: 5}
    epochs: 20
  nested:
    scheduler: sequential
    kwargs:
      schedulers:
        - {class_path: torch.optim.lr_scheduler.LinearLR, init_args: {start_factor: 0.1}}
        - {scheduler: torch.optim.lr_scheduler.ExponentialLR, kwargs: {gamma: 0.9}}
      milestones: [5]
    epochs: 20
  both:
    class_path: torch.optim.lr_scheduler.StepLR
    scheduler: step
"""
    loaded = gallery.load_text(text, "c.yaml")
    commands = {e.name: e.command for e in loaded.entries}
    assert commands["by-class-path"] == "lrplot cosine --T_max 20 --epochs 20"
    assert commands["dotted"] == "lrplot step --step_size 5 --epochs 20"
    assert [s.scheduler for s in loaded.entries[2].specs[0].subs] == ["linear", "exponential"]
    assert loaded.problems == [
        "c.yaml:20:5: entry 'both': an entry has either class_path: (with init_args:) or "
        "scheduler:, not both"
    ]


def test_a_config_entry_draws_a_training_config(tmp_path):
    """config: names a training config beside the gallery file; run options override it."""
    (tmp_path / "pl.yaml").write_text((CONFIGS / "frameworks" / "lightning_cli.yaml").read_text())
    config = tmp_path / "g.yaml"
    config.write_text(
        "entries:\n"
        "  lightning:\n"
        "    config: pl.yaml\n"
        "    dataset_size: 50000\n"
        "  bad:\n"
        "    config: pl.yaml\n"
        "    step_per: iter\n"
    )
    loaded = gallery.load(config)
    entry = loaded.entries[0]
    assert entry.command == f"lrplot from {tmp_path}/pl.yaml --dataset-size 50000"
    assert entry.specs[0].steps_per_epoch == 196
    assert len(loaded.problems) == 1 and "--dataset-size" in loaded.problems[0]
    out = tmp_path / "out"
    done = gallery.run(config, out, jobs=1, formats="png", check=False, allow_import=False)
    assert (out / "lightning.png").exists() and not done.ok  # the bad entry fails alone
