"""The append-only journal of a plan's run directory: one JSON object per line, each
line flushed and fsync'd before the runner goes on, so that after a crash (kill -9, a
power cut) the journal says exactly which step runs were completed.

Events (every record has "event", "id" where it concerns a run, and "time", UTC):

    plan     the plan started in this directory (name, digest, runs)
    start    a run's attempt began, writing "file"
    end      the attempt ended: "status" finished|failed|aborted, "rows", "error", and
             "final" (true: the run is done with, whatever its status)
    partial  an attempt that never ended (killed): its file was kept, renamed "kept_as"
    skip     the run will not be done: "reason" (a stop condition, a skipped device)

A torn last line (the process died while writing it) is ignored when reading and cut
off before the next append, so the journal always stays one valid record per line.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

JOURNAL_NAME = "journal.jsonl"


class Journal:
    """Append records to, and read them back from, one journal file."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    # ------------------------------------------------------------------ writing
    def append(self, event: str, **fields: Any) -> dict:
        """Write one record and fsync it; OSError propagates (a journal must not lie)."""
        record = {"event": event, **fields,
                  "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
        line = json.dumps(record, allow_nan=False, default=str) + "\n"
        self._cut_torn_tail()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            data = line.encode("utf-8")
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write to the journal {self.path} ({written} of {len(data)} bytes)")
            os.fsync(fd)
        finally:
            os.close(fd)
        return record

    def _cut_torn_tail(self) -> None:
        """Drop a last line without its newline (left by a crash mid-write)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0:
            return
        with open(self.path, "rb+") as f:
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            f.seek(0)
            data = f.read()
            keep = data.rfind(b"\n") + 1
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())

    # ------------------------------------------------------------------ reading
    def records(self) -> Iterator[dict]:
        """Every complete, readable record in order (a torn or garbled line is skipped)."""
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(record, dict) and "event" in record:
                yield record

    def state(self) -> "JournalState":
        return JournalState.from_records(self.records())


@dataclass
class RunState:
    """What the journal knows about one run."""

    attempts: int = 0  # attempts started
    open_attempt: dict | None = None  # a start without its end (killed mid-run)
    final: dict | None = None  # the end or skip record that closed the run
    ends: list[dict] = field(default_factory=list)
    partials: list[dict] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.final is not None

    @property
    def status(self) -> str:
        if self.final is not None:
            return "skipped" if self.final["event"] == "skip" else self.final["status"]
        if self.open_attempt is not None:
            return "interrupted"
        if self.ends:
            return self.ends[-1]["status"]
        return "pending"


@dataclass
class JournalState:
    plan: dict | None = None
    runs: dict[str, RunState] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records) -> "JournalState":
        state = cls()
        for r in records:
            event = r["event"]
            if event == "plan":
                state.plan = state.plan or r
                continue
            run = state.runs.setdefault(r.get("id", ""), RunState())
            if event == "start":
                run.attempts += 1
                run.open_attempt = r
            elif event == "end":
                run.open_attempt = None
                run.ends.append(r)
                if r.get("final"):
                    run.final = r
            elif event == "partial":
                run.open_attempt = None
                run.partials.append(r)
            elif event == "skip":
                run.final = r
        return state

    def run(self, run_id: str) -> RunState:
        return self.runs.get(run_id, RunState())


__all__ = ["Journal", "JournalState", "RunState", "JOURNAL_NAME"]
