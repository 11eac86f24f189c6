"""Safe under attack and faults: consent to import, files lrplot may touch, signals, limits.

The canary tests plant modules that record being imported (a file named after the
module appears in a marker directory) and reach them through every route a scheduler
name can take in a YAML gallery.
"""

from __future__ import annotations

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
    for extra in ([], ["--check"], ["--jobs", "2"]):
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
    # with consent, exactly the routes that name a real scheduler import their canary
    result = runner.invoke(
        cli.app,
        ["gallery", str(config), "--out", str(out), "--format", "png", "--allow-import"],
    )
    assert imported(marker) == expected, result.output
    assert "Traceback" not in result.output


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
