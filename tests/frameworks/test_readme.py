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
