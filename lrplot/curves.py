"""Compare two lr curves: relative errors, the first and last differing step, a jump.

Used by the resume check (a resumed run against the uninterrupted one) and by ``verify``
(a training log against the plan). An error is relative to the expected lr, or to 0.1%
of the expected curve's peak where the lr is smaller than that, so a planned 0 (the first
step of a Hugging Face warmup) compares without dividing by zero.

Example:
    >>> import numpy as np
    >>> d = difference(np.array([1.0, 0.5, 0.2, 0.1]), np.array([1.0, 0.5, 0.25, 0.1]), 1e-9)
    >>> d.first, d.last, d.rejoins
    (2, 2, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Difference", "difference", "floor_of", "rel_errors", "within"]

#: the share of the expected curve's peak below which errors are taken against the peak.
FLOOR = 1e-3


def floor_of(want: np.ndarray) -> float:
    """Return the smallest denominator of a relative error: 0.1% of the peak |lr|.

    Example:
        >>> floor_of(np.array([0.0, 0.1, 0.05]))
        0.0001
    """
    peak = float(np.max(np.abs(want))) if want.size else 0.0
    return FLOOR * peak if peak > 0 else 1e-300


def rel_errors(got: np.ndarray, want: np.ndarray, floor: float | None = None) -> np.ndarray:
    """Return ``|got - want| / max(|want|, floor)`` elementwise (rows x groups or 1-D).

    Example:
        >>> rel_errors(np.array([0.0, 0.11]), np.array([0.0, 0.1])).round(6).tolist()
        [0.0, 0.1]
    """
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    base = floor_of(want) if floor is None else floor
    with np.errstate(invalid="ignore"):
        err = np.abs(got - want) / np.maximum(np.abs(want), base)
    return np.where(np.isnan(err), np.inf, err)


def within(got: np.ndarray, want: np.ndarray, rtol: float, floor: float | None = None) -> bool:
    """Return True when every value agrees within ``rtol`` (and the shapes match).

    Example:
        >>> within(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12]), 1e-9)
        True
    """
    got, want = np.asarray(got), np.asarray(want)
    return got.shape == want.shape and bool(np.all(rel_errors(got, want, floor) <= rtol))


@dataclass(frozen=True)
class Difference:
    """Where two curves differ (rows are optimizer steps, or logged points).

    Attributes:
        first: the first row that differs.
        last: the last row that differs.
        count: how many rows differ.
        rejoins: the curves agree again after ``last``, to the end.
        max_rel: the largest relative error.
    """

    first: int
    last: int
    count: int
    rejoins: bool
    max_rel: float


def difference(
    got: np.ndarray, want: np.ndarray, rtol: float, floor: float | None = None
) -> Difference | None:
    """Return where ``got`` differs from ``want`` over their common rows, or None.

    Rows may hold several values (param groups): a row differs when any value does.

    Example:
        >>> difference(np.ones(3), np.ones(3), 1e-12) is None
        True
    """
    n = min(len(got), len(want))
    err = rel_errors(
        np.asarray(got)[:n],
        np.asarray(want)[:n],
        floor_of(np.asarray(want)) if floor is None else floor,
    )
    if err.ndim > 1:
        err = err.max(axis=1)
    bad = np.flatnonzero(err > rtol)
    if not bad.size:
        return None
    last = int(bad[-1])
    return Difference(int(bad[0]), last, int(bad.size), last < n - 1, float(err.max()))
