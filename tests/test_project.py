"""Project metadata: the packaging declarations the build backend reads."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent


def test_license_is_an_spdx_expression_with_a_backend_that_reads_it():
    """Issue 10.15: no setuptools deprecation banner (license tables, License classifiers)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"  # PEP 639 string, not {text = ...}
    assert not [c for c in project["project"].get("classifiers", []) if c.startswith("License")]
    assert "setuptools>=77" in project["build-system"]["requires"]  # reads PEP 639
