"""Doctest namespace: the names the examples in lrplot's docstrings use."""

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace: dict) -> None:
    from lrplot.schedule import Schedule

    doctest_namespace.update(np=np, Schedule=Schedule)
