"""Results files: PyMeasure's CSV format, written in chunks, and read back.

A results file is exactly what PyMeasure writes (so ``pymeasure.experiment.Results.load``
reads it back with its parameters and metadata, and ``pandas.read_csv(path, comment="#")``
reads the table)::

    #Procedure: <labqc.procedures.voltage_sweep.VoltageSweep>
    #Parameters:
    #	SET compliance: 0.005 A
    #Metadata:
    #	G0: 7.748091729e-05 S
    #Data:
    Time (s),Source (V|A),Voltage (V),Current (A),G (S),G/G0,G_corr/G0,Compliance,Cycle,Segment,Pulse
    0.01,0.01,0.01,1.2e-06,...

Unlike PyMeasure's Recorder, :class:`ResultsWriter` writes a whole chunk of rows at a
time, flushes after each chunk, fsyncs every few seconds and at close, and lets every
``OSError`` (disk full, file system gone) propagate so that the run fails loudly. After
a failed write the file is cut back to the last complete chunk, so what is on disk reads.

Next to each data file a small JSON summary (``<name>.summary.json``) holds the derived
results of the run (V_SET/V_RESET, HRS/LRS, per-pulse statistics, how the run ended).
"""
from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from labqc import chunk as _chunk

if TYPE_CHECKING:
    import pandas as pd

#: The columns of every results file (labqc.chunk.COLUMNS: the chunk a run streams has
#: exactly these) and the usual Segment names.
COLUMNS: tuple[str, ...] = _chunk.COLUMNS
SEGMENTS = _chunk.SEGMENTS

COMMENT = "#"
LINE_BREAK = "\n"
ENCODING = "utf-8"


def summary_path(data_path: str | os.PathLike) -> Path:
    """Where the summary of the run whose data is at ``data_path`` lives."""
    p = Path(data_path)
    return p.with_name(p.stem + ".summary.json")


def header_text(procedure: Any) -> str:
    """PyMeasure's header for ``procedure``: Procedure, Parameters, Metadata, Data lines.

    Written the way ``pymeasure.experiment.Results.header`` and ``store_metadata`` write
    it (same escaping, same order), with the metadata already evaluated.
    """
    cls = type(procedure)
    lines = [f"Procedure: <{cls.__module__}.{cls.__qualname__}>", "Parameters:"]
    for parameter in procedure.parameter_objects().values():
        lines.append(f"\t{parameter.name}: {_escape(str(parameter))}")
    metadata = procedure.metadata_objects()
    if metadata:
        lines.append("Metadata:")
        for item in metadata.values():
            lines.append(f"\t{item.name}: {_escape(str(item))}")
    lines.append("Data:")
    return LINE_BREAK.join(COMMENT + line for line in lines) + LINE_BREAK


def format_rows(rows: np.ndarray) -> str:
    """Rows (a structured array, e.g. a labqc.chunk ROW chunk) as the writer puts them in
    the file, no header: the text pandas' ``to_csv(index=False, na_rep="nan")`` writes
    (floats in their shortest repr, True/False, text quoted only where CSV needs it), made
    without pandas (to_csv costs ~1.5 ms a call, which an overnight retention would pay
    once per one-row chunk)."""
    if not len(rows):
        return ""
    names = rows.dtype.names
    texts = [n for n in names if rows.dtype[n].kind in "UO"]
    if any(_needs_quoting(rows[n]) for n in texts) or any(rows.dtype[n].kind == "O" for n in texts):
        return _format_columns(rows)
    return LINE_BREAK.join([",".join(map(str, row)) for row in rows.tolist()]) + LINE_BREAK


def _needs_quoting(column: np.ndarray) -> bool:
    # a set of the few distinct names: np.unique costs ~30 us, a one-row chunk's whole budget
    return any(_must_quote(t) for t in set(map(str, column.tolist())))


def _must_quote(text: str) -> bool:
    """CSV's QUOTE_MINIMAL: a field holding the delimiter, a quote or a line break."""
    return "," in text or '"' in text or "\n" in text or "\r" in text


def _format_columns(rows: np.ndarray) -> str:
    """Column by column, quoting text as CSV does (QUOTE_MINIMAL: a field holding the
    delimiter, a quote or a line break is quoted, its quotes doubled)."""
    columns = []
    for name in rows.dtype.names:
        values = rows[name].tolist()
        if rows.dtype[name].kind in "UO":
            values = ["" if v is None else _quoted(str(v)) for v in values]
        columns.append(map(str, values))
    return LINE_BREAK.join(",".join(row) for row in zip(*columns)) + LINE_BREAK


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if _must_quote(text) else text


def max_row_bytes(columns: tuple[str, ...] = COLUMNS) -> int:
    """Bytes of the widest row :class:`ResultsWriter` writes: every float at full precision
    with a sign and an exponent, the longest segment name, seven-digit counters."""
    widest = {"Compliance": False, "Cycle": 9_999_999, "Pulse": 9_999_999,
              "Segment": max(SEGMENTS, key=len)}
    row = {c: [widest.get(c, -1.2345678901234567e-05)] for c in columns}
    return len(format_rows(_chunk.from_columns(row)).encode(ENCODING))


def estimated_bytes(procedure: Any, rows: int) -> int:
    """At most how large the results file of ``procedure`` grows with ``rows`` rows."""
    columns = tuple(getattr(procedure, "DATA_COLUMNS", None) or COLUMNS)
    head = header_text(procedure) + ",".join(columns) + LINE_BREAK
    return len(head.encode(ENCODING)) + int(rows) * max_row_bytes(columns)


def _escape(text: str) -> str:
    return text.encode("unicode_escape").decode("utf-8")


def select(rows: np.ndarray, columns: tuple[str, ...] = COLUMNS) -> np.ndarray:
    """``rows`` (a structured array, e.g. a labqc.chunk ROW chunk) with exactly ``columns``
    in that order: the array itself when they already are (no copy), else a view of those
    fields. ValueError naming a missing column; TypeError for anything but a structured array."""
    if not (isinstance(rows, np.ndarray) and rows.dtype.names):
        raise TypeError(f"rows must be a structured numpy array (labqc.chunk), not {type(rows).__name__}")
    if rows.dtype.names == tuple(columns):
        return rows
    missing = [c for c in columns if c not in rows.dtype.names]
    if missing:
        raise ValueError(f"the rows lack the column(s) {', '.join(missing)}")
    return rows[list(columns)]


class ResultsWriter:
    """Write one results file chunk by chunk; every I/O error propagates.

    >>> with ResultsWriter("run.csv", procedure) as w:   # header written here
    ...     w.write(rows)                                # one chunk (labqc.chunk), flushed

    ``fsync_interval``: seconds (wall) between fsyncs; the file is also fsync'd at close.
    """

    def __init__(self, path: str | os.PathLike, procedure: Any, *,
                 columns: tuple[str, ...] | None = None, fsync_interval: float = 2.0) -> None:
        self.path = Path(path)
        self.columns = tuple(columns or getattr(procedure, "DATA_COLUMNS", None) or COLUMNS)
        self.fsync_interval = float(fsync_interval)
        self.rows = 0  # rows safely handed to the operating system
        self.chunks = 0
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "x" if not _is_device(self.path) else "w",
                          encoding=ENCODING, newline="")
        self._good_size = 0
        self._last_sync = time.monotonic()
        try:
            self._append(header_text(procedure) + ",".join(self.columns) + LINE_BREAK)
            self._sync()
        except OSError:
            self._file_close_quietly()
            raise

    # ------------------------------------------------------------------ writing
    def write(self, rows: Any) -> int:
        """Append one chunk of rows (a labqc.chunk ROW array, or any structured array with
        the file's columns); flush it; fsync if the interval has passed. Returns the number
        of rows written."""
        rows = select(rows, self.columns)
        if not len(rows):
            return 0
        self._append(format_rows(rows))
        self.rows += len(rows)
        self.chunks += 1
        if time.monotonic() - self._last_sync >= self.fsync_interval:
            self._sync()
        return len(rows)

    def _append(self, text: str) -> None:
        if self._file is None:
            raise ValueError(f"the results file {self.path} is already closed")
        try:
            self._file.write(text)
            self._file.flush()
        except OSError:
            self._cut_back()
            raise
        self._good_size += len(text.encode(ENCODING))

    def _sync(self) -> None:
        try:
            os.fsync(self._file.fileno())
        except OSError as exc:
            # Character devices (e.g. /dev/null) cannot be fsync'd; real files must be.
            if not _is_device(self.path):
                raise exc
        self._last_sync = time.monotonic()

    def _cut_back(self) -> None:
        """After a failed write: drop the partial chunk so the file ends on a whole row."""
        if _is_device(self.path):
            return
        try:
            os.truncate(self.path, self._good_size)
        except OSError:
            pass  # the original error is the one to report

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        """Flush and fsync, then close. Raises the OSError if that fails (once)."""
        f, self._file = self._file, None
        if f is None:
            return
        try:
            f.flush()
            try:
                os.fsync(f.fileno())
            except OSError:
                if not _is_device(self.path):
                    raise
        finally:
            try:
                f.close()
            except OSError:
                pass

    def _file_close_quietly(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass

    @property
    def closed(self) -> bool:
        return self._file is None

    def __enter__(self) -> "ResultsWriter":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:
            self._file_close_quietly()


def _is_device(path: Path) -> bool:
    return str(path).startswith("/dev/")


# ---------------------------------------------------------------------- reading
def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The header of a results file: {"procedure": "module.Class", "parameters": {name:
    text}, "metadata": {name: text}, "header_lines": n} (values as written, units kept)."""
    out: dict[str, Any] = {"procedure": "", "parameters": {}, "metadata": {}, "header_lines": 0}
    section = None
    with open(path, encoding=ENCODING) as f:
        for line in f:
            if not line.startswith(COMMENT):
                break
            out["header_lines"] += 1
            body = line[1:].rstrip("\n\r")
            if body.startswith("Procedure:"):
                m = re.search(r"<([^>]+)>", body)
                out["procedure"] = m.group(1) if m else ""
            elif body.startswith("Parameters:"):
                section = "parameters"
            elif body.startswith("Metadata:"):
                section = "metadata"
            elif body.startswith("Data:"):
                section = None
            elif body.startswith("\t") and section:
                name, sep, value = body[1:].partition(": ")
                if sep:
                    out[section][name] = value
    return out


def read_data(path: str | os.PathLike) -> "pd.DataFrame":
    """The table of a results file as a DataFrame (Compliance as bool, Segment as str).

    A file that a run has only just created (empty, or its header not yet complete) reads
    as a table without rows, not as an error: readers poll files that are being written.
    """
    import pandas as pd  # only here: a run writes its file without pandas

    try:
        frame = pd.read_csv(path, comment=COMMENT, encoding=ENCODING)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    if "Segment" in frame.columns:
        frame["Segment"] = frame["Segment"].astype(str)
    return frame


def write_summary(data_path: str | os.PathLike, summary: Mapping[str, Any]) -> Path:
    """Write the run's summary next to its data file (atomically: temp file, rename)."""
    target = summary_path(data_path)
    tmp = target.with_name(target.name + ".tmp")
    text = json.dumps(jsonable(summary), indent=2, allow_nan=False) + "\n"
    with open(tmp, "w", encoding=ENCODING) as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    return target


def read_summary(data_path: str | os.PathLike) -> dict[str, Any]:
    """The summary written next to ``data_path`` (NaN comes back as None)."""
    with open(summary_path(data_path), encoding=ENCODING) as f:
        return json.load(f)


def jsonable(value: Any) -> Any:
    """numpy scalars/arrays to plain Python; NaN and inf to None (JSON has neither)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value
