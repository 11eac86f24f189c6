"""``Schedule``: decimation and stats give the same answers for views of any layout."""

from __future__ import annotations

import numpy as np
import pytest

from lrplot.schedule import Schedule, decimate_indices


def reference_indices(y: np.ndarray, width: int) -> np.ndarray | None:
    """M4 decimation on a contiguous copy, as first written."""
    y = np.ascontiguousarray(y)
    n = len(y)
    if n <= 4 * width:
        return None
    size = -(-n // width)
    full = n // size
    block = y[: full * size].reshape(full, size)
    starts = np.arange(full) * size
    keep = [starts, starts + block.argmin(1), starts + block.argmax(1), starts + size - 1]
    if full * size < n:
        tail = y[full * size :]
        base = full * size
        keep.append(np.array([base, base + tail.argmin(), base + tail.argmax(), n - 1]))
    return np.unique(np.concatenate(keep))


@pytest.mark.parametrize("layout", ["contiguous", "column-of-two", "broadcast", "reversed"])
@pytest.mark.parametrize("n", [10, 6401, 100_003, 2_000_000])
def test_decimation_of_any_view_matches_the_contiguous_algorithm(layout, n):
    rng = np.random.default_rng(n)
    if layout == "contiguous":
        y = rng.random(n)
    elif layout == "column-of-two":
        y = rng.random((n, 2))[:, 1]
    elif layout == "broadcast":
        y = np.broadcast_to(np.array([[0.9]]), (n, 1))[:, 0]
    else:
        y = rng.random(n)[::-1]
    got, want = decimate_indices(y, 1600), reference_indices(y, 1600)
    assert (got is None and want is None) or np.array_equal(got, want)


def test_stats_first_step_under_ten_percent():
    lr = np.concatenate([np.linspace(0.05, 0.1, 10), np.linspace(0.1, 0.0, 91)])
    stats = Schedule(lr=lr).stats()
    want = int(np.flatnonzero(lr[10:] < 0.01)[0] + 10)
    assert stats["peak_step"] == 9 and stats["below_10pct_step"] == want
    assert Schedule(lr=np.full(5, 0.1)).stats()["below_10pct_step"] is None
