"""A plan's run directory: create it from a validated plan (checked against every
device's instrument first), open it again for a resume, say how far it is, and the file
helpers the plan runner (procedures/plan_runner.py) uses on it.

    plan.toml            the plan as it was started (resume reads this copy)
    journal.jsonl        completed step runs (labqc.journal), fsync'd line by line
    plan.log             what happened, in words, with times
    steps/<id>.csv       one results file per step run (+ <id>.summary.json)
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labqc.instruments.errors import CapabilityError
from labqc.journal import JOURNAL_NAME, Journal
from labqc.instruments.target import Target
from labqc.plan import Device, Plan, PlanError, StepRun, load_plan, parse_plan
from labqc.procedures import PROCEDURES
from labqc.procedures.base import LabqcProcedure, ParameterError
from labqc.procedures.spec import SPECS, procedure_with
from labqc.procedures.stand_in import simulate_plan

PLAN_NAME = "plan.toml"
LOG_NAME = "plan.log"
STEPS_DIR = "steps"


# ---------------------------------------------------------------------- the directory
def load(plan_file: str | os.PathLike) -> Plan:
    """Read and validate a plan file against the labqc procedures (PlanError on problems)."""
    return load_plan(plan_file, SPECS)


def target(device: Device, time_scale: float, visa_library: Any = None) -> Target:
    """Where a plan's device is measured; TargetError (a ValueError) when it cannot be."""
    return Target(device.resource, device.sim_preset, device.seed, time_scale, visa_library,
                  model=device.model or None)


def start_plan(plan_file: str | os.PathLike, directory: str | os.PathLike, *,
               check_instruments: bool = True, visa_library: Any = None,
               dry_run: dict | None = None) -> Path:
    """Validate the whole plan (and, with ``check_instruments``, every request against
    each device's instrument), then create ``directory`` with the plan copy and the
    journal. PlanError lists every problem; nothing is created then. ``dry_run``: the
    arguments of :func:`~labqc.procedures.stand_in.simulate_plan` (every device on the
    simulator), recorded in the journal so that a resume stays a dry run."""
    plan = load(plan_file)
    if dry_run is not None:
        plan = simulate_plan(plan, **dry_run)
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise PlanError([f"the run directory {directory} is not empty; resume it with "
                         f"`labqc plan resume {directory}` or choose another"], str(plan_file))
    if check_instruments:
        preflight(plan, visa_library=visa_library)
    (directory / STEPS_DIR).mkdir(parents=True, exist_ok=True)
    _write_durably(directory / PLAN_NAME, plan.text)
    Journal(directory / JOURNAL_NAME).append("plan", name=plan.name, digest=plan.digest, runs=len(plan.runs),
                                             **({"dry_run": dry_run} if dry_run is not None else {}))
    append_log(directory, f"plan {plan.name!r} created from {plan_file}: {len(plan.runs)} runs")
    return directory


def open_plan(directory: str | os.PathLike) -> tuple[Plan, Journal]:
    """The plan of a run directory and its journal; PlanError if it is not one."""
    directory = Path(directory)
    plan_path = directory / PLAN_NAME
    if not plan_path.is_file() or not (directory / JOURNAL_NAME).is_file():
        raise PlanError([f"{directory} is not a plan run directory (no {PLAN_NAME} and {JOURNAL_NAME}); start one "
                         f"with `labqc plan run FILE -o {directory}`"], str(directory))
    plan = parse_plan(plan_path.read_text(encoding="utf-8"), SPECS, source=str(plan_path))
    journal = Journal(directory / JOURNAL_NAME)
    head = journal.state().plan
    if head is not None and head.get("digest") != plan.digest:
        raise PlanError([f"{plan_path} was changed after the plan started (its digest is "
                         f"{plan.digest}, the journal's {head.get('digest')}); put it back or start anew"],
                        str(directory))
    if head is not None and head.get("dry_run") is not None:
        plan = simulate_plan(plan, **head["dry_run"])
    return plan, journal


def preflight(plan: Plan, *, visa_library: Any = None) -> None:
    """Every request of every run against its device's instrument, before anything is
    energised: open each device once (nothing is sourced), check, close. PlanError lists
    every request an instrument cannot do and every device that cannot be opened."""
    problems: list[str] = []
    by_device: dict[str, list[StepRun]] = {}
    for run in plan.runs:
        by_device.setdefault(run.device.label, []).append(run)
    for label, runs in by_device.items():
        try:
            smu = step_target(plan, runs[0], visa_library).open()
        except Exception as exc:  # whatever the bench or the simulator says, in one line
            problems.append(f"device {label}: cannot open its instrument: {exc}")
            continue
        try:
            seen: set[str] = set()
            for run in runs:
                try:
                    for request in build(run).requests():
                        smu.check(request)
                except (CapabilityError, ParameterError) as exc:
                    sentence = f"{run.id}: {exc}"
                    if str(exc) not in seen:
                        seen.add(str(exc))
                        problems.append(sentence)
        finally:
            try:
                smu.close()
            except Exception:
                pass
    if problems:
        raise PlanError(problems, "the plan")


def build(run: StepRun) -> LabqcProcedure:
    """The procedure object of one run, every parameter set (the plan checked them)."""
    return procedure_with(PROCEDURES[run.procedure], run.parameters)


# ---------------------------------------------------------------------- status
def plan_status(directory: str | os.PathLike) -> list[str]:
    """Lines describing each run of the plan in ``directory`` and how far it is."""
    plan, journal = open_plan(directory)
    state = journal.state()
    lines = []
    counts: dict[str, int] = {}
    for run in plan.runs:
        rs = state.run(run.id)
        status = rs.status
        counts[status] = counts.get(status, 0) + 1
        detail = ""
        if rs.final is not None and rs.final["event"] == "end":
            detail = f"{rs.final.get('rows', 0)} rows in {rs.final.get('file', '')}"
            if rs.final.get("error"):
                detail += f"; {rs.final['error']}"
            if rs.final.get("stop"):
                detail += f"; stop condition: {rs.final['stop']}"
        elif rs.final is not None:
            detail = rs.final.get("reason", "")
        elif rs.ends:
            detail = rs.ends[-1].get("error", "")
        if rs.partials:
            detail += ("; " if detail else "") + "partial: " + ", ".join(
                p.get("kept_as") or "(no file)" for p in rs.partials)
        lines.append(f"{run.id:<48} {status:<11} {detail}".rstrip())
    done = sum(1 for r in plan.runs if state.run(r.id).done)
    head = (f"plan {plan.name!r}: {done} of {len(plan.runs)} runs done ("
            + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ")")
    if (state.plan or {}).get("dry_run") is not None:
        head += "; a dry run on the simulated instruments"
    return [head] + lines


# ---------------------------------------------------------------------- helpers
def step_target(plan: Plan, run: StepRun, visa_library: Any) -> Target:
    """The run's device as a Target; ``visa_library`` a library spec or ``f(run) -> spec``."""
    library = visa_library(run) if callable(visa_library) else visa_library
    return target(run.device, plan.time_scale, library)


def estimate(run: StepRun) -> float:
    """The run's instrument time in seconds, as its procedure estimates it (0 if it cannot)."""
    try:
        return float(build(run).estimated_duration())
    except Exception:  # an estimate is only for the ETA
        return 0.0


def unused_path(path: Path) -> Path:
    """``path``, or the first ``stem-N.csv`` beside it that does not exist yet."""
    if not path.exists():
        return path
    stem = path.name[: -len(".csv")] if path.name.endswith(".csv") else path.name
    n = 2
    while (path.with_name(f"{stem}-{n}.csv")).exists():
        n += 1
    return path.with_name(f"{stem}-{n}.csv")


def _write_durably(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename or creation in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def append_log(directory: Path, message: str) -> None:
    """One time-stamped line appended to the plan directory's log."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with open(directory / LOG_NAME, "a", encoding="utf-8") as f:
        f.write(f"{stamp} {message}\n")


__all__ = ["start_plan", "open_plan", "plan_status", "preflight", "build", "load", "target", "estimate",
           "step_target", "unused_path", "fsync_dir", "append_log", "PLAN_NAME", "LOG_NAME", "STEPS_DIR"]
