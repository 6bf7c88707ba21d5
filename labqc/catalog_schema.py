"""The run catalog's table and what goes into it: the columns, the statuses a run takes,
where the catalog file is, times as stored and shown, one row's values checked and
encoded, and one sentence for each way the file can fail (:class:`CatalogError`).
labqc.catalog opens the file and reads and writes it.
"""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

CATALOG_NAME = "catalog.sqlite"
ENV_VAR = "LABQC_CATALOG"
RUNNING, FINISHED, ABORTED, FAILED, STUCK = "running", "finished", "aborted", "failed", "stuck"
STATUSES = (RUNNING, FINISHED, ABORTED, FAILED, STUCK)
SCHEMA_VERSION = 1

#: Text columns searched without regard to case (NW1 = nw1).
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sample TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    device TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    operator TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    procedure TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    parameters TEXT NOT NULL DEFAULT '{}',
    instrument TEXT NOT NULL DEFAULT '',
    started REAL,
    finished REAL,
    status TEXT NOT NULL DEFAULT 'running',
    rows INTEGER NOT NULL DEFAULT 0,
    file TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '{}',
    error TEXT NOT NULL DEFAULT '',
    plan TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL DEFAULT '',
    pid INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_device ON runs (device, started);
CREATE INDEX IF NOT EXISTS runs_sample ON runs (sample, started);
CREATE INDEX IF NOT EXISTS runs_procedure ON runs (procedure, started);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
"""
#: Columns a caller may set (id is the catalog's).
FIELDS = ("sample", "device", "operator", "note", "procedure", "parameters", "instrument", "started",
          "finished", "status", "rows", "file", "sha256", "summary", "error", "plan", "host", "pid")
#: Columns of a listing (the JSON columns parameters and summary only for one run).
LIST_FIELDS = ("id", "sample", "device", "operator", "note", "procedure", "instrument", "started",
               "finished", "status", "rows", "file", "sha256", "error", "plan", "host", "pid")
JSON_FIELDS = ("parameters", "summary")


class CatalogError(Exception):
    """The catalog cannot be opened, read or written; the message is one sentence."""


def catalog_path(explicit: str | os.PathLike | None = None, *,
                 beside: str | os.PathLike | None = None) -> Path:
    """Which catalog: ``explicit`` (a file, or a folder holding catalog.sqlite: one that
    exists or a name without a suffix), else $LABQC_CATALOG, else catalog.sqlite in
    ``beside`` (the results folder), else results/catalog.sqlite."""
    for choice in (explicit, os.environ.get(ENV_VAR) or None):
        if choice:
            p = Path(choice)
            return p / CATALOG_NAME if p.is_dir() or not p.suffix else p
    return Path(beside if beside is not None else "results") / CATALOG_NAME


def now() -> float:
    return time.time()


def iso(t: float | None) -> str:
    """POSIX seconds as ISO 8601 UTC ('' for None)."""
    if t is None:
        return ""
    return datetime.fromtimestamp(float(t), timezone.utc).isoformat(timespec="seconds")


def parse_time(text: str, *, end_of_day: bool = False) -> float:
    """A date or date-time (ISO 8601; local time unless it names an offset) as POSIX
    seconds. A bare date with ``end_of_day`` means the end of that day. ValueError says why."""
    text = text.strip()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM)") from None
    if end_of_day and len(text) == 10:
        value = value.replace(hour=23, minute=59, second=59, microsecond=999_999)
    return value.timestamp()  # a naive value is taken as local time


def row_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Column values as stored: known columns only, JSON columns encoded, text as text, a
    status one of STATUSES (ValueError says which is wrong)."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"the catalog has no column(s) {', '.join(sorted(unknown))}")
    row = {}
    for key, value in fields.items():
        if key in JSON_FIELDS and not isinstance(value, str):
            from labqc.results import jsonable  # here: results imports pandas, the catalog's readers need none

            value = json.dumps(jsonable(value), allow_nan=False, default=str)
        elif key in ("sample", "device", "operator", "note", "procedure", "instrument", "error", "plan"):
            value = "" if value is None else str(value)
        row[key] = value
    if "status" in row and row["status"] not in STATUSES:
        raise ValueError(f"a run's status is one of {', '.join(STATUSES)}, not {row['status']!r}")
    return row


def read_only_error(exc: BaseException) -> bool:
    """Whether SQLite's error says the file or its folder cannot be written."""
    low = str(exc).lower()
    return "readonly" in low or "read-only" in low or "unable to open" in low


def catalog_error(path: Path, exc: BaseException) -> CatalogError:
    """One sentence for what went wrong with the catalog file."""
    text = str(exc)
    low = text.lower()
    if "readonly" in low or "read-only" in low or isinstance(exc, PermissionError) or (
            "unable to open" in low and not os.access(path.parent if path.parent.exists() else ".", os.W_OK)):
        why = "it is on a read-only disk or folder"
    elif "not a database" in low or "malformed" in low or "corrupt" in low:
        why = "the file is not a readable SQLite catalog (corrupt?); move it aside and " \
              "`labqc runs import` rebuilds it from the results files"
    elif "locked" in low or "busy" in low:
        why = "another process kept it locked too long"
    elif "disk" in low and "full" in low:
        why = "the disk is full"
    else:
        why = text
    return CatalogError(f"the run catalog {path} cannot be used: {why}")
