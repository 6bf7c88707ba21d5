"""An integer column stored as runs of equal values, for the dashboard's column store.

Cycle, Segment and Pulse change far less often than once per row (a cycle or a sweep
branch holds thousands of rows), and the dashboard reads them only for new rows and, on a
new R_s, once over all rows (labqc.gui.live_state). Kept as runs (first row, value) they
cost next to nothing per row instead of 9 bytes. Where values do change every row or two
(a pulse train numbering each pulse) runs would cost more than the plain column, so the
column then turns into a plain growable array: never more memory than that.
"""
from __future__ import annotations

import numpy as np

START = np.int64
DENSE_BELOW = 4096  # rows: below this a run column never turns plain (too few to judge)


class RunColumn:
    """Append-only 1-D integer column; :meth:`since` gives rows [first, len) as an array."""

    def __init__(self, dtype: type) -> None:
        self.dtype = np.dtype(dtype)
        self.clear()

    def clear(self) -> None:
        self._n = 0
        self._runs = 0
        self._starts = np.empty(64, dtype=START)
        self._values = np.empty(64, dtype=self.dtype)
        self._dense: np.ndarray | None = None  # the plain column once runs cost more

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        if self._dense is not None:
            return self._dense.nbytes
        return self._starts.nbytes + self._values.nbytes

    @property
    def plain(self) -> bool:
        return self._dense is not None

    def append(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=self.dtype)
        m = values.size
        if not m:
            return
        if self._dense is not None:
            self._dense = _fit(self._dense, self._n + m)
            self._dense[self._n : self._n + m] = values
            self._n += m
            return
        at = np.flatnonzero(values[1:] != values[:-1]) + 1
        if not (self._runs and values[0] == self._values[self._runs - 1]):
            at = np.concatenate(([0], at))
        k = self._runs + at.size
        self._starts, self._values = _fit(self._starts, k), _fit(self._values, k)
        self._starts[self._runs : k] = at + self._n
        self._values[self._runs : k] = values[at]
        self._runs, self._n = k, self._n + m
        if self._n >= DENSE_BELOW and self._runs * (START().itemsize + self.dtype.itemsize) > self._n * self.dtype.itemsize:
            self._dense = _fit(np.empty(0, dtype=self.dtype), self._n)
            self._dense[: self._n] = self.since(0, runs=True)
            self._starts = self._values = np.empty(0)

    def since(self, first: int, *, runs: bool = False) -> np.ndarray:
        """Rows [first, len) as a new array (a view once the column is plain)."""
        first = min(max(int(first), 0), self._n)
        if self._dense is not None and not runs:
            return self._dense[first : self._n]
        starts = self._starts[: self._runs]
        r = max(int(np.searchsorted(starts, first, "right")) - 1, 0)
        edges = np.append(starts[r:], self._n)
        edges[0] = first
        return np.repeat(self._values[r : self._runs], np.diff(edges))


def _fit(a: np.ndarray, need: int) -> np.ndarray:
    """``a`` or a copy grown by half (or to ``need``) with its contents."""
    if need <= a.size:
        return a
    new = np.empty(max(need, a.size + a.size // 2, 64), dtype=a.dtype)
    new[: a.size] = a
    return new


__all__ = ["RunColumn"]
