"""The run catalog: one SQLite row per run, an index over the results files.

    cat = Catalog("results/catalog.sqlite")
    run_id = cat.register(procedure="CurrentSweep", device="NW1", file="results/a.csv", ...)
    cat.complete(run_id, status="finished", rows=1004, sha256="...", summary={...})
    cat.runs(device=["NW1", "NW2"], procedure=["CurrentSweep"], since=...)   # list of dicts

The CSV stays the raw record; the catalog can always be rebuilt from the files
(:func:`labqc.catalog_files.import_directory`). It lives on local disk in WAL mode, so the
GUI and a plan may write it at the same time (each write is one short IMMEDIATE
transaction; a writer waits up to ``timeout`` seconds for the other). A process killed
mid-write leaves the last committed state: SQLite's journal makes every write whole or
absent. Every failure to open or write it is a :class:`CatalogError` whose message is one
sentence; the code that measures catches it and goes on (the catalog is never a reason to
lose data).

File paths inside the catalog's folder are stored relative to it (a catalog can be moved
with its results); others are stored absolute. Times are POSIX seconds (UTC).
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

# The table, its values and errors are re-exported: callers import them from labqc.catalog.
from labqc.catalog_schema import (ABORTED, CATALOG_NAME, ENV_VAR, FAILED, FIELDS, FINISHED,  # noqa: F401
                                  JSON_FIELDS, LIST_FIELDS, RUNNING, SCHEMA, SCHEMA_VERSION, STATUSES, STUCK,
                                  CatalogError, catalog_error, catalog_path, iso, now, parse_time,
                                  read_only_error, row_values)


class Catalog:
    """One catalog file. Opening creates it (and its folder) unless ``create`` is False."""

    def __init__(self, path: str | os.PathLike, *, create: bool = True, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.root = self.path.resolve().parent
        self.timeout = float(timeout)
        if not create and not self.path.is_file():
            raise CatalogError(f"there is no run catalog at {self.path}; make one with "
                               f"`labqc runs import DIR --catalog {self.path}`")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None,
                                      check_same_thread=False)  # shared() serialises the threads
        except (OSError, sqlite3.Error) as exc:
            raise catalog_error(self.path, exc) from None
        try:
            self._prepare(create)
        except (OSError, sqlite3.Error) as exc:
            self.db.close()
            if create or not read_only_error(exc):
                raise catalog_error(self.path, exc) from None
            self._open_read_only(exc)

    def _open_read_only(self, first: BaseException) -> None:
        """A catalog on a read-only disk can still be listed: WAL mode needs to write its
        index file, which immutable=1 (nobody writes there anyway) does without."""
        try:
            uri = self.path.resolve().as_uri() + "?immutable=1"
            self.db = sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("SELECT COUNT(*) FROM runs").fetchone()
        except sqlite3.Error:
            raise catalog_error(self.path, first) from None

    def _prepare(self, create: bool) -> None:
        self.db.row_factory = sqlite3.Row
        self.db.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        # Per connection: in WAL mode NORMAL is safe against a killed process (only power
        # loss can drop the latest commits, and the files rebuild them) and spares an fsync
        # per commit.
        self.db.execute("PRAGMA synchronous = NORMAL")
        version = self.db.execute("PRAGMA user_version").fetchone()[0]  # reads the header: corrupt -> error
        if not version and not create:
            version = self._wait_for_creator()
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"it was written by a newer labqc (schema {version})")
        if not create:
            raise sqlite3.DatabaseError("it holds no runs table")
        # WAL: readers never block the writer and a killed writer leaves the last commit.
        self._set_wal()
        with self.write():
            for statement in filter(str.strip, SCHEMA.split(";")):
                self.db.execute(statement)  # not executescript: it would commit halfway
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _wait_for_creator(self, young_s: float = 30.0, longest_s: float = 5.0) -> int:
        """The schema version once a process creating this catalog has written it. The file
        exists before its table does (a few ms, longer on a busy machine), so a reader that
        opens a file made in the last ``young_s`` seconds waits for the table as a writer
        would, up to ``longest_s``; an older file without it is refused at once."""
        deadline = time.monotonic() + min(self.timeout, longest_s)
        while True:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            try:
                young = time.time() - self.path.stat().st_mtime < young_s
            except OSError:
                young = False
            if version or not young or time.monotonic() > deadline:
                return version
            time.sleep(0.05)

    def _set_wal(self) -> None:
        """Switch to WAL. SQLite answers "locked" at once, without its busy wait, when another
        process creates the same new catalog at this moment, so wait here as a writer would."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def write(self) -> "_Write":
        """A write transaction (BEGIN IMMEDIATE: waits for another writer, then holds it)."""
        return _Write(self)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ paths
    def stored_path(self, file: str | os.PathLike) -> str:
        """How ``file`` is stored: relative to the catalog's folder when inside it."""
        p = Path(os.path.abspath(file))
        try:
            return p.relative_to(self.root).as_posix()
        except ValueError:
            return str(p)

    def file_path(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.root / p

    # ------------------------------------------------------------------ writing
    def register(self, **fields: Any) -> int:
        """Add one run (``file`` required; status running unless given); its id."""
        row = row_values(fields)
        row["file"] = self.stored_path(fields["file"])
        row.setdefault("status", RUNNING)
        cols = ", ".join(row)
        with self.write():
            # A new file where a catalogued one was (deleted, then the same -o again): the
            # old run keeps its row, marked, and `labqc runs verify` reports its file missing.
            self._execute("UPDATE runs SET file = file || ' (replaced ' || ? || ')' WHERE file = ?",
                          [iso(now()), row["file"]])
            cur = self._execute(f"INSERT INTO runs ({cols}) VALUES ({', '.join('?' * len(row))})",
                                list(row.values()))
        return int(cur.lastrowid)

    def register_many(self, records: Iterable[dict[str, Any]]) -> int:
        """Add runs whose file is not catalogued yet, in one transaction; how many were new."""
        added = 0
        with self.write():
            for fields in records:
                row = row_values(fields)
                row["file"] = self.stored_path(fields["file"])
                row.setdefault("status", RUNNING)
                cur = self._execute(f"INSERT OR IGNORE INTO runs ({', '.join(row)}) "
                                    f"VALUES ({', '.join('?' * len(row))})", list(row.values()))
                added += cur.rowcount
        return added

    def complete(self, run_id: int, **fields: Any) -> None:
        """Update a run's columns (status, finished, rows, sha256, summary, error...)."""
        row = row_values(fields)
        if "file" in row:
            row["file"] = self.stored_path(row["file"])
        if not row:
            return
        with self.write():
            cur = self._execute(f"UPDATE runs SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?",
                                [*row.values(), int(run_id)])
        if cur.rowcount != 1:
            raise CatalogError(f"the run catalog {self.path} has no run {run_id}")

    def _execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, args)
        except sqlite3.Error as exc:
            raise catalog_error(self.path, exc) from None

    # ------------------------------------------------------------------ reading
    def runs(self, *, sample: Sequence[str] = (), device: Sequence[str] = (),
             procedure: Sequence[str] = (), status: Sequence[str] = (), since: float | None = None,
             until: float | None = None, ids: Sequence[int] = (), full: bool = False) -> list[dict]:
        """Runs matching every filter given (a list means any of its values), oldest first."""
        where, args = [], []
        for column, values in (("sample", sample), ("device", device), ("procedure", procedure),
                               ("status", status), ("id", ids)):
            values = [values] if isinstance(values, (str, int)) else list(values)
            if values:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                args += values
        if since is not None:
            where.append("started >= ?")
            args.append(float(since))
        if until is not None:
            where.append("started <= ?")
            args.append(float(until))
        cols = "*" if full else ", ".join(LIST_FIELDS)
        sql = f"SELECT {cols} FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = self._execute(sql + " ORDER BY started, id", args).fetchall()
        return [self._dict(r) for r in rows]

    def get(self, run_id: int) -> dict | None:
        rows = self.runs(ids=[int(run_id)], full=True)
        return rows[0] if rows else None

    def id_of(self, file: str | os.PathLike) -> int | None:
        row = self._execute("SELECT id FROM runs WHERE file = ?", [self.stored_path(file)]).fetchone()
        return None if row is None else int(row[0])

    def known_files(self) -> set[str]:
        return {r[0] for r in self._execute("SELECT file FROM runs").fetchall()}

    def count(self) -> int:
        return int(self._execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def distinct(self, column: str) -> list[str]:
        """The values one text column takes (for the GUI's filter lists)."""
        if column not in ("sample", "device", "procedure", "operator", "status"):
            raise ValueError(f"no such column {column!r}")
        return [r[0] for r in self._execute(f"SELECT DISTINCT {column} FROM runs ORDER BY {column}")]

    def _dict(self, row: sqlite3.Row) -> dict:
        out = dict(row)
        for key in JSON_FIELDS:
            if key in out:
                try:
                    out[key] = json.loads(out[key] or "{}")
                except ValueError:
                    pass  # shown as stored
        out["path"] = str(self.file_path(out["file"]))
        return out


_SHARED: dict[tuple[str, int], Catalog] = {}
SHARED_LOCK = threading.RLock()
_MAX_SHARED = 4


def shared(path: str | os.PathLike) -> Catalog:
    """This process's open connection to the catalog at ``path`` (opened on first use).

    Opening a WAL catalog creates its -wal and -shm files and closing the last connection
    checkpoints and deletes them: ~8 ms each time against ~0.1 ms for a write on an open
    connection. Runs therefore register through one connection per process (per catalog),
    used under SHARED_LOCK by whichever thread runs the measurement."""
    key = (os.path.abspath(path), os.getpid())  # a forked child opens its own
    with SHARED_LOCK:
        cat = _SHARED.get(key)
        if cat is None:
            if len(_SHARED) >= _MAX_SHARED:  # a process that wrote to many catalogs keeps the latest
                forget(next(iter(_SHARED))[0])
            cat = _SHARED[key] = Catalog(path)
        return cat


def forget(path: str | os.PathLike) -> None:
    """Drop the shared connection to ``path`` (after an error: the next use reopens it)."""
    with SHARED_LOCK:
        cat = _SHARED.pop((os.path.abspath(path), os.getpid()), None)
        if cat is not None:
            try:
                cat.close()
            except sqlite3.Error:
                pass


class _Write:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def __enter__(self) -> None:
        self.catalog._execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        db = self.catalog.db
        if exc_type is None:
            self.catalog._execute("COMMIT")
        elif db.in_transaction:
            db.execute("ROLLBACK")


__all__ = ["Catalog", "CatalogError", "catalog_path", "shared", "forget", "SHARED_LOCK", "CATALOG_NAME", "ENV_VAR", "STATUSES", "RUNNING",
           "FINISHED", "ABORTED", "FAILED", "STUCK", "iso", "parse_time", "now", "FIELDS", "LIST_FIELDS"]
