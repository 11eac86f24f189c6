"""lrplot: see the learning-rate schedule you wrote before you spend GPU hours on it.

The Python API does what the command line does::

    >>> import lrplot
    >>> schedule = lrplot.simulate("cosine:T_max=150")
    >>> schedule.lr.shape
    (150, 1)

torch and matplotlib are imported only when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lrplot.errors import LrplotError, UsageError

__version__ = "0.1.0"
__all__ = [
    "LrplotError",
    "Schedule",
    "ScheduleSpec",
    "UsageError",
    "make_spec",
    "parse_spec",
    "plot",
    "simulate",
]

if TYPE_CHECKING:
    from pathlib import Path

    from lrplot.schedule import Schedule
    from lrplot.spec import ScheduleSpec, make_spec, parse_spec

_LAZY = {
    "Schedule": "lrplot.schedule",
    "ScheduleSpec": "lrplot.spec",
    "make_spec": "lrplot.spec",
    "parse_spec": "lrplot.spec",
}


def __getattr__(name: str) -> Any:
    """Import the numpy-backed parts on first use (keeps ``lrplot --help`` fast)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lrplot' has no attribute {name!r}")


def simulate(spec: ScheduleSpec | str, **run: Any) -> Schedule:
    """Simulate a schedule (see ``lrplot.engine.simulate``).

    Example:
        >>> float(simulate("step:step_size=30", epochs=90).lr[-1, 0])
        0.001
    """
    from lrplot.engine import simulate as _simulate

    return _simulate(spec, **run)


def plot(
    spec: ScheduleSpec | str | Schedule, path: str | Path | None = None, **options: Any
) -> Any:
    """Simulate (if needed) and draw a schedule; save it when ``path`` is given.

    Returns the matplotlib ``Figure``.

    Example:
        >>> fig = lrplot.plot("cosine:T_max=150", "cosine.png")  # doctest: +SKIP
    """
    from lrplot.render import plot as _plot
    from lrplot.schedule import Schedule

    schedule = spec if isinstance(spec, Schedule) else simulate(spec)
    return _plot(schedule, path, **options)
