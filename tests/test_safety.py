"""Safe under attack and faults: consent to import, files lrplot may touch, signals, limits.

The canary tests plant modules that record being imported (a file named after the
module appears in a marker directory) and reach them through every route a scheduler
name can take in a YAML gallery.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrplot import cli, gallery, plugins
from lrplot.gallery.build import Entry
from lrplot.spec import ScheduleSpec

runner = CliRunner()

# ------------------------------------------------------------------ consent: canaries

CANARY = """\
from pathlib import Path

Path({marker!r}, __name__).write_text("imported")

from torch.optim.lr_scheduler import LambdaLR


def Halve(optimizer, every: int = 2):
    \"\"\"Halve the lr every ``every`` scheduler steps.\"\"\"
    return LambdaLR(optimizer, lambda e: 0.5 ** (e // every))
"""

#: route -> (YAML entry body with {m} for the module, imported when consent is given).
#: Entry bodies are indented under ``entries:`` by the test.
ROUTES: dict[str, tuple[str, bool]] = {
    "entry": ("scheduler: {m}:Halve\nkwargs: {{every: 3}}\nepochs: 6", True),
    "entry-quoted": ("scheduler: '{m}:Halve'\nepochs: 4", True),
    "sweep-first": (
        "scheduler: chained\nsweep: {{schedulers: ['{m}:Halve', 'exp:gamma=0.9']}}\nepochs: 4",
        True,
    ),
    "sweep-later": (
        "scheduler: chained\nsweep: {{schedulers: ['exp:gamma=0.9', '{m}:Halve:every=2']}}\n"
        "epochs: 4",
        True,
    ),
    "sweep-later-list": (
        "scheduler: chained\n"
        "sweep: {{schedulers: [['exp:gamma=0.9'], ['exp:gamma=0.8', '{m}:Halve']]}}\nepochs: 4",
        True,
    ),
    "sweep-later-mapping": (
        "scheduler: chained\n"
        "sweep: {{schedulers: [['exp:gamma=0.9'], [{{scheduler: '{m}:Halve'}}]]}}\nepochs: 4",
        False,  # a mapping is not a sweep value lrplot understands: refused, never imported
    ),
    "sweep-the-scheduler": (
        "scheduler: cosine\nsweep: {{scheduler: [cosine, '{m}:Halve']}}",
        False,
    ),
    "compare-spec": ("compare: ['cosine:T_max=5', '{m}:Halve:every=2']\nepochs: 4", True),
    "compare-spec-spaced": ("compare: ['  {m}:Halve:every = 2 ', ' {m}:Halve ']\nepochs: 4", True),
    "compare-spec-bad-head": ("compare: ['{m}:Halve : every=2']", False),
    "compare-mapping": (
        "compare:\n  - {{scheduler: '{m}:Halve', kwargs: {{every: 2}}, label: h}}\nepochs: 4",
        True,
    ),
    "compare-nested-mapping": (
        "compare:\n  - {{scheduler: chained,\n"
        "     kwargs: {{schedulers: [{{scheduler: '{m}:Halve'}}]}}}}\nepochs: 4",
        True,
    ),
    "nested-spec": (
        "scheduler: sequential\n"
        "kwargs: {{schedulers: ['linear:total_iters=2', '{m}:Halve'], milestones: [2]}}\n"
        "epochs: 4",
        True,
    ),
    "nested-mapping": (
        "scheduler: chained\n"
        "kwargs: {{schedulers: [{{scheduler: '{m}:Halve', kwargs: {{every: 1}}}}]}}\nepochs: 4",
        True,
    ),
    "nested-space-before-quote": (
        "compare: ['sequential:schedulers=[ \"{m}:Halve\" , linear:total_iters=2],milestones=[2]']"
        "\nepochs: 4",
        True,
    ),
    "nested-tabs-newlines": (
        "compare:\n"
        "  - \"sequential:schedulers=[\\t'{m}:Halve',\\n 'exp:gamma=0.9'],milestones=[3]\"\n"
        "epochs: 4",
        True,
    ),
    "nested-twice": (
        "scheduler: chained\nkwargs:\n  schedulers:\n"
        '    - "chained:schedulers=[\'exp:gamma=0.9\', \\"{m}:Halve\\"]"\nepochs: 4',
        True,
    ),
    "nested-in-compare-string-double-quotes": (
        "compare: [\"chained:schedulers=['{m}:Halve']\"]\nepochs: 4",
        True,
    ),
    "label-only": ("compare: [\"cosine:T_max=5,label='{m}:Halve'\"]", False),
    "title-only": ("scheduler: cosine\nkwargs: {{T_max: 5}}\ntitle: '{m}:Halve'", False),
}


@pytest.fixture
def canaries(tmp_path, monkeypatch):
    """Plant a canary module per route: in the current directory, on sys.path, in a package.

    Returns ``(config text, expected imports with consent, marker dir, module names)``.
    """
    tag = uuid.uuid4().hex[:8]
    marker = tmp_path / "markers"
    cwd, site = tmp_path / "work", tmp_path / "site"
    for d in (marker, cwd, site):
        d.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "path", list(sys.path))  # load_target may append the cwd
    monkeypatch.syspath_prepend(str(site))
    lines, expected, names = ["entries:"], set(), []
    for i, (route, (body, imported)) in enumerate(ROUTES.items()):
        for where in ("cwd", "site", "pkg"):
            module = f"canary_{tag}_{i}_{where}"
            if where == "cwd":
                (cwd / f"{module}.py").write_text(CANARY.format(marker=str(marker)))
                name = module
            elif where == "site":
                (site / f"{module}.py").write_text(CANARY.format(marker=str(marker)))
                name = module
            else:  # a package: importing pkg.sub runs pkg/__init__.py first
                pkg = site / module
                pkg.mkdir()
                (pkg / "__init__.py").write_text(CANARY.format(marker=str(marker)))
                (pkg / "sub.py").write_text(CANARY.format(marker=str(marker)))
                name = f"{module}.sub"
            names.append(module)
            entry = f"{route}-{where}"
            lines.append(f"  {entry}:")
            lines += [f"    {line}" for line in body.format(m=name).splitlines()]
            if imported:
                expected.add(module)
                if where == "pkg":
                    expected.add(f"{module}.sub")
    yield "\n".join(lines) + "\n", expected, marker, names
    for key in [k for k in sys.modules if k.startswith(f"canary_{tag}")]:
        del sys.modules[key]
    for key in [k for k in plugins._PLUGINS if k.startswith(f"canary_{tag}")]:
        del plugins._PLUGINS[key]


def imported(marker: Path) -> set[str]:
    return {p.name for p in marker.iterdir()}


def test_no_route_imports_a_canary_without_allow_import(canaries, tmp_path):
    text, expected, marker, _ = canaries
    config = tmp_path / "cfg.yaml"
    config.write_text(text)
    out = tmp_path / "out"
    for extra in ([], ["--check"]):  # workers: see test_a_plugin_name_reaching_a_worker
        result = runner.invoke(
            cli.app, ["gallery", str(config), "--out", str(out), "--format", "png", *extra]
        )
        assert imported(marker) == set(), (extra, result.output)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        lines = result.output.splitlines()
        for route in (r for r, (_, ok) in ROUTES.items() if ok):
            for where in ("cwd", "site", "pkg"):
                entry = f"entry '{route}-{where}'"
                found = [line for line in lines if entry in line]
                assert found and "--allow-import" in found[0], (entry, result.output)
    # with consent, exactly the routes that name a real scheduler import their canary (at
    # load time: entries are built, and their names resolved, before anything renders)
    loaded = gallery.load(config, allow_import=True)
    assert imported(marker) == expected, loaded.problems
    assert {e.name.rpartition("-")[0] for e in loaded.entries} == {
        route for route, (_, ok) in ROUTES.items() if ok
    } | {"label-only", "title-only"}  # these build, and import nothing


def test_defaults_cannot_name_a_scheduler(canaries, tmp_path):
    _, _, marker, names = canaries
    config = tmp_path / "defaults.yaml"
    config.write_text(
        f"defaults: {{scheduler: '{names[0]}:Halve'}}\n"
        "entries:\n  a: {scheduler: cosine, kwargs: {T_max: 3}}\n"
    )
    for consent in ([], ["--allow-import"]):
        result = runner.invoke(
            cli.app, ["gallery", str(config), "--out", str(tmp_path / "o"), *consent]
        )
        assert result.exit_code == 2, result.output
        assert "unknown key 'scheduler' in defaults" in result.output
    assert imported(marker) == set()


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_plugin_name_reaching_a_worker_is_not_imported(canaries, tmp_path, monkeypatch, jobs):
    """Even an entry that skipped the checks of loading is refused where it is rendered."""
    _, _, marker, names = canaries
    module = names[1]  # on sys.path: workers see the same sys.path as the parent
    planted = gallery.Gallery(
        tmp_path / "cfg.yaml",
        [
            Entry(
                "plug",
                "schedule",
                [[ScheduleSpec(f"{module}:Halve", epochs=3)]],
                "c:1:1",
                "lrplot x",
                "x",
            ),
            Entry(
                "plain",
                "schedule",
                [[ScheduleSpec("exp", {"gamma": 0.9}, epochs=3)]],
                "c:2:1",
                "lrplot exp",
                "exp",
            ),
        ],
        [],
        total=2,
    )
    monkeypatch.setattr(gallery, "load", lambda *a, **k: planted)
    done = gallery.run(tmp_path / "cfg.yaml", tmp_path / "out", jobs=jobs, formats="png")
    assert imported(marker) == set()
    assert done.rendered == 1
    assert len(done.failures) == 1 and "--allow-import" in done.failures[0]


#: training configs that name a scheduler lrplot would import: (file name, text with {m}).
CONFIGS = {
    "lightning-nested": (
        "light.yaml",
        "trainer: {{max_epochs: 3}}\n"
        "optimizer: {{class_path: torch.optim.SGD, init_args: {{lr: 0.1}}}}\n"
        "lr_scheduler:\n  class_path: torch.optim.lr_scheduler.ChainedScheduler\n"
        "  init_args: {{schedulers: ['{m}:Halve']}}\n",
    ),
    "lightning-class-path": (
        "light.yaml",
        "trainer: {{max_epochs: 3}}\n"
        "optimizer: {{class_path: torch.optim.SGD, init_args: {{lr: 0.1}}}}\n"
        "lr_scheduler: {{class_path: {m}.Halve}}\n",
    ),
    # mmengine's registry imports `{scope}.registry` for a scoped type: refused before
    # mmengine is needed
    "mmengine-scoped-type": (
        "mm.yaml",
        "param_scheduler: [{{type: {m}.CosineAnnealingLR, T_max: 10}}]\n"
        "train_cfg: {{by_epoch: true, max_epochs: 3}}\n",
    ),
}


@pytest.mark.parametrize("route", ["from", "gallery"])
@pytest.mark.parametrize("case", CONFIGS)
def test_a_training_config_imports_nothing_without_allow_import(canaries, tmp_path, case, route):
    _, _, marker, names = canaries
    name, text = CONFIGS[case]
    module = names[1]  # a module on sys.path
    config = tmp_path / name
    config.write_text(text.format(m=module))
    if route == "from":
        result = invoke("from", config, "--steps-per-epoch", "2", "-o", tmp_path / "x.csv")
    else:
        gallery_config = tmp_path / "g.yaml"
        gallery_config.write_text(f"entries:\n  a: {{config: {config}, steps_per_epoch: 2}}\n")
        result = invoke("gallery", gallery_config, "--out", tmp_path / "g", "--format", "svg")
    assert imported(marker) == set(), result.output
    assert result.exit_code in (1, 2) and "--allow-import" in result.output, result.output
    assert "Traceback" not in result.output
    if case.startswith("lightning"):  # the same config with consent does import it
        result = invoke("from", config, "--steps-per-epoch", "2", "--allow-import", "-o",
                        tmp_path / "x.csv")  # fmt: skip
        assert imported(marker) == {module}, result.output


# ------------------------------------------------------------------ files lrplot may touch

ONE = "entries:\n  one: {scheduler: cosine, kwargs: {T_max: 4}, epochs: 6}\n"
TWO = ONE + "  two: {scheduler: exp, kwargs: {gamma: 0.8}, epochs: 6}\n"


def tree(directory: Path) -> dict[str, bytes | str]:
    """Every path under ``directory`` (recursively) with its bytes, or its link target."""
    out: dict[str, bytes | str] = {}
    for p in sorted(directory.rglob("*")):
        key = str(p.relative_to(directory))
        if p.is_symlink():
            out[key] = f"-> {p.readlink()}"
        elif p.is_file():
            out[key] = p.read_bytes()
        else:
            out[key] = "dir"
    return out


def gallery_cli(*args: str):
    return runner.invoke(cli.app, ["gallery", *map(str, args), "--format", "png", "--jobs", "1"])


def test_gallery_into_a_project_refuses_to_replace_its_files(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# my project\n")
    (project / "index.html").write_text("<p>mine</p>\n")
    (project / "one.yaml").write_text(ONE)
    before = tree(tmp_path)
    monkeypatch.chdir(project)
    result = gallery_cli("one.yaml", "--out", ".")
    assert result.exit_code == 1, result.output
    assert "holds files that lrplot did not write: README.md, index.html" in result.output
    assert "move them away, or choose another --out" in result.output
    assert tree(tmp_path) == before  # nothing touched, nothing added


def test_a_file_in_the_way_is_refused_even_in_a_gallery_lrplot_wrote(tmp_path):
    config, out = tmp_path / "cfg.yaml", tmp_path / "out"
    config.write_text(ONE)
    assert gallery_cli(config, "--out", out).exit_code == 0
    (out / "two.png").write_bytes(b"my own picture")  # a name the next config will produce
    config.write_text(TWO)
    before = tree(out)
    result = gallery_cli(config, "--out", out)
    assert result.exit_code == 1 and "did not write: two.png" in result.output, result.output
    assert tree(out) == before


@pytest.mark.parametrize("kind", ["symlink", "directory", "fifo", "dangling"])
def test_odd_files_in_the_way_are_refused(tmp_path, kind):
    import os

    config, out = tmp_path / "cfg.yaml", tmp_path / "out"
    config.write_text(ONE)
    out.mkdir()
    target = tmp_path / "elsewhere.md"
    target.write_text("precious\n")
    if kind == "symlink":
        (out / "README.md").symlink_to(target)
    elif kind == "directory":
        (out / "README.md").mkdir()
    elif kind == "fifo":
        os.mkfifo(out / "README.md")
    else:
        (out / "README.md").symlink_to(tmp_path / "nowhere")
    before = tree(tmp_path)
    result = gallery_cli(config, "--out", out)
    assert result.exit_code == 1 and "did not write: README.md" in result.output, result.output
    assert tree(tmp_path) == before


def test_owned_files_are_replaced_and_identical_ones_adopted(tmp_path):
    import shutil

    config, out = tmp_path / "cfg.yaml", tmp_path / "out"
    config.write_text(TWO)
    assert gallery_cli(config, "--out", out).exit_code == 0
    manifest = (out / ".lrplot-gallery.json").read_text()
    assert '"one.png"' in manifest and '"README.md"' in manifest
    copy = tmp_path / "copy"  # the same files without the manifest: identical bytes, adopted
    shutil.copytree(out, copy, ignore=lambda *_: [".lrplot-gallery.json"])
    before = tree(copy)
    result = gallery_cli(config, "--out", copy)
    assert result.exit_code == 0 and "wrote 0 files" in result.output, result.output
    assert {k: v for k, v in tree(copy).items() if k != ".lrplot-gallery.json"} == before
    assert (copy / ".lrplot-gallery.json").read_text() == manifest
    config.write_text(TWO.replace("T_max: 4", "T_max: 5"))  # lrplot's own files: replaced
    result = gallery_cli(config, "--out", copy)
    assert result.exit_code == 0 and "wrote 4 files" in result.output, result.output


def test_a_manifest_lrplot_did_not_write_is_refused(tmp_path):
    config, out = tmp_path / "cfg.yaml", tmp_path / "out"
    config.write_text(ONE)
    out.mkdir()
    (out / ".lrplot-gallery.json").write_text('{"files": ["../../etc/passwd"]}')
    result = gallery_cli(config, "--out", out)
    assert result.exit_code == 1 and "is not a manifest that lrplot wrote" in result.output


def test_empty_out_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "one.yaml").write_text(ONE)
    before = tree(tmp_path)
    for out in ("", "  "):
        result = gallery_cli("one.yaml", "--out", out)
        assert result.exit_code == 2 and "--out is empty" in result.output, result.output
    assert tree(tmp_path) == before


# ------------------------------------------------------------------ failed entries and index files

FAILING = (
    "entries:\n"
    "  good: {scheduler: cosine, kwargs: {T_max: 4}, epochs: 6}\n"
    "  bad-kwarg: {scheduler: cosine, kwargs: {T_max: abc}}\n"
    "  bad-render: {scheduler: linear, kwargs: {end_factor: 0.0, total_iters: 4}, log: true}\n"
)


def test_failed_entries_keep_a_card_with_their_error(tmp_path):
    config, out = tmp_path / "cfg.yaml", tmp_path / "out"
    config.write_text(FAILING)
    result = gallery_cli(config, "--out", out)
    assert result.exit_code == 1
    readme = (out / "README.md").read_text()
    index = (out / "index.html").read_text()
    assert "3 entries (2 failed)" in readme and "3 entries (2 failed)" in index
    sections = readme.split("\n## ")[1:]  # one section per entry, in the config's order
    rows = {section.split("\n", 1)[0]: section for section in sections}
    assert list(rows) == ["good", "bad-kwarg", "bad-render"]  # the config's order
    assert (
        "✗ failed" in rows["bad-kwarg"] and "kwargs.T_max: expects an integer" in rows["bad-kwarg"]
    )
    assert "cfg.yaml:3:" in rows["bad-kwarg"] and str(tmp_path) not in readme
    assert (
        "✗ failed" in rows["bad-render"] and "--log needs every lr &gt; 0" not in rows["bad-render"]
    )
    assert "--log needs every lr > 0" in rows["bad-render"]
    assert "✗" not in rows["good"]
    assert '<div class="card failed" id="bad-kwarg"' in index
    assert '<div class="card failed" id="bad-render"' in index
    assert "✗ failed: " in index and "--log needs every lr &gt; 0" in index
    assert '<img src="good.png"' in index and 'src="bad-render.png"' not in index


def test_no_entry_rendered_leaves_the_index_files_as_they_were(tmp_path):
    config, out = tmp_path / "cfg.yaml", tmp_path / "out"
    config.write_text(TWO)
    assert gallery_cli(config, "--out", out).exit_code == 0
    before = tree(out)
    config.write_text(  # every entry fails to render (as when the disk is full)
        TWO.replace("epochs: 6}", "epochs: 6, log: true, lr: 0.1}")
        .replace("kwargs: {T_max: 4}", "kwargs: {T_max: 4, eta_min: 0}")
        .replace("gamma: 0.8", "gamma: 0.0")
    )
    result = gallery_cli(config, "--out", out)
    assert result.exit_code == 1 and "rendered 0 of 2 entries" in result.output, result.output
    assert tree(out) == before


def test_a_write_failing_midway_leaves_the_index_files(tmp_path, monkeypatch):
    from lrplot import export
    from lrplot.errors import OutputError

    config, out = tmp_path / "cfg.yaml", tmp_path / "out"
    config.write_text(TWO)
    assert gallery_cli(config, "--out", out).exit_code == 0
    index_before = {n: (out / n).read_bytes() for n in ("README.md", "index.html")}
    real = export.atomic_write

    def full_disk(path, write, **kw):
        if Path(path).name == "two.png":
            raise OutputError(f"cannot write {path}: No space left on device")
        real(path, write, **kw)

    monkeypatch.setattr(export, "atomic_write", full_disk)
    config.write_text(TWO.replace("T_max: 4", "T_max: 5").replace("0.8", "0.7"))
    result = gallery_cli(config, "--out", out)
    assert result.exit_code == 1 and "No space left" in result.output
    assert {n: (out / n).read_bytes() for n in index_before} == index_before
    assert not [p for p in out.iterdir() if p.name.startswith(".lrplot-") and "json" not in p.name]


# ------------------------------------------------------------------ one writer per gallery DIR

HOLD = """\
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold_lock(directory: Path, seconds: float):
    import subprocess

    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(directory), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_writer_is_refused_while_the_first_holds_dir(tmp_path, monkeypatch):
    from lrplot.gallery import site

    config, out = tmp_path / "cfg.yaml", tmp_path / "out"
    config.write_text(ONE)
    out.mkdir()
    monkeypatch.setattr(site, "LOCK_WAIT", 0.5)
    holder = hold_lock(out, 30)
    try:
        result = gallery_cli(config, "--out", out)
        assert result.exit_code == 1, result.output
        assert "is being written by another lrplot gallery run" in result.output
        assert tree(out) == {}
        result = gallery_cli(config, "--out", out, "--check")  # a reader waits for the writer
        assert "is being written by another lrplot gallery run" in result.output
    finally:
        holder.kill()
        holder.wait()


def test_a_second_writer_waits_for_the_first(tmp_path):
    config, out = tmp_path / "cfg.yaml", tmp_path / "out"
    config.write_text(ONE)
    out.mkdir()
    holder = hold_lock(out, 1.0)
    try:
        result = gallery_cli(config, "--out", out)
    finally:
        holder.wait()
    assert result.exit_code == 0, result.output
    assert (out / "one.png").exists()


def test_two_concurrent_runs_never_mix_their_files(tmp_path):
    import subprocess

    lrplot_bin = str(Path(sys.executable).parent / "lrplot")
    configs = {
        "a": "entries:\n  x: {scheduler: cosine, kwargs: {T_max: 5}}\n"
        "  y: {scheduler: exp, kwargs: {gamma: 0.9}}\n",
        "b": "entries:\n  x: {scheduler: step, kwargs: {step_size: 2}}\n  y: {scheduler: linear}\n",
    }
    solo = {}
    for name, text in configs.items():
        (tmp_path / f"{name}.yaml").write_text(text)
        done = gallery_cli(tmp_path / f"{name}.yaml", "--out", tmp_path / f"solo-{name}")
        assert done.exit_code == 0, done.output
        solo[name] = tree(tmp_path / f"solo-{name}")
    shared = tmp_path / "shared"
    procs = [
        subprocess.Popen(
            [
                lrplot_bin,
                "gallery",
                str(tmp_path / f"{n}.yaml"),
                "--out",
                str(shared),
                "--format",
                "png",
                "--jobs",
                "1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for n in configs
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    final = tree(shared)
    winner = "a" if "a.yaml" in final["README.md"].decode() else "b"
    for name in ("x.png", "y.png", "README.md", "index.html", "contact-sheet.png"):
        assert final[name] == solo[winner][name], name


# ------------------------------------------------------------------ signals (real processes)

LRPLOT = str(Path(sys.executable).parent / "lrplot")
GALLERY_YAML = Path(__file__).resolve().parent.parent / "configs" / "gallery.yaml"


def session(pid: int) -> list[tuple[int, str]]:
    """Return (pid, state) of every process in the session ``pid`` leads, itself aside."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == pid:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == pid:
            found.append((int(entry.name), fields[0]))
    return found


def alive(pid: int) -> list[int]:
    return [p for p, state in session(pid) if state not in ("Z", "X")]


class Run:
    """``lrplot ARGS`` in a session of its own, with a private TMPDIR."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        import os
        import subprocess

        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir()
        env = {**os.environ, "TMPDIR": str(self.tmp), "COLUMNS": "200"}
        self.proc = subprocess.Popen(
            [LRPLOT, *args],
            cwd=tmp_path,
            env=env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def wait_for(self, condition, timeout: float = 60.0) -> None:
        import time

        end = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, self.proc.communicate()[0].decode()
            assert time.monotonic() < end, "timed out"
            time.sleep(0.02)

    def signal(self, sig: int, *, group: bool = False) -> tuple[int, str]:
        import os

        (os.killpg if group else os.kill)(self.proc.pid, sig)
        out = self.proc.communicate(timeout=120)[0].decode()
        return self.proc.returncode, out

    def leftovers(self) -> list[int]:
        """Wait up to 10 s for the session's processes to end; return those still alive."""
        import time

        end = time.monotonic() + 10
        while alive(self.proc.pid) and time.monotonic() < end:
            time.sleep(0.05)
        return alive(self.proc.pid)


def temp_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".lrplot-"))


@pytest.mark.parametrize(
    ("sig", "code", "said"), [(15, 143, "terminated"), (2, 130, "interrupted")]
)
def test_a_signal_during_a_long_write_leaves_no_file(tmp_path, sig, code, said):
    out = tmp_path / "out"
    out.mkdir()
    run = Run(
        tmp_path,
        *("cosine", "--T_max", "1000", "--epochs", "1000", "--steps-per-epoch", "20000"),
        *("--max-steps", "100000000", "-o", str(out / "big.csv")),
    )
    run.wait_for(lambda: any(p.stat().st_size > 1_000_000 for p in out.iterdir()))
    returncode, output = run.signal(sig)
    assert returncode == code, output
    assert said in output and "no partial file" in output and "Traceback" not in output
    assert list(out.iterdir()) == []  # no temp file, and no truncated big.csv
    assert run.leftovers() == []


@pytest.mark.parametrize("group", [False, True], ids=["kill", "process-group"])
def test_sigterm_stops_a_gallery_run_and_everything_it_started(tmp_path, group):
    out = tmp_path / "site"
    run = Run(tmp_path, "gallery", str(GALLERY_YAML), "--out", str(out), "--jobs", "2")
    run.wait_for(lambda: len(alive(run.proc.pid)) >= 3)  # the server and the workers
    run.wait_for(lambda: any(run.tmp.glob("lrplot-gallery-*/*.png")))  # entries under way
    returncode, output = run.signal(15, group=group)
    assert returncode == 143, output
    assert "terminated (SIGTERM)" in output and "Traceback" not in output, output
    assert run.leftovers() == []
    assert list(run.tmp.iterdir()) == []  # no staging directory, no pymp-* directory
    assert not out.exists() or temp_files(out) == []


def test_ctrl_c_while_gallery_workers_start_prints_no_traceback(tmp_path):
    out = tmp_path / "site"
    run = Run(tmp_path, "gallery", str(GALLERY_YAML), "--out", str(out), "--jobs", "2")
    run.wait_for(lambda: len(alive(run.proc.pid)) >= 3)  # workers exist, still importing
    returncode, output = run.signal(2, group=True)  # what the terminal does on Ctrl-C
    assert returncode == 130, output
    assert "Traceback" not in output and "Exception in initializer" not in output, output
    assert output.strip().splitlines()[-1].startswith("interrupted"), output
    assert run.leftovers() == []
    assert list(run.tmp.iterdir()) == []


# ------------------------------------------------------------------ outputs that are inputs


def invoke(*args: str):
    return runner.invoke(cli.app, list(map(str, args)))


@pytest.mark.parametrize("spelling", ["losses.csv", "./losses.csv", "{abs}", "link.csv"])
def test_an_output_that_is_the_metric_file_is_refused(tmp_path, monkeypatch, spelling):
    monkeypatch.chdir(tmp_path)
    data = "epoch,val_loss\n0,1.0\n1,0.9\n2,0.95\n"
    (tmp_path / "losses.csv").write_text(data)
    (tmp_path / "link.csv").symlink_to(tmp_path / "losses.csv")
    out = spelling.replace("{abs}", str(tmp_path / "losses.csv"))
    result = invoke("plateau", "--metric", "@losses.csv:val_loss", "--epochs", "3", "-o", out)
    assert result.exit_code == 2, result.output
    assert "is the metric file of this run" in result.output
    assert (tmp_path / "losses.csv").read_text() == data


def test_a_compare_output_that_is_a_metric_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.csv").write_text("1\n0.9\n")
    result = invoke("compare", "plateau:metric='@m.csv'", "cosine:T_max=3", "-o", "m.csv")
    assert result.exit_code == 2 and "is the metric file of this run" in result.output
    assert (tmp_path / "m.csv").read_text() == "1\n0.9\n"


def test_an_output_that_is_the_plugin_module_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    name = f"plug_{uuid.uuid4().hex[:8]}"
    source = CANARY.format(marker=str(tmp_path))
    (tmp_path / f"{name}.py").write_text(source)
    (tmp_path / "out.csv").symlink_to(tmp_path / f"{name}.py")
    try:
        result = invoke(f"{name}:Halve", "--epochs", "3", "-o", "out.csv")
    finally:
        sys.modules.pop(name, None)
        plugins._PLUGINS.pop(f"{name}:Halve", None)
    assert result.exit_code == 2, result.output
    assert f"is the plug-in's module ({name}:Halve)" in result.output
    assert (tmp_path / f"{name}.py").read_text() == source


@pytest.mark.parametrize(
    ("args", "victim", "what"),
    [
        (["verify", "step:step_size=1,epochs=4", "--log", "log.csv", "-o", "log.csv"],
         "log.csv", "the training log"),
        (["verify", "step:step_size=1,epochs=4", "--log", "hf", "-o", "hf/trainer_state.json"],
         "hf/trainer_state.json", "the training log"),
        (["verify", "plateau:patience=1,metric='@m.csv:val'", "--log", "log.csv", "-o", "m.csv"],
         "m.csv", "the metric file"),
        (["check", "plateau", "--patience", "1", "--metric", "@m.csv:val", "--resume-at", "3",
          "-o", "m.csv"], "m.csv", "the metric file"),
    ],
)  # fmt: skip
def test_verify_and_resume_outputs_that_are_inputs_are_refused(
    tmp_path, monkeypatch, args, victim, what
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "log.csv").write_text("step,lr\n0,0.1\n1,0.01\n2,0.001\n3,0.0001\n")
    (tmp_path / "m.csv").write_text("val\n1\n0.9\n0.95\n0.97\n")
    (tmp_path / "hf").mkdir()
    state = {"log_history": [{"step": s + 1, "learning_rate": 0.1 * 0.1**s} for s in range(4)]}
    (tmp_path / "hf" / "trainer_state.json").write_text(json.dumps(state))
    before = (tmp_path / victim).read_bytes()
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert f"it is {what} of this run" in result.output
    assert (tmp_path / victim).read_bytes() == before


def test_a_gallery_never_overwrites_its_own_config(tmp_path):
    site = tmp_path / "site"
    config = tmp_path / "cfg.yaml"
    config.write_text(ONE)
    assert gallery_cli(config, "--out", site).exit_code == 0  # lrplot wrote site/README.md
    own = site / "README.md"
    own.write_text(ONE.replace("T_max: 4", "T_max: 5"))  # now the user's config lives there
    text = own.read_text()
    result = gallery_cli(own, "--out", site)
    assert result.exit_code == 2 and "is the config of this run" in result.output, result.output
    assert own.read_text() == text


# ------------------------------------------------------------------ metric files


def test_a_metric_file_is_read_only_as_far_as_the_run_needs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = "".join(f"{i},{1 / (i + 1)}\n" for i in range(10))
    (tmp_path / "m.csv").write_text(
        "epoch,loss\n" + rows + "not,a number\n" + "x" * (3 << 20) + "\n"
    )
    result = invoke("plateau", "--metric", "@m.csv:loss", "--epochs", "10", "-o", "out.csv")
    assert result.exit_code == 0, result.output
    result = invoke("plateau", "--metric", "@m.csv:loss", "--epochs", "11", "-o", "out.csv")
    assert result.exit_code == 2 and "column 1" in result.output  # row 11 is needed


def test_a_metric_line_longer_than_the_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.csv").write_text("loss\n1.0\n" + "9" * (2 << 20) + "\n")
    result = invoke("plateau", "--metric", "@m.csv", "--epochs", "5", "-o", "out.csv")
    assert result.exit_code == 2, result.output
    assert "line 3 is longer than 1,048,576 characters" in result.output


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "directory"])
def test_a_metric_that_is_not_a_regular_file_is_refused(tmp_path, kind):
    import os
    import resource
    import subprocess

    if kind == "fifo":
        os.mkfifo(tmp_path / "pipe")
        source = str(tmp_path / "pipe")
    elif kind == "directory":
        source = str(tmp_path)
    else:
        source = kind

    def capped() -> None:  # the old reader grew without bound on /dev/zero
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    result = subprocess.run(
        [LRPLOT, "plateau", "--metric", f"@{source}", "--epochs", "5", "-o", "-"],
        preexec_fn=capped,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "is not a regular file" in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------ the step limit is per run


@pytest.mark.parametrize(
    ("args", "total"),
    [
        (
            [
                *("cosine", "--epochs", "50000000"),
                *("--sweep", "T_max=" + ",".join(str(i) for i in range(1, 13))),
                *("--sweep", "eta_min=" + ",".join(f"0.0{i}" for i in range(12))),
            ],
            "the 144 curves have 7,200,000,000 optimizer steps in all (about 115 GB of memory)",
        ),
        (
            ["compare", *(f"cosine:T_max={i},epochs=50000000" for i in range(1, 13))],
            "the 12 curves have 600,000,000 optimizer steps in all (about 9.6 GB of memory)",
        ),
        (
            ["compare", *(f"cosine:T_max={i}" for i in range(1, 13)), "--epochs", "5000000"],
            "the 12 curves have 60,000,000 optimizer steps in all (about 960 MB of memory)",
        ),
        (
            ["cosine", "--T_max", "5", "--sweep", "epochs=30000000,30000000"],
            "the 2 curves have 60,000,000 optimizer steps in all",
        ),
    ],
    ids=["sweep-12x12", "compare-12", "compare-run-option", "sweep-of-epochs"],
)
def test_the_step_limit_is_on_the_whole_run(tmp_path, args, total):
    result = invoke(*args, "-o", str(tmp_path / "x.png"))
    assert result.exit_code == 2, result.output
    assert total in result.output and "over the limit of 50,000,000" in result.output
    assert not (tmp_path / "x.png").exists()


def test_a_total_that_cannot_fit_in_memory_says_so(tmp_path, monkeypatch):
    from lrplot import spec

    monkeypatch.setattr(spec, "_physical_memory", lambda: 8_000_000_000)
    result = invoke("compare", *("exp:gamma=0.9,epochs=50000000" for _ in range(3)))
    assert "about 2.4 GB of memory" in result.output
    assert "raise it with --max-steps 150000000" in result.output
    result = invoke("compare", *("exp:gamma=0.9,epochs=50000000,lr=[0.1,0.2]" for _ in range(12)))
    assert "more memory than this machine has (8 GB)" in result.output, result.output
    assert "use fewer curves, epochs or steps per epoch" in result.output


def test_running_out_of_memory_is_one_clear_line(tmp_path):
    import resource
    import subprocess

    def capped() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    result = subprocess.run(
        [
            *(LRPLOT, "exp", "--gamma", "0.9", "--epochs", "400000000"),
            *("--max-steps", "1000000000", "-o", str(tmp_path / "big.csv")),
        ],
        preexec_fn=capped,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: out of memory: Unable to allocate"), result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "big.csv").exists()


# ------------------------------------------------------------------ caps on lists


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["multistep", "--milestones", ",".join(map(str, range(1, 1002)))],
            "multistep --milestones has 1,001 values; at most 1,000",
        ),
        (["cosine", "--T_max", "5", "--lr", ",".join(["0.1"] * 257)], "--lr has 257 param groups"),
        (
            ["chained", *[w for _ in range(65) for w in ("--schedulers", "exp:gamma=0.9")]],
            "chained --schedulers has 65 schedulers; at most 64",
        ),
        (
            ["cosine", "--T_max", "5", *[w for i in range(17) for w in ("-o", f"{i}.csv")]],
            "-o is given 17 times; at most 16",
        ),
        (["compare", "multistep:milestones=[" + ",".join(["5"] * 1001) + "]"], "has 1,001 values"),
    ],
    ids=["milestones", "param-groups", "nested", "outputs", "spec-list"],
)
def test_command_line_lists_are_capped(tmp_path, monkeypatch, args, said):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2, result.output[:500]
    assert said in result.output, result.output[:500]
    assert list(tmp_path.iterdir()) == []


def test_config_lists_and_entries_are_capped(tmp_path):
    config = tmp_path / "cfg.yaml"
    milestones = ", ".join(map(str, range(1, 5_001)))
    config.write_text(
        "entries:\n"
        f"  many: {{scheduler: multistep, kwargs: {{milestones: [{milestones}]}}}}\n"
        "  fine: {scheduler: exp, kwargs: {gamma: 0.9}, epochs: 5}\n"
    )
    result = gallery_cli(config, "--out", tmp_path / "out")
    assert result.exit_code == 1, result.output[:2000]
    assert "entry 'many': kwargs.milestones: has 5,000 values; at most 1,000" in result.output
    assert "rendered 1 of 2 entries" in result.output
    assert len(result.output) < 5000  # the value is not echoed back
    readme = (tmp_path / "out" / "README.md").read_text()
    assert len(readme) < 10_000
    config.write_text(
        "entries:\n"
        + "".join(f"  e{i}: {{scheduler: exp, kwargs: {{gamma: 0.9}}}}\n" for i in range(1001))
    )
    result = gallery_cli(config, "--out", tmp_path / "out2")
    assert result.exit_code == 2 and "the config has 1,001 entries; at most 1,000" in result.output


def test_a_metric_list_is_capped():
    import numpy as np

    from lrplot.errors import UsageError
    from lrplot.metric import MAX_VALUES, metric_values

    with pytest.raises(UsageError, match="at most 1,000,000"):
        metric_values(np.ones(MAX_VALUES + 1), 5)
    with pytest.raises(UsageError, match="at most 1,000,000"):
        metric_values(",".join(["1"] * (MAX_VALUES + 1)), 5)


def test_a_huge_value_is_not_echoed_whole_in_an_error():
    result = invoke("multistep", "--milestones", ",".join(["7"] * 900) + ",,3", "-o", "-")
    assert result.exit_code == 2 and "has an empty item" in result.output
    assert max(map(len, result.output.splitlines())) < 1200, len(result.output)


# ------------------------------------------------------------------ never a traceback

LONG = "a" * 300


@pytest.mark.parametrize(
    "args",
    [
        ["cosine", "--T_max", "5", "-o", f"{LONG}.csv"],
        ["cosine", "--T_max", "5", "-o", f"{LONG}/x.png"],
        ["cosine", "--T_max", "5", "-o", "d/" * 2100 + "x.csv"],
        ["gallery", "{config}", "--out", LONG],
        ["gallery", "{config}", "--out", "d/" * 2100],
        ["plateau", "--metric", f"@{LONG}.csv", "--epochs", "3", "-o", "-"],
        ["gallery", f"{LONG}.yaml"],
    ],
    ids=["name", "directory", "path", "gallery-out", "gallery-path", "metric", "config"],
)
def test_names_and_paths_too_long_are_one_clear_line(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "one.yaml").write_text(ONE)
    result = invoke(*[a.replace("{config}", "one.yaml") for a in args])
    assert result.exit_code in (1, 2), result.output[:300]
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output, result.output[:500]
    assert result.output.startswith("error: ") and "too long" in result.output, result.output[:300]
    assert max(map(len, result.output.splitlines())) < 1200


def complete(words: str, cword: int, tmp_path: Path) -> tuple[int, str, str]:
    import os
    import subprocess

    env = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    env["_LRPLOT_COMPLETE"] = "complete_bash"
    done = subprocess.run(
        [LRPLOT], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    ("words", "cword", "said"),
    [
        ("lrplot cosin --", 2, "unknown scheduler or command 'cosin' (did you mean cosine?)"),
        ("lrplot check cosin --", 3, "unknown scheduler or command 'cosin'"),
        ("lrplot nosuchmod_xyz:Thing --", 2, "cannot import 'nosuchmod_xyz'"),
        ("lrplot lrplot:Nope --", 2, "module 'lrplot' has no 'Nope'"),
    ],
    ids=["typo", "check-typo", "missing-module", "missing-name"],
)
def test_shell_completion_after_a_mistake_is_one_line(tmp_path, words, cword, said):
    code, out, err = complete(words, cword, tmp_path)
    assert code == 0 and "Traceback" not in err, err
    assert err.strip().splitlines() == [f"lrplot: {err.strip().removeprefix('lrplot: ')}"]
    assert said in err and out.strip() == ""


def test_shell_completion_still_completes(tmp_path):
    assert complete("lrplot cosine --T", 2, tmp_path)[1].split() == ["--T_max"]
    assert "cosine" in complete("lrplot cosi", 1, tmp_path)[1].split()


def test_control_characters_are_shown_never_obeyed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = "a\x1b[2Jb\x07c\rd\u202ee"
    result = invoke(evil, "-o", "x.csv")
    assert result.exit_code == 2 and "a\\x1b[2Jb\\x07c\\x0dd\\u202ee" in result.output
    result = invoke(
        "compare",
        f"cosine:T_max=5,label='{evil}'",
        "exp:gamma=0.9",
        "--title",
        evil,
        "--term",
        "-o",
        "c.svg",
        "-o",
        "c.csv",
    )
    assert result.exit_code == 0, result.output
    for text in (result.output, (tmp_path / "c.csv").read_text()):
        assert not any(ch in text for ch in "\x1b\x07\r\u202e"), repr(text[:300])
    import xml.etree.ElementTree as ET

    ET.parse(tmp_path / "c.svg")  # well-formed XML: no control character in a title


def test_control_characters_in_a_gallery_are_escaped(tmp_path):
    import xml.etree.ElementTree as ET

    config = tmp_path / "cfg.yaml"
    config.write_text(
        "entries:\n"
        "  a:\n"
        "    scheduler: cosine\n"
        "    kwargs: {T_max: 5}\n"
        '    title: "t\\e[2J\\a"\n'
        '    description: "d\\e]0;x\\a\\u202e"\n'
        "  b:\n"
        '    compare: ["cosine:T_max=5,label=\'l\\e[31m\'", "exp:gamma=0.9"]\n'
        "  c:\n"
        '    scheduler: "co\\e[2Jsine"\n'
    )
    result = runner.invoke(
        cli.app, ["gallery", str(config), "--out", str(tmp_path / "out"), "--jobs", "1"]
    )
    assert "Traceback" not in result.output
    assert not any(ch in result.output for ch in "\x1b\x07\u202e"), repr(result.output)
    for name in ("README.md", "index.html"):
        text = (tmp_path / "out" / name).read_text()
        assert not any(ch in text for ch in "\x1b\x07\u202e"), name
        assert "\\x1b" in text
    for svg in ("a.svg", "b.svg"):
        ET.parse(tmp_path / "out" / svg)


PLUGIN_EXIT = """\
import sys
from torch.optim.lr_scheduler import LRScheduler


class ExitsInStep(LRScheduler):
    def __init__(self, optimizer, at: int = 3, last_epoch: int = -1):
        self.at = at
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == self.at:
            raise SystemExit(0)
        return [g["lr"] for g in self.optimizer.param_groups]


def exits_when_built(optimizer):
    sys.exit(0)
"""


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("ExitsInStep", "the scheduler raised SystemExit(0) at scheduler step 3"),
        ("exits_when_built", "failed while being built: SystemExit"),
    ],
)
def test_a_plugin_calling_exit_is_a_runtime_error(tmp_path, monkeypatch, target, said):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    name = f"exits_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(PLUGIN_EXIT)
    try:
        result = invoke(f"{name}:{target}", "--epochs", "6", "-o", "out.csv")
    finally:
        sys.modules.pop(name, None)
        plugins._PLUGINS.pop(f"{name}:{target}", None)
    assert result.exit_code == 1, result.output
    assert said in result.output
    assert not (tmp_path / "out.csv").exists()


def test_a_plugin_module_calling_exit_on_import_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    name = f"exits_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text("raise SystemExit(0)\n")
    try:
        result = invoke(f"{name}:Thing", "-o", "out.csv")
    finally:
        sys.modules.pop(name, None)
    assert result.exit_code == 2 and f"cannot import '{name}'" in result.output, result.output


@pytest.mark.parametrize("lr", ["1e-13", "1e-20", "0.1", "1e5"])
def test_lr_ends_at_start_is_relative(lr):
    result = invoke("check", "cosine", "--T_max", "100", "--epochs", "100", "--lr", lr)
    assert result.exit_code == 0, result.output
    assert "no net decay" not in result.output
    result = invoke(
        "check", "constant", "--factor", "1", "--total_iters", "3", "--epochs", "9", "--lr", lr
    )
    assert result.exit_code == 1 and "no net decay" in result.output, result.output


def test_a_reader_that_stops_early_ends_the_run_quietly(tmp_path):
    import subprocess

    proc = subprocess.Popen(
        [LRPLOT, "cosine", "--T_max", "300000", "-o", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"step,epoch,lr\n"
    proc.stdout.close()  # what `| head -1` does
    err = proc.communicate(timeout=120)[1].decode()
    assert proc.returncode == 141, err
    assert "Traceback" not in err and "error" not in err, err
