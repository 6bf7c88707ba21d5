"""Dry runs: a whole plan on the simulated instruments, in seconds, before the night.

    report = dry_run_plan("tonight.toml")             # a throwaway directory
    report = dry_run_plan("tonight.toml", "runs/rehearsal", preset="ag-nanowire", seed=3)
    print("\\n".join(report.lines()))

Every device is replaced by the simulated instrument of its model (procedures/stand_in.py),
at time scale 0, and the plan runs through the same runner as a real night: the same
checks before the first step, the same failure policies, retries and stop conditions.
The report says what a real night would meet: instrument time, rows, compliance hits,
stop conditions fired, retries, refusals and failures. No VISA resource is opened.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from labqc.instruments.target import Target, TargetError
from labqc.journal import JOURNAL_NAME, Journal
from labqc.plan import PlanError
from labqc.quantity import duration_text
from labqc.procedures.base import LabqcProcedure
from labqc.procedures.plan_runner import PlanResult, run_plan, start_plan
from labqc.procedures.runner import default_path
from labqc.procedures.stand_in import simulate_target

#: Errors a run meets before it starts, when the instrument or the procedure refuses it.
REFUSALS = ("CapabilityError", "ParameterError")


@dataclass
class DryRunReport:
    """What the rehearsal met."""

    directory: Path
    result: PlanResult
    wall_seconds: float
    instrument_seconds: float = 0.0
    rows: int = 0
    compliance_hits: int = 0
    stops: list[str] = field(default_factory=list)  # stop conditions that fired
    retries: list[str] = field(default_factory=list)  # failed attempts that were tried again
    refusals: list[str] = field(default_factory=list)  # attempts the procedure or instrument refused
    failures: list[str] = field(default_factory=list)  # runs that failed for good
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result.ok

    def lines(self) -> list[str]:
        r = self.result
        out = [f"dry run {r.status}: {r.done} of {r.total} runs done in {self.wall_seconds:.1f} s on the "
               f"simulator, in {self.directory}",
               f"  instrument time: {duration_text(self.instrument_seconds)} ({self.instrument_seconds:,.1f} s)",
               f"  rows: {self.rows:,}",
               f"  compliance hits: {self.compliance_hits:,}"]
        for title, items in (("stop conditions fired", self.stops), ("retries", self.retries),
                             ("refusals", self.refusals), ("failures", self.failures),
                             ("skipped", self.skipped)):
            out.append(f"  {title}: {len(items)}")
            out += [f"    {item}" for item in items]
        if r.message and not r.ok:
            out.append(f"  {r.message}")
        return out


def throwaway_directory() -> Path:
    """A new empty directory under the system's temporary directory."""
    return Path(tempfile.mkdtemp(prefix="labqc-dry-run-"))


def dry_run_plan(plan_file: str | os.PathLike, directory: str | os.PathLike | None = None, *,
                 preset: str | None = None, seed: int | None = None, faults: str = "",
                 stream: TextIO | None | str = "stderr", progress: bool = False) -> DryRunReport:
    """Run ``plan_file`` on the simulated instruments into ``directory`` (default: a
    throwaway one). PlanError (one sentence per problem) when the plan, or a device
    whose model cannot be told, or a request the simulated instrument refuses, stops
    it before the first step, as it would stop the real night. ``faults``: what to
    inject into every simulated instrument of a model, as ``labqc sim serve --faults``
    reads it (``"2614B=drop@200|4200A=error@40:-286"``), to rehearse the failure policies."""
    library = _faulty_library(faults) if faults else None
    directory = Path(directory) if directory is not None else throwaway_directory()
    wall0 = time.monotonic()
    start_plan(plan_file, directory, dry_run={"preset": preset, "seed": seed}, visa_library=library)
    result = run_plan(directory, visa_library=library, stream=stream, progress=progress,
                      catalog=False)  # a rehearsal is no run
    return _report(directory, result, time.monotonic() - wall0)


def _faulty_library(faults: str):
    """``f(run) -> spec``: each stand-in's simulated lab with ``faults`` added."""
    try:
        Target(faults=faults)
    except TargetError as exc:
        raise PlanError([str(exc)], "the dry run") from None
    return lambda run: Target(run.device.resource, run.device.sim_preset, run.device.seed, faults=faults).library()


def prepare_dry_run(procedure: LabqcProcedure, target: Target, output: str | os.PathLike | None = None,
                    stream: TextIO | None = None) -> tuple[Target, Path]:
    """`labqc run --dry-run`: the simulated instrument of ``target``'s model in its place
    (ParameterError when the model cannot be told), said on ``stream`` (default stderr);
    returns that stand-in and the results file: ``output``, or one in a throwaway directory."""
    before = target.resource or "the built-in simulator"
    stand_in, model = simulate_target(target)
    path = Path(output) if output is not None else default_path(procedure, throwaway_directory())
    print(f"dry run: {before} stood in for by the simulated {model} (preset {stand_in.preset}, seed "
          f"{stand_in.seed}, time scale 0); data in {path}", file=stream or sys.stderr)
    return stand_in, path


def _report(directory: Path, result: PlanResult, wall: float) -> DryRunReport:
    report = DryRunReport(directory=directory, result=result, wall_seconds=wall)
    for r in result.results:
        report.instrument_seconds += r.instrument_seconds
        report.rows += r.rows
        report.compliance_hits += r.compliance_hits
    for record in Journal(directory / JOURNAL_NAME).records():
        run_id, event = record.get("id", ""), record["event"]
        if event == "skip":
            report.skipped.append(f"{run_id}: {record.get('reason', '')}")
        if event != "end":
            continue
        if record.get("stop"):
            report.stops.append(f"{run_id}: {record['stop']}")
        if record.get("status") != "failed":
            continue
        error = record.get("error", "")
        if record.get("retry"):  # a failed attempt that was tried again
            report.retries.append(f"{run_id} attempt {record.get('attempt')}: {error}")
        if error.startswith(REFUSALS):
            report.refusals.append(f"{run_id}: {error}")
        elif not record.get("retry"):  # failed for good: its policy went on (or stopped the plan)
            report.failures.append(f"{run_id}: {error}")
    return report


__all__ = ["dry_run_plan", "prepare_dry_run", "DryRunReport", "throwaway_directory"]
