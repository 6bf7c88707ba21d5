"""One station: an instrument, a queue of plans, a journal per plan and a local catalog.

    station = Station("probe2", home="stations/probe2", preset="bfo")   # or resource="GPIB0::26::INSTR"
    station.start()                        # the worker thread; resumes what a crash left
    entry = station.submit(plan_text, "tonight.toml", by="alice")
    station.status()                       # state, queue, current run, progress, ETA
    station.abort()                        # outputs off, the queue emptied
    station.close()

Everything runs through the plan runner (procedures/plan_runner.py): a submitted plan gets
a run directory under ``home/plans`` with its journal, and a single run (``run_one``) is a
one-step plan. The queue lives in ``home/queue.json`` (written atomically), so a station
killed mid-plan resumes that plan from its journal when it starts again, and a coordinator
restart loses nothing. Every device of a plan is measured on the station's one instrument.
This module knows nothing of the network: procedures/station_actor.py puts it behind a
PyLECO actor.
"""
from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from labqc.catalog import Catalog, CatalogError
from labqc.instruments.target import Target
from labqc.plan import PlanError, StepRun, parse_plan
from labqc.procedures.plan_runner import estimate, open_plan, run_plan, start_plan
from labqc.procedures.runner import ABORTED
from labqc.procedures.spec import SPECS, text_of
from labqc.procedures.stand_in import STAND_INS, device_model
from labqc.runs_cli import as_json

QUEUE_NAME = "queue.json"
CATALOG_NAME = "catalog.sqlite"
QUEUED, RUNNING, CANCELLED = "queued", "running", "cancelled"
#: A chunk listener: (topic, payload) as the runner gives them (labqc.procedures.runner.Listener).
ChunkListener = Callable[[str, Any], None]


class StationError(ValueError):
    """A request the station refuses; the message is one sentence (or a plan's problems)."""


class Station:
    """A queue of plans run one at a time on one instrument (see the module docstring)."""

    def __init__(self, name: str, home: str | os.PathLike, *, resource: str = "", preset: str = "",
                 model: str | None = None, listeners: list[ChunkListener] | None = None) -> None:
        if not resource and not preset:
            raise StationError("a station needs its instrument: a VISA resource or a simulated device")
        self.name = name
        self.home = Path(home)
        self.resource, self.preset, self.model = resource, preset, model
        self.listeners = list(listeners or [])
        (self.home / "plans").mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.queue: list[dict] = self._load_queue()
        self.wake = threading.Event()
        self.aborting = threading.Event()  # a director's abort: this plan ends, the queue is emptied
        self.closing = threading.Event()   # the station shuts down: the plan resumes next time
        self.progress: dict | None = None
        self.thread: threading.Thread | None = None

    # ------------------------------------------------------------------ the instrument
    def target_of(self, run: StepRun, time_scale: float) -> Target:
        """Where a plan's run is measured: the station's instrument, whatever its device names."""
        if self.preset:
            model = device_model(run.device) or "2614B"
            return Target(STAND_INS.get(model, ""), self.preset, run.device.seed, time_scale,
                          model=model if model in STAND_INS else None)
        return Target(self.resource, "", 0, 0.0, model=self.model or run.device.model or None)

    @property
    def catalog(self) -> Path:
        return self.home / CATALOG_NAME

    # ------------------------------------------------------------------ requests
    def submit(self, text: str, source: str, by: str = "") -> dict:
        """Queue a plan given as TOML text; StationError lists its problems (nothing is queued)."""
        try:
            plan = parse_plan(text, SPECS, source=source)
        except PlanError as exc:
            raise StationError(str(exc)) from None
        with self.lock:
            number = max((e["id"] for e in self.queue), default=0) + 1
            directory = self.home / "plans" / f"{number:04d}-{_safe(plan.name)}"
            plan_file = directory.with_name(directory.name + ".toml")
            plan_file.write_text(text, encoding="utf-8")
            try:
                start_plan(plan_file, directory, check_instruments=False)
            except PlanError as exc:
                raise StationError(str(exc)) from None
            entry = {"id": number, "plan": plan.name, "source": source, "directory": str(directory),
                     "state": QUEUED, "by": by, "submitted": _now(), "runs": len(plan.runs), "message": ""}
            self.queue.append(entry)
            self._save_queue()
        self.wake.set()
        return dict(entry)

    def run_one(self, procedure: str, parameters: dict[str, Any], by: str = "") -> dict:
        """Queue one run of ``procedure`` (a one-step plan); StationError on bad input."""
        try:
            name = SPECS.lookup(procedure)
        except (KeyError, ValueError) as exc:
            raise StationError(str(exc).strip("'\"")) from None
        lines = ["[plan]", f'name = "{name}"', "", "[[device]]", f'label = "{_safe(self.name)}"', "",
                 "[[step]]", f'name = "{name.lower()}"', f'procedure = "{name}"', "[step.parameters]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in parameters.items()]
        return self.submit("\n".join(lines) + "\n", f"{name} (run)", by)

    def abort(self) -> dict:
        """Stop the running plan (the runner turns the outputs off) and cancel what waits."""
        with self.lock:
            cancelled = 0
            for entry in self.queue:
                if entry["state"] == QUEUED:
                    entry["state"], entry["message"] = CANCELLED, "cancelled by an abort"
                    cancelled += 1
            running = any(e["state"] == RUNNING for e in self.queue)
            if running:
                self.aborting.set()
            self._save_queue()
        return {"aborted": running, "cancelled": cancelled}

    # ------------------------------------------------------------------ status
    def status(self) -> dict:
        """State (idle/running), queue length, the current plan and run, progress, ETA."""
        with self.lock:
            current = next((dict(e) for e in self.queue if e["state"] == RUNNING), None)
            waiting = [dict(e) for e in self.queue if e["state"] == QUEUED]
            progress = dict(self.progress) if self.progress else None
        out: dict[str, Any] = {"name": self.name, "state": "running" if current else "idle",
                               "queue": len(waiting), "instrument": self.resource or f"simulated {self.preset}",
                               "current": None, "waiting": [_short(e) for e in waiting]}
        if current:
            out["current"] = {**_short(current), **self._plan_progress(Path(current["directory"]), progress)}
        return out

    def current_run(self) -> dict:
        """The plan, run and procedure being measured now (for a live chunk's header)."""
        current = self.status()["current"] or {}
        return {"plan": current.get("plan", ""), "plan_run": current.get("run", ""),
                "procedure": current.get("procedure", "")}

    def _plan_progress(self, directory: Path, progress: dict | None) -> dict:
        try:
            plan, journal = open_plan(directory)
        except PlanError:
            return {}
        state = journal.state()
        left = [r for r in plan.runs if not state.run(r.id).done]
        run = left[0] if left else None
        run_left = progress["eta_s"] if progress else 0.0
        later = sum(estimate(r) for r in left[1:])
        return {"run": run.id if run else "", "procedure": run.procedure if run else "",
                "runs_done": len(plan.runs) - len(left), "runs_total": len(plan.runs),
                "progress": progress["fraction"] if progress else 0.0,
                "eta_instrument_s": round(run_left + later, 3)}

    def runs(self) -> list[dict]:
        """The station's catalog as `labqc runs list --json` gives it (oldest first)."""
        if not self.catalog.is_file():
            return []
        try:
            with Catalog(self.catalog, create=False) as cat:
                return [as_json(r) for r in cat.runs()]
        except CatalogError:
            return []

    # ------------------------------------------------------------------ the worker
    def start(self) -> None:
        self.thread = threading.Thread(target=self._work, name=f"station {self.name}", daemon=True)
        self.thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the worker; a running plan stops (outputs off) and resumes at the next start."""
        self.closing.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def _next(self) -> dict | None:
        with self.lock:
            return next((e for e in self.queue if e["state"] in (QUEUED, RUNNING)), None)

    def _work(self) -> None:
        while not self.closing.is_set():
            entry = self._next()
            if entry is None:
                self.wake.wait(0.5)
                self.wake.clear()
                continue
            self._run_entry(entry)

    def _run_entry(self, entry: dict) -> None:
        with self.lock:
            entry["state"] = RUNNING
            self.aborting.clear()
            self._save_queue()
        directory = Path(entry["directory"])
        try:
            plan, _ = open_plan(directory)
            result = run_plan(directory, listeners=[self._listen] + self.listeners, should_stop=self._stop,
                              stream=None, progress=False, catalog=self.catalog,
                              target_of=lambda run: self.target_of(run, plan.time_scale))
            state, message = result.status, result.message
        except Exception as exc:  # a broken run directory must not stop the queue
            state, message = "failed", f"{type(exc).__name__}: {exc}"
        with self.lock:
            self.progress = None
            if state == ABORTED and self.closing.is_set() and not self.aborting.is_set():
                entry["state"] = RUNNING  # shut down, not aborted: resumed at the next start
            else:
                entry["state"], entry["message"] = state, message
                entry["ended"] = _now()
            self._save_queue()

    def _stop(self) -> bool:
        return self.aborting.is_set() or self.closing.is_set()

    def _listen(self, topic: str, payload: Any) -> None:
        if topic == "progress":
            self.progress = {"fraction": float(payload.fraction), "eta_s": float(payload.eta)}

    # ------------------------------------------------------------------ the queue file
    def _load_queue(self) -> list[dict]:
        path = self.home / QUEUE_NAME
        if not path.is_file():
            return []
        return list(json.loads(path.read_text(encoding="utf-8")))

    def _save_queue(self) -> None:
        path = self.home / QUEUE_NAME
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.queue, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def _short(entry: dict) -> dict:
    return {k: entry.get(k) for k in ("id", "plan", "source", "state", "by", "submitted", "runs", "message")}


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name) or "plan"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value if isinstance(value, str) else text_of(value))  # a JSON string is a TOML string


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


__all__ = ["Station", "StationError", "QUEUED", "RUNNING", "CANCELLED"]
