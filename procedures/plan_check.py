"""`labqc plan check`: what a plan will cost before the night, and what stops it.

    report = check_plan("tonight.toml", "runs/tonight")
    report.problems          # one sentence each; empty when the plan can start
    report.lines()           # per step and in total: instrument time, rows, disk space

Every figure comes from the procedures themselves: instrument seconds from
``estimated_duration()``, rows from ``estimated_rows()`` and bytes from the results
writer's own row format (:func:`labqc.results.estimated_bytes`). They assume every run
goes to its end once; stop conditions shorten a night, retries lengthen it.

The request limits are checked against each device's model as listed by its driver,
without opening anything (the model from the resource name or the device's ``model``
key); ``open_instruments=True`` also opens each instrument and asks it, as
``labqc plan run`` does before its first step.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from labqc.instruments.connect import MODELS, capabilities_of
from labqc.instruments.errors import CapabilityError
from labqc.plan import Device, Plan, PlanError, StepRun
from labqc.quantity import duration_text
from labqc.results import estimated_bytes
from labqc.procedures.base import ParameterError
from labqc.procedures.plan_runner import build, load, preflight
from labqc.procedures.stand_in import device_model


@dataclass(frozen=True)
class RunEstimate:
    """What one step run costs if it goes to its end."""

    run: StepRun
    seconds: float  # instrument time
    rows: int
    bytes: int  # its results file at most


@dataclass
class CheckReport:
    """The verdict on a plan and its costs."""

    source: str
    plan: Plan | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    estimates: list[RunEstimate] = field(default_factory=list)
    directory: Path | None = None
    free_bytes: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def seconds(self) -> float:
        return sum(e.seconds for e in self.estimates)

    @property
    def rows(self) -> int:
        return sum(e.rows for e in self.estimates)

    @property
    def bytes(self) -> int:
        return sum(e.bytes for e in self.estimates)

    @property
    def disk_short(self) -> bool:
        return self.free_bytes is not None and self.free_bytes < self.bytes

    def lines(self, now: datetime | None = None) -> list[str]:
        """The per-step table, the totals and the expected end, for people."""
        if self.plan is None:
            return []
        steps: dict[str, list[RunEstimate]] = {}
        for e in self.estimates:
            steps.setdefault(e.run.step, []).append(e)
        out = [f"plan {self.plan.name!r}: {len(self.estimates)} runs on {len(self.plan.devices)} device(s)",
               f"  {'step':<20} {'runs':>5} {'instrument time':>16} {'rows':>12} {'disk':>10}"]
        for name, es in steps.items():
            out.append(_row(name, es))
        out.append(_row("total", self.estimates))
        where = self.directory if self.directory is not None else Path.cwd()
        if self.free_bytes is not None:
            out.append(f"free disk space at {where}: {size_text(self.free_bytes)}")
        out.append(self.finish_line(now or datetime.now()))
        return out

    def finish_line(self, now: datetime) -> str:
        """When the plan ends if started now: instrument time on instruments; on the
        simulator, instrument time times the plan's time scale (wall s per instrument s)."""
        simulated = self.plan is not None and all(_simulated(d) for d in self.plan.devices)
        night = f"{_clock(now, self.seconds)} (after {duration_text(self.seconds)} of instrument time)"
        if not simulated:
            return f"expected end if started now: {night}"
        scale = self.plan.time_scale
        if scale == 0:
            return (f"expected end if started now: as fast as the simulator computes (time scale 0); "
                    f"on instruments {night}")
        return (f"expected end if started now: {_clock(now, self.seconds * scale)} on the simulator at time "
                f"scale {scale:g}; on instruments {night}")


def _clock(now: datetime, seconds: float) -> str:
    end = now + timedelta(seconds=seconds)
    return f"{end:%H:%M}" + ("" if end.date() == now.date() else f" {end:%a %d %b %Y}")


def check_plan(plan_file: str | os.PathLike, directory: str | os.PathLike | None = None, *,
               limits: bool = True, open_instruments: bool = False, visa_library: Any = None) -> CheckReport:
    """Validate ``plan_file`` as ``labqc plan run`` does, estimate what it costs and
    whether ``directory`` (the run directory, if given) can take it."""
    report = CheckReport(source=str(plan_file))
    if directory is not None:
        report.directory = Path(directory)
        report.problems += directory_problems(report.directory)
    try:
        report.plan = load(plan_file)
    except PlanError as exc:
        report.problems += exc.problems
        if exc.plan is None:
            return report
        report.plan = exc.plan  # the runs that expanded still get their limits checked
    report.estimates = [estimate(run) for run in report.plan.runs]
    if limits:
        problems, warnings = limit_problems(report.plan)
        report.problems += problems
        report.warnings += warnings
    if open_instruments and not report.problems:
        try:
            preflight(report.plan, visa_library=visa_library)
        except PlanError as exc:
            report.problems += exc.problems
    report.free_bytes = free_space(report.directory if report.directory is not None else Path.cwd())
    if report.disk_short:
        report.warnings.append(disk_sentence(report))
    return report


def estimate(run: StepRun) -> RunEstimate:
    """The procedure's own estimates for one run."""
    proc = build(run)
    rows = int(proc.estimated_rows())
    return RunEstimate(run=run, seconds=float(proc.estimated_duration()), rows=rows,
                       bytes=estimated_bytes(proc, rows))


def limit_problems(plan: Plan) -> tuple[list[str], list[str]]:
    """Every request of every run against its device's listed limits: (problems,
    warnings); a device whose model only the instrument can tell gets a warning."""
    problems: list[str] = []
    warnings: list[str] = []
    models: dict[str, str | None] = {}
    for device in plan.devices:
        if device.model and device.model not in MODELS:
            problems.append(f"device {device.label}: model must be one of {', '.join(MODELS)}, "
                            f"not {device.model!r}")
            models[device.label] = None
            continue
        models[device.label] = device_model(device)
        if models[device.label] is None:
            warnings.append(f"device {device.label}: {device.resource} does not say which instrument it is, "
                            f"so its limits are checked only when it is opened (`plan check --open`, "
                            f"`plan run`); add model = \"2614B\" or \"4200A\" to its [[device]] to check them now")
    seen: set[tuple[str, str]] = set()
    for run in plan.runs:
        model = models.get(run.device.label)
        if model is None:
            continue
        capabilities = capabilities_of(model)
        try:
            for request in build(run).requests():
                capabilities.check(request)
        except (CapabilityError, ParameterError) as exc:
            if (run.step, str(exc)) not in seen:  # once per step, not once per device and value
                seen.add((run.step, str(exc)))
                problems.append(f"{run.id}: {exc}")
    return problems, warnings


def directory_problems(directory: Path) -> list[str]:
    """Why ``directory`` cannot become a run directory, one sentence each."""
    if directory.exists():
        if not directory.is_dir():
            return [f"the run directory {directory} is a file; choose a new directory"]
        if any(directory.iterdir()):
            return [f"the run directory {directory} is not empty; resume it with "
                    f"`labqc plan resume {directory}` or choose another"]
        return []
    parent = directory.absolute().parent
    if not parent.is_dir():
        return [f"the parent of the run directory, {parent}, does not exist; create it "
                f"(or check the disk is mounted) before the night"]
    if not os.access(parent, os.W_OK):
        return [f"the run directory cannot be created in {parent}: it is not writable"]
    return []


def free_space(path: Path) -> int | None:
    """Free bytes on the disk that holds ``path`` (its nearest existing ancestor)."""
    path = path.absolute()
    for candidate in (path, *path.parents):
        if candidate.exists():
            try:
                return int(shutil.disk_usage(candidate).free)
            except OSError:
                return None
    return None


def disk_sentence(report: CheckReport) -> str:
    where = report.directory if report.directory is not None else Path.cwd()
    return (f"the plan writes up to {size_text(report.bytes)} but only {size_text(report.free_bytes or 0)} "
            f"is free at {where}")


def _simulated(device: Device) -> bool:
    return not device.resource or bool(device.sim_preset)


def _row(name: str, estimates: list[RunEstimate]) -> str:
    seconds = sum(e.seconds for e in estimates)
    rows = sum(e.rows for e in estimates)
    size = sum(e.bytes for e in estimates)
    return (f"  {name:<20} {len(estimates):>5} {duration_text(seconds):>16} {rows:>12,} "
            f"{size_text(size):>10}")


def size_text(n: float) -> str:
    """Bytes for people, in powers of 1000 (as disks are sold)."""
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


__all__ = ["check_plan", "CheckReport", "RunEstimate", "estimate", "limit_problems",
           "directory_problems", "free_space", "duration_text", "size_text"]
