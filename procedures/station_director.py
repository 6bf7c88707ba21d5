"""The director's side of `labqc lab`: ask stations, and keep the lab's central run list.

    with LabDirector("alice", "127.0.0.1", 12300, lab_dir="lab") as lab:
        lab.status()                          # every station: idle/running/offline, queue, run
        lab.call("probe2", "submit_plan", text=..., source="tonight.toml")
        lab.pull_runs()                       # each reachable station's catalog, merged
        lab.central.runs(station=["probe2"])  # the merged list, with a `station` field

Stations are found at the coordinator (its list of signed-in components) and remembered in
the lab folder's ``lab.sqlite``, so that one that stopped answering is still listed, as
offline. That file is the central run list: rows pulled from each station's own catalog,
read-only copies (nothing is ever written back to a station). It is SQLite, so it belongs
on a local disk of the director's computer, never on a network share.
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from pyleco.core.message import Message, MessageTypes
from pyleco.json_utils.errors import NODE_UNKNOWN, RECEIVER_UNKNOWN, JSONRPCError
from pyleco.utils.communicator import Communicator

#: Seconds a known station gets to answer before it counts as offline.
ANSWER_S = 2.0
#: Seconds to wait for the coordinator's port to accept a connection.
PROBE_S = 1.0
LAB_DB = "lab.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS components (name TEXT PRIMARY KEY, station INTEGER NOT NULL, seen REAL);
CREATE TABLE IF NOT EXISTS runs (
    station TEXT NOT NULL COLLATE NOCASE, id INTEGER NOT NULL,
    sample TEXT COLLATE NOCASE, device TEXT COLLATE NOCASE, procedure TEXT COLLATE NOCASE,
    status TEXT, started REAL, record TEXT NOT NULL, PRIMARY KEY (station, id))
"""


class LabError(RuntimeError):
    """A station refused or could not be reached; the message is one sentence."""


def lab_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The director's lab folder: ``explicit``, else $LABQC_LAB, else ~/.labqc/lab."""
    return Path(explicit or os.environ.get("LABQC_LAB") or Path.home() / ".labqc" / "lab")


class CentralRuns:
    """The lab's merged run list (one SQLite file on the director's computer)."""

    def __init__(self, path: str | os.PathLike) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
        self.db.executescript(_SCHEMA)
        self.db.execute("PRAGMA synchronous = NORMAL")  # a copy: the stations' catalogs are the record

    def close(self) -> None:
        self.db.close()

    def replace_station(self, station: str, rows: list[dict]) -> None:
        """A station's rows as it gave them now (its catalog is the truth; this is a copy)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("DELETE FROM runs WHERE station = ?", (station,))
            self.db.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
                (station, r["id"], r.get("sample") or "", r.get("device") or "", r.get("procedure") or "",
                 r.get("status") or "", _epoch(r.get("started")), json.dumps({**r, "station": station}))
                for r in rows])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def runs(self, *, station: Sequence[str] = (), sample: Sequence[str] = (), device: Sequence[str] = (),
             procedure: Sequence[str] = (), status: Sequence[str] = (), since: float | None = None,
             until: float | None = None) -> list[dict]:
        """Rows matching every filter given (a list: any of its values), oldest first."""
        where, args = [], []
        for column, values in (("station", station), ("sample", sample), ("device", device),
                               ("procedure", procedure), ("status", status)):
            if values:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                args += list(values)
        if since is not None:
            where.append("started >= ?")
            args.append(since)
        if until is not None:
            where.append("started <= ?")
            args.append(until)
        sql = "SELECT record FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "")
        return [json.loads(r[0]) for r in self.db.execute(sql + " ORDER BY started, station, id", args)]

    def components(self) -> dict[str, bool]:
        return {name: bool(station) for name, station in self.db.execute("SELECT name, station FROM components")}

    def remember(self, kinds: dict[str, bool]) -> None:
        """Which names are stations, in one transaction, only what changed (a status is often asked)."""
        known = self.components()
        changed = [(n, int(s), time.time()) for n, s in kinds.items() if known.get(n) != s]
        if changed:
            self.db.executemany("INSERT OR REPLACE INTO components VALUES (?, ?, ?)", changed)


class LabDirector:
    """A PyLECO director (a Communicator under the given name) for the stations of one lab."""

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 12300,
                 lab: str | os.PathLike | None = None, timeout: float = ANSWER_S) -> None:
        self.timeout = timeout
        why = _no_listener(host, port)
        if why:
            raise LabError(why)
        self.central = CentralRuns(lab_dir(lab) / LAB_DB)
        self.comm = Communicator(name=name, host=host, port=port, timeout=timeout)
        try:
            self.comm.sign_in()
        except (TimeoutError, ConnectionRefusedError):  # PyLECO's words for "no" and "no answer"
            pass
        if self.comm.namespace is None:
            self.close()
            raise LabError(f"no coordinator answered at {host}:{port} (start one with `labqc lab coordinator`), "
                           f"or the name {name!r} is in use there")

    def close(self) -> None:
        self.comm.close()
        self.central.close()

    def __enter__(self) -> "LabDirector":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ one station
    def call(self, station: str, method: str, timeout: float | None = None, **params: Any) -> Any:
        """One RPC call; LabError with the station's own sentence when it refuses."""
        try:
            return self.comm.ask_rpc(station, method, timeout=timeout or self.timeout, **params)
        except TimeoutError:
            raise LabError(f"station {station} did not answer within {timeout or self.timeout:g} s "
                           f"(offline?)") from None
        except JSONRPCError as exc:
            raise LabError(_sentence(station, exc)) from None

    # ------------------------------------------------------------------ every station
    def signed_in(self) -> list[str]:
        names = self.comm.ask_rpc(b"COORDINATOR", "send_local_components", timeout=self.timeout)
        return [n for n in names if n != self.comm.name and n != "COORDINATOR"]

    def status(self, stations: Sequence[str] = ()) -> list[dict]:
        """Every station (those named, those the coordinator lists, those seen before):
        its status, or ``{"name", "state": "offline"}``; sorted by name. All are asked at
        once; the wait ends when every station expected has answered."""
        known = self.central.components()
        present = set(self.signed_in())
        expected = {n for n, is_station in known.items() if is_station} | set(stations)
        asked = {}
        for name in sorted(present | set(stations)):
            request = self.comm.rpc_generator.build_request_str(method="station_status")
            message = Message(name, data=request, message_type=MessageTypes.JSON)
            asked[message.conversation_id] = name
            self.comm.send_message(message)
        # the others (other directors) are asked too, but not waited for: they never answer
        waiting = {name for name in asked.values() if name in expected or name not in known}
        answers: dict[str, dict] = {}
        deadline = time.monotonic() + self.timeout
        while waiting and (left := deadline - time.monotonic()) > 0:
            try:
                reply = self.comm.read_message(timeout=left)
            except TimeoutError:
                break
            name = asked.get(reply.conversation_id)
            if name is None:
                continue
            waiting.discard(name)
            try:
                answers[name] = self.comm.interpret_rpc_response(reply)
            except JSONRPCError:
                continue  # not a station (or unknown to the coordinator)
        # no answer as a station: not waited for again
        self.central.remember({name: name in answers for name in asked.values()
                               if name in answers or name not in expected})
        names = sorted(set(answers) | expected)
        return [answers.get(n) or {"name": n, "state": "offline", "queue": None, "current": None}
                for n in names]

    def pull_runs(self, stations: Sequence[str] = ()) -> list[str]:
        """Copy each reachable station's catalog into the central list; the stations that
        could not be reached (their rows stay as last pulled)."""
        unreachable = []
        for entry in self.status(stations):
            if entry["state"] == "offline":
                unreachable.append(entry["name"])
                continue
            try:
                rows = self.call(entry["name"], "station_runs")
            except LabError:
                unreachable.append(entry["name"])
                continue
            self.central.replace_station(entry["name"], rows)
        return unreachable


def _no_listener(host: str, port: int, timeout: float = PROBE_S) -> str:
    """Why nothing can be a coordinator at host:port, or "" when something listens there.

    ZeroMQ connects lazily and PyLECO's sign-in only gives up after its answer timeout
    (then waits as long again to sign out): with no coordinator running, `labqc lab
    status` would take ~4 s to say so. A plain TCP connection is refused at once on a
    computer where nothing listens (and gives up after ``timeout`` elsewhere)."""
    start = "start one with `labqc lab coordinator`, or name another with --coordinator HOST:PORT"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return ""
    except ConnectionRefusedError:
        return f"no coordinator at {host}:{port} ({start})"
    except socket.timeout:
        return f"no coordinator answered at {host}:{port} within {timeout:g} s ({start})"
    except OSError as exc:  # an unknown host name, no route, ...
        return f"cannot reach a coordinator at {host}:{port}: {exc.strerror or exc} ({start})"


def _sentence(station: str, exc: JSONRPCError) -> str:
    error = exc.rpc_error
    data = error.data if isinstance(error.data, str) else ""
    if data and ": " in data:  # "PermissionError: ..." as the station raised it
        return f"station {station}: {data.split(': ', 1)[1]}"
    if error.code in (RECEIVER_UNKNOWN.code, NODE_UNKNOWN.code):
        return f"station {station} is not signed in at the coordinator (offline, or misspelt?)"
    return f"station {station}: {error.message}" + (f" ({error.data})" if error.data else "")


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


__all__ = ["LabDirector", "LabError", "CentralRuns", "lab_dir", "ANSWER_S"]
