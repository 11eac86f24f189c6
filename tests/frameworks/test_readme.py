"""The README's Frameworks commands run as written and draw the images shown beside them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrplot import cli
from lrplot.gallery import load

ROOT = Path(__file__).resolve().parents[2]


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Frameworks", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.startswith("lrplot ")]


COMMANDS = _commands()


def test_one_command_per_framework():
    modules = {shlex.split(c)[1].split(".")[0] for c in COMMANDS}
    assert modules == {"transformers", "timm", "ignite", "mmengine", "deepspeed"}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: shlex.split(c)[1])
def test_readme_command_runs_and_is_the_gallery_entry(command, tmp_path):
    module = shlex.split(command)[1].partition(":")[0].split(".")[0]
    pytest.importorskip(module)
    words = shlex.split(command)[1:]
    result = CliRunner().invoke(cli.app, [*words, "-o", str(tmp_path / "x.csv")])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    gallery = load(ROOT / "configs" / "frameworks.yaml", allow_import=True)
    assert command in [e.command for e in gallery.entries]


def _section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


FROM_COMMANDS = [
    line
    for line in re.search(r"```bash\n(.*?)```", _section("From your training config"), re.S)
    .group(1)
    .splitlines()
    if line.startswith("lrplot from ")
]


@pytest.mark.parametrize("command", FROM_COMMANDS, ids=lambda c: shlex.split(c)[2])
def test_from_commands_run_and_are_the_gallery_entries(command, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the gallery names its configs as make test-frameworks runs it
    gallery = load(Path("configs") / "frameworks.yaml", allow_import=True)
    entries = {e.command: e for e in gallery.entries}
    if command not in entries:  # its framework is not installed here: the gallery skipped it
        assert gallery.skipped, command
        pytest.skip(f"{command}: framework not installed")
    words = shlex.split(command)[1:]
    result = CliRunner().invoke(cli.app, [*words, "-o", str(tmp_path / "x.csv")])
    assert result.exit_code == 0, result.output
    assert "same as: lrplot" in " ".join(result.output.split())


def test_the_from_output_shown_is_what_lrplot_prints(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    block = re.search(
        r"```console\n\$ (lrplot from .*?)\n(.*?)```", _section("From your training config"), re.S
    )
    assert block is not None
    monkeypatch.chdir(tmp_path)
    words = shlex.split(block.group(1))[1:]
    words[1] = str(ROOT / words[1])
    result = CliRunner().invoke(cli.app, words, env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    shown = [line for line in block.group(2).splitlines() if not line.startswith("wrote ")]
    printed = [line for line in result.output.splitlines() if not line.startswith("wrote ")]
    assert printed == shown
