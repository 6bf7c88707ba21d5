"""The one typed chunk of rows that a run streams: a numpy structured array of :data:`ROW`.

A procedure turns each chunk of readings from the driver into rows with the results
columns (:data:`COLUMNS`, units in the names) once, vectorised
(labqc.procedures.base.reading_rows), and emits that array as ``("batch", rows)``. Every
subscriber takes the same array: the results writer (labqc.results), the dashboard's store
(gui/stream_buffer.chunk_from_rows), the plan's stop conditions
(procedures/stop_watch.py), a station's publisher (procedures/station_stream.py), and the
procedures' own bookkeeping (Retention's HoldTrace, Endurance's per-cycle table,
PulseTrain's per-pulse figures). A DataFrame is built only when someone asks for one:
:func:`to_frame` for a script, ``labqc.results.read_data`` for a file.

Why a structured array rather than a DataFrame or a dataclass of 1-D arrays:

- one allocation per chunk, so a one-row chunk (slow retention sends one reading per
  chunk) costs a few microseconds and ~100 bytes, where a one-row DataFrame cost ~100 µs
  and ~10 kB;
- masks, slices, ``np.concatenate`` and ``rows[-1]["G/G0"]`` (one row, by column name)
  work as numpy does, with no per-column code in each subscriber;
- the dtype *is* the type: ``rows.dtype == ROW`` says a chunk has every column with its
  kind (float64 values, bool Compliance, int64 Cycle and Pulse, text Segment), and a
  chunk's bytes are its wire form.

A column is a strided view (``rows["G/G0"]``); copy it (``np.array(...)``) where a
contiguous array matters. Segment is fixed-width text of :data:`SEGMENT_WIDTH`
characters; a longer name is refused when the rows are built rather than cut short.

This module imports neither pandas nor anything above the core.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

#: The columns of every labqc results file, in order. Units in parentheses; G/G0 and
#: G_corr/G0 are in units of G0; Compliance is True where the limit was in control;
#: Cycle counts from 1; Segment says which part of the run a row belongs to (SEGMENTS and
#: a procedure's own, e.g. "ramp", "decay"); Pulse is the 1-based pulse number, -1 where
#: no pulse is involved.
COLUMNS: tuple[str, ...] = (
    "Time (s)", "Source (V|A)", "Voltage (V)", "Current (A)", "G (S)", "G/G0", "G_corr/G0",
    "Compliance", "Cycle", "Segment", "Pulse",
)

#: What the Segment column says in most runs: the SET and RESET branches of a sweep, a
#: verify or state read, a pulse top, the forward/reverse branches of a current sweep, a
#: hold at constant bias (retention).
SEGMENTS = ("set", "reset", "read", "pulse", "forward", "reverse", "hold")

#: Characters a Segment name may have (the longest in use, "forward", has 7).
SEGMENT_WIDTH = 8

#: One row of a results file.
ROW = np.dtype([
    ("Time (s)", "f8"), ("Source (V|A)", "f8"), ("Voltage (V)", "f8"), ("Current (A)", "f8"),
    ("G (S)", "f8"), ("G/G0", "f8"), ("G_corr/G0", "f8"), ("Compliance", "?"), ("Cycle", "i8"),
    ("Segment", f"U{SEGMENT_WIDTH}"), ("Pulse", "i8"),
])
assert ROW.names == COLUMNS  # one list of columns


def empty(n: int = 0) -> np.ndarray:
    """``n`` rows of :data:`ROW`, uninitialised (fill every column)."""
    return np.empty(n, dtype=ROW)


def segments(values: Any, n: int) -> np.ndarray | str:
    """Segment names as the Segment column of ``n`` rows (one name, given as a str, is
    returned as it is: assigning it fills the column); a name longer than SEGMENT_WIDTH is
    a ValueError (numpy would cut it short silently)."""
    if isinstance(values, str):
        if len(values) > SEGMENT_WIDTH:
            raise ValueError(f"the segment name {values!r} is longer than {SEGMENT_WIDTH} characters")
        return values
    names = np.asarray(values)
    if names.dtype.kind not in "UO" and names.size:
        raise TypeError(f"Segment names must be text, got {names.dtype}")
    if names.dtype.kind == "O" or names.dtype.itemsize > 4 * SEGMENT_WIDTH:
        longest = max((str(s) for s in np.unique(names.astype(str))), key=len, default="")
        if len(longest) > SEGMENT_WIDTH:
            raise ValueError(f"the segment name {longest!r} is longer than {SEGMENT_WIDTH} characters")
    return np.broadcast_to(names.astype(f"U{SEGMENT_WIDTH}"), (n,))


def is_rows(value: Any) -> bool:
    """True for a chunk of :data:`ROW` rows."""
    return isinstance(value, np.ndarray) and value.dtype == ROW


def concat(chunks: Sequence[np.ndarray]) -> np.ndarray:
    """The rows of ``chunks`` in order, as one array (no chunks: no rows)."""
    if not chunks:
        return empty(0)
    return chunks[0].copy() if len(chunks) == 1 else np.concatenate(chunks)


def from_columns(columns: Mapping[str, Any]) -> np.ndarray:
    """A structured array from equal-length columns: exactly :data:`ROW` when the names are
    :data:`COLUMNS` in order, else each field with its values' own dtype (e.g. a station
    publishing other columns). Text columns become fixed-width text."""
    names = list(columns)
    if tuple(names) == COLUMNS:
        values = {name: np.asarray(columns[name]) for name in names}
        n = len(values["Time (s)"])
        out = empty(n)
        for name in names:
            out[name] = segments(values[name], n) if name == "Segment" else values[name]
        return out
    arrays = [np.asarray(columns[name]) for name in names]
    arrays = [a.astype(str) if a.dtype.kind == "O" else a for a in arrays]
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    out = np.empty(lengths.pop() if lengths else 0, dtype=[(name, a.dtype) for name, a in zip(names, arrays)])
    for name, a in zip(names, arrays):
        out[name] = a
    return out


def to_frame(rows: np.ndarray):
    """The rows as a pandas DataFrame (for a script or a test; nothing in a run needs one):
    the same columns in order, Segment as str."""
    import pandas as pd

    frame = pd.DataFrame({name: rows[name] for name in rows.dtype.names}, columns=list(rows.dtype.names))
    for name in rows.dtype.names:
        if rows.dtype[name].kind == "U":
            frame[name] = frame[name].astype(object)
    return frame


__all__ = ["ROW", "COLUMNS", "SEGMENTS", "SEGMENT_WIDTH", "empty", "segments", "is_rows", "concat",
           "from_columns", "to_frame"]
