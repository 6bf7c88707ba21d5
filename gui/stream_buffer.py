"""The dashboard's data in memory: a growable numpy column store fed chunk by chunk.

The worker thread turns each chunk of rows the procedure emits (labqc.chunk, the stream's
one typed chunk) into a :class:`Chunk` of the store's columns (:func:`chunk_from_rows`; a
results file read back goes through :func:`chunk_from_frame`); the GUI thread appends it to a
:class:`ColumnStore`. The plots read views of the store (``store["t"]``) and never
re-read the results file.

Rows whose G/G0 is undefined (V = 0, where G = I/V has no value) stay in the results
file but are not kept here: pyqtgraph's peak downsampling takes min/max over blocks of
samples, and one NaN in a block would blank the whole block on screen.

It is a display store: time is float64, measured values float32 (7 significant digits,
far below the noise; the results file keeps full precision). V, I and Compliance are only
drawn for the newest ``RECENT`` rows (the I–V view, the main view against V or I) and
only read for new rows otherwise (per-pulse current), so the store keeps them for the
newest ``RECENT`` to ``2·RECENT`` rows only (:meth:`ColumnStore.since`). Cycle, Segment
and Pulse are kept as runs of equal values (labqc.gui.run_column). A row then takes 16
bytes (20 with the corrected column) and 10⁶ rows ~20 MB. Capacity grows by half when
full (amortised O(chunk) per append).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from labqc.gui.run_column import RunColumn
from labqc.results import SEGMENTS
from labqc.rs import correct as _rs_correct

#: Column name in the store -> (results-file column, dtype).
FIELDS: dict[str, tuple[str, type]] = {
    "t": ("Time (s)", np.float64),
    "v": ("Voltage (V)", np.float32),
    "i": ("Current (A)", np.float32),
    "g": ("G/G0", np.float32),
    "compliance": ("Compliance", np.bool_),
    "cycle": ("Cycle", np.int32),
    "segment": ("Segment", np.int8),
    "pulse": ("Pulse", np.int32),
}
#: Columns kept for the newest RECENT rows only (drawn against V or I, never against time).
RECENT = 50_000
WINDOWED = ("v", "i", "compliance")
#: Columns that change far less often than every row, kept as runs (labqc.gui.run_column).
RUNS = ("cycle", "segment", "pulse")
#: Segment names by code (the Segment column as small integers; -1: unknown).
SEGMENT_CODES = {name: k for k, name in enumerate(SEGMENTS)}

Chunk = dict  # store column name -> 1-D numpy array, all the same length


def segment_codes(values) -> np.ndarray:
    """Segment strings -> int8 codes (SEGMENTS order; -1 for anything else)."""
    s = pd.Series(np.asarray(values, dtype=object)).astype(str)
    return s.map(SEGMENT_CODES).fillna(-1).to_numpy(dtype=np.int8)


def chunk_from_rows(rows: np.ndarray) -> Chunk:
    """A chunk of the stream (labqc.chunk ROW rows) -> numpy columns of the store (rows
    with finite G/G0 only). Runs in the worker thread, so that the GUI thread only copies
    arrays."""
    keep = np.isfinite(rows["G/G0"])
    if not keep.all():
        rows = rows[keep]
    out: Chunk = {name: rows[column].astype(dtype) for name, (column, dtype) in FIELDS.items()
                  if name != "segment"}
    seg = rows["Segment"]
    codes = np.full(len(rows), -1, dtype=np.int8)
    for code, name in enumerate(SEGMENTS):
        codes[seg == name] = code
    out["segment"] = codes
    return out


def chunk_from_frame(frame: pd.DataFrame) -> Chunk:
    """A results DataFrame -> numpy columns of the store (rows with finite G/G0 only).
    Runs in the worker thread, so that the GUI thread only copies arrays."""
    g = frame["G/G0"].to_numpy(dtype=np.float64)
    keep = np.isfinite(g)
    out: Chunk = {}
    for name, (column, dtype) in FIELDS.items():
        if name == "segment":
            values = segment_codes(frame[column].to_numpy())
        elif column in frame:
            values = frame[column].to_numpy()
            if dtype is np.bool_ and values.dtype != np.bool_:
                values = pd.Series(values).astype(str).str.lower().isin(("true", "1", "1.0")).to_numpy()
            values = values.astype(dtype, copy=False)
        else:  # an older file without this column
            values = np.full(len(frame), np.nan if np.issubdtype(dtype, np.floating) else -1, dtype=dtype)
        out[name] = values[keep] if not keep.all() else values
    return out


class ColumnStore:
    """Growable columns (``FIELDS``) plus ``gc``: G/G0 corrected for the dashboard's
    series resistance. ``store[name]`` gives the rows so far (a view; a new array for the
    ``RUNS`` columns); the ``WINDOWED`` columns hold only the newest rows: read them, and
    new rows of any column, with :meth:`since`."""

    def __init__(self, capacity: int = 1 << 14, r_series: float = 0.0) -> None:
        self._n = 0
        self._cols = {name: np.empty(capacity, dtype=dtype) for name, (_, dtype) in FIELDS.items()
                      if name not in WINDOWED and name not in RUNS}
        self._runs = {name: RunColumn(FIELDS[name][1]) for name in RUNS}
        self._cols["gc"] = np.empty(capacity, dtype=np.float32)
        # The windowed columns: rows [_base, _n) in the first _n - _base places.
        self._recent = {name: np.empty(2 * RECENT, dtype=FIELDS[name][1]) for name in WINDOWED}
        self._base = 0
        self.r_series = float(r_series)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, name: str) -> np.ndarray:
        return self.since(name, 0)

    def since(self, name: str, first: int) -> np.ndarray:
        """A view of column ``name``'s rows [first, len); for a WINDOWED column ``first``
        must be one of the newest RECENT rows (or later)."""
        first = min(max(int(first), 0), self._n)
        if name in self._runs:
            return self._runs[name].since(first)
        if name not in self._recent:
            return self._cols[name][first : self._n]
        if first < self._base:
            raise IndexError(f"the store keeps {name!r} for the newest {RECENT} rows only (asked from row "
                             f"{first} of {self._n})")
        return self._recent[name][first - self._base : self._n - self._base]

    @property
    def capacity(self) -> int:
        return self._cols["t"].size

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for group in (self._cols, self._recent, self._runs) for a in group.values())

    def append(self, chunk: Mapping[str, np.ndarray]) -> int:
        """Append a chunk; returns the index of its first row."""
        m = len(chunk["t"])
        start = self._n
        if start + m > self.capacity:
            self._grow(start + m)
        for name in self._cols:
            if name != "gc":
                self._cols[name][start : start + m] = chunk[name]
        self._cols["gc"][start : start + m] = _corrected(chunk["g"], self.r_series)
        for name, column in self._runs.items():
            column.append(chunk[name])
        self._append_recent(chunk, m)
        self._n += m
        return start

    def _append_recent(self, chunk: Mapping[str, np.ndarray], m: int) -> None:
        """The chunk's newest rows into the windowed columns, moving the newest RECENT
        rows held to the front when there is no room (O(RECENT) every RECENT rows)."""
        held = self._n - self._base
        if m >= RECENT:
            keep, take = 0, RECENT
        elif held + m > 2 * RECENT:
            keep, take = min(held, RECENT), m
        else:
            keep, take = held, m
        for name, a in self._recent.items():
            if keep < held:
                a[:keep] = a[held - keep : held]
            a[keep : keep + take] = chunk[name][m - take :]
        self._base = self._n + m - keep - take

    def _grow(self, need: int) -> None:
        cap = max(self.capacity, 1024)
        while cap < need:
            cap += cap // 2
        for name, old in self._cols.items():
            new = np.empty(cap, dtype=old.dtype)
            new[: self._n] = old[: self._n]
            self._cols[name] = new

    def set_series_resistance(self, ohms: float) -> None:
        """Recompute the corrected column for a new R_s (ohm), vectorised."""
        self.r_series = float(ohms)
        self._cols["gc"][: self._n] = _corrected(self["g"], self.r_series)

    def clear(self) -> None:
        self._n = self._base = 0
        for column in self._runs.values():
            column.clear()


def _corrected(g_g0: np.ndarray, r_series: float) -> np.ndarray:
    """G_corr/G0 = g/(1 - R_s·G0·g) (NaN where undefined), computed in float32."""
    return _rs_correct(np.asarray(g_g0, dtype=np.float32), max(r_series, 0.0))


__all__ = ["ColumnStore", "Chunk", "chunk_from_rows", "chunk_from_frame", "segment_codes", "FIELDS", "SEGMENT_CODES",
           "RECENT", "WINDOWED", "RUNS"]
