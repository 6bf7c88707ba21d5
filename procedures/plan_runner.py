"""Run an expanded plan in a run directory, unattended, and resume it after anything.

A run directory holds::

    plan.toml            the plan as it was started (resume reads this copy)
    journal.jsonl        completed step runs (labqc.journal), fsync'd line by line
    plan.log             what happened, in words, with times
    steps/<id>.csv       one results file per step run (+ <id>.summary.json)
    steps/<id>.try2.csv  a retry after a failed attempt (the failed file is kept)
    steps/<id>.partial.csv   an attempt that was killed mid-run, kept and marked

    directory = start_plan("demo.toml", "runs/tonight")     # validates the whole plan first
    result = run_plan(directory)                             # or resume: the same call
    result.status   # "finished" | "aborted" | "failed"

:func:`run_plan` skips every run the journal calls done, keeps the file of an attempt
that never ended (renamed ``*.partial.csv``, recorded as a ``partial`` event) and runs
that step again to a fresh file. Each step follows its failure policy: retries first,
then ``stop`` the plan, ``skip-device`` (no more runs on that device) or ``continue``.
A stop condition ([step.stop]) met after a run skips that step's remaining runs on
that device. A stop request (Ctrl-C, SIGTERM) ends the plan as "aborted"; the step it
cut short is run again on resume.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

from labqc.instruments.errors import CapabilityError, InstrumentError
from labqc.catalog import catalog_path
from labqc.catalog_files import count_rows
from labqc.journal import Journal, JournalState
from labqc.instruments.target import Target
from labqc.quantity import duration_text
from labqc.plan import Plan, StepRun
from labqc.stops import Seen, judge
from labqc.procedures.base import ParameterError
from labqc.procedures.cli import ProgressBar
from labqc.procedures.stop_watch import StopWatch
from labqc.procedures.runner import ABORTED, FAILED, FINISHED, Listener, RunResult, run_procedure
# The run directory's side, re-exported: callers import these from here as they always did.
from labqc.procedures.plan_directory import (LOG_NAME, PLAN_NAME, STEPS_DIR, append_log, build, estimate,
                                             fsync_dir, load, open_plan, plan_status, preflight, start_plan,
                                             step_target, target, unused_path)


@dataclass
class PlanResult:
    """How a plan run ended."""

    status: str  # FINISHED (every run done or skipped), ABORTED, FAILED (a step's policy stopped it)
    directory: Path
    done: int = 0  # runs closed in the journal, this session and before
    total: int = 0
    message: str = ""
    results: list[RunResult] = field(default_factory=list)  # this session's attempts

    @property
    def ok(self) -> bool:
        return self.status == FINISHED


# ---------------------------------------------------------------------- running
def run_plan(directory: str | os.PathLike, *, visa_library: Any = None,
             listeners: Iterable[Listener] = (), should_stop: Callable[[], bool] | None = None,
             stream: TextIO | None | str = "stderr", progress: bool = True,
             catalog: str | os.PathLike | bool | None = None,
             target_of: Callable[[StepRun], Target] | None = None) -> PlanResult:
    """Run (or resume) the plan in ``directory`` from its first incomplete run.

    ``visa_library``: a library spec for every run, or ``f(run) -> spec``; ``listeners``
    get every run's topics (see labqc.procedures.runner); ``stream``: where progress and the
    per-run lines go (default: stderr; None: nowhere); ``catalog``: the run catalog every
    run is recorded in (default: $LABQC_CATALOG, else catalog.sqlite in ``directory``; False: none);
    ``target_of``: where each run is measured, in place of its device's own instrument (a
    station of procedures/station.py measures every device on its one instrument)."""
    directory = Path(directory)
    plan, journal = open_plan(directory)
    if stream == "stderr":  # looked up now, so that a redirected stderr is honoured
        stream = sys.stderr
    runner = _PlanRunner(plan, directory, journal, visa_library, list(listeners), should_stop,
                         stream, progress)
    runner.catalog = None if catalog is False else catalog_path(catalog or None, beside=directory)
    runner.target_of = target_of
    try:
        return runner.run()
    except KeyboardInterrupt:  # between runs: nothing is energised, the journal is whole
        runner.say("plan interrupted between step runs; resume to go on")
        return runner.result(ABORTED, "interrupted between step runs")


class _PlanRunner:
    def __init__(self, plan: Plan, directory: Path, journal: Journal, visa_library: Any,
                 listeners: list[Listener], should_stop: Callable[[], bool] | None,
                 stream: TextIO | None, progress: bool) -> None:
        self.plan = plan
        self.directory = directory
        self.journal = journal
        self.visa_library = visa_library
        self.listeners = listeners
        self.should_stop = should_stop
        self.stream = stream
        self.progress = progress and stream is not None
        self.results: list[RunResult] = []
        self.estimates = {run.id: estimate(run) for run in plan.runs}
        self.wall_per_instrument_s: float | None = None
        self.catalog: Path | None = None
        self.target_of: Callable[[StepRun], Target] | None = None

    def _target(self, run: StepRun) -> Target:
        return self.target_of(run) if self.target_of else step_target(self.plan, run, self.visa_library)

    # -- the loop ----------------------------------------------------------------------
    def run(self) -> PlanResult:
        state = self.journal.state()
        if state.plan is None:
            self.journal.append("plan", name=self.plan.name, digest=self.plan.digest, runs=len(self.plan.runs))
        self._keep_partials(state)
        state = self.journal.state()
        done = sum(1 for r in self.plan.runs if state.run(r.id).done)
        if done:
            self.say(f"resuming: {done} of {len(self.plan.runs)} runs already done")
        for run in self.plan.runs:
            state = self.journal.state()
            if state.run(run.id).done:
                continue
            skip = self._skip_reason(run, state)
            if skip:
                self.journal.append("skip", id=run.id, reason=skip)
                self.say(f"[{run.index + 1}/{len(self.plan.runs)}] {run.id}: skipped, {skip}")
                continue
            outcome = self._run_with_policy(run, state)
            if outcome is not None:
                return outcome
        state = self.journal.state()
        failed = [r.id for r in self.plan.runs if state.run(r.id).status == FAILED]
        message = f"plan finished: {len(self.plan.runs)} runs" + (
            f", {len(failed)} failed (policy continue/skip-device)" if failed else "")
        self.say(message)
        return self.result(FINISHED, message)

    def _run_with_policy(self, run: StepRun, state: JournalState) -> PlanResult | None:
        """Attempts of one run until it finishes or its policy says otherwise; a
        PlanResult when the plan must stop here."""
        failures = sum(1 for e in state.run(run.id).ends if e["status"] == FAILED)
        attempt = state.run(run.id).attempts
        while True:
            attempt += 1
            watch = StopWatch(run.stop.min_ratio) if run.stop.active else None
            result = self._attempt(run, attempt, watch)
            if result.status == FINISHED:
                seen = self._group_seen(run).then(watch.seen()) if watch else None
                reason = judge(run.stop, seen) if seen else ""
                self.journal.append("end", id=run.id, attempt=attempt, status=FINISHED, file=result.path.name,
                                    rows=result.rows, error="", final=True, stop=reason,
                                    **({"seen": seen.record()} if seen else {}))
                if reason:
                    self.say(f"  stop condition met on {run.device.label}: {reason}")
                return None
            if result.status == ABORTED:
                self.journal.append("end", id=run.id, attempt=attempt, status=ABORTED, file=_name(result),
                                    rows=result.rows, error=result.error, final=False)
                message = f"plan stopped during {run.id} ({result.error}); resume to run it again"
                self.say(message)
                return self.result(ABORTED, message)
            failures += 1
            if failures <= run.retries:
                self.journal.append("end", id=run.id, attempt=attempt, status=FAILED, file=_name(result),
                                    rows=result.rows, error=result.error, final=False, retry=True)
                self.say(f"  failed ({result.error}); retry {failures} of {run.retries}")
                continue
            final = run.on_failure != "stop"
            self.journal.append("end", id=run.id, attempt=attempt, status=FAILED, file=_name(result),
                                rows=result.rows, error=result.error, final=final, policy=run.on_failure)
            if run.on_failure == "stop":
                message = f"plan stopped: {run.id} failed ({result.error}); policy: stop"
                self.say(message)
                return self.result(FAILED, message)
            self.say(f"  failed ({result.error}); policy: {run.on_failure}")
            return None

    def _attempt(self, run: StepRun, attempt: int, watch: StopWatch | None = None) -> RunResult:
        path = self._fresh_path(run, attempt)
        self.journal.append("start", id=run.id, attempt=attempt, file=path.name)
        self._announce(run, attempt)
        proc = build(run)
        bar = ProgressBar(self.stream) if self.progress else None
        listeners = self.listeners + ([bar] if bar else []) + ([watch] if watch else [])
        wall0 = time.monotonic()
        try:
            result = run_procedure(proc, path, target=self._target(run),
                                   listeners=listeners, should_stop=self.should_stop,
                                   catalog=self.catalog)
        except (ParameterError, CapabilityError, InstrumentError, OSError, ValueError) as exc:
            # before the run started: nothing was energised (the runner guarantees it)
            result = RunResult(procedure=run.procedure, status=FAILED, path=path, summary_path=None,
                               error=f"{type(exc).__name__}: {exc}")
        finally:
            if bar:
                bar.finish()
        self._learn_speed(result, time.monotonic() - wall0)
        self.results.append(result)
        self._log(f"{run.id} attempt {attempt}: {result.status}, {result.rows} rows"
                  + (f", {result.error}" if result.error else ""))
        return result

    # -- resume ------------------------------------------------------------------------
    def _keep_partials(self, state: JournalState) -> None:
        """An attempt that started and never ended was killed: keep its file, marked."""
        for run_id, rs in state.runs.items():
            if rs.open_attempt is None or rs.done:
                continue
            name = rs.open_attempt.get("file", "")
            src = self.directory / STEPS_DIR / name
            kept, rows = "", 0
            if name and src.exists():
                dst = unused_path(src.with_name(src.name[: -len(".csv")] + ".partial.csv"))
                os.replace(src, dst)
                fsync_dir(dst.parent)
                kept, rows = dst.name, count_rows(dst)
            self.journal.append("partial", id=run_id, attempt=rs.open_attempt.get("attempt"),
                                file=name, kept_as=kept, rows=rows)
            self.say(f"{run_id}: attempt {rs.open_attempt.get('attempt')} was interrupted; "
                     f"its {rows} rows kept in {kept or '(no file)'}; it runs again")
            self._outputs_off(run_id)

    def _outputs_off(self, run_id: str) -> None:
        """A process killed mid-run (kill -9, a crash) could not turn the outputs off:
        do it first thing, before anything else is sent to that instrument."""
        try:
            run = self.plan.run(run_id)
        except KeyError:
            return
        try:
            smu = self._target(run).open()
        except Exception as exc:  # the run itself will report it; say it here too
            self.say(f"  could not reach the instrument of {run.device.label} to turn its outputs off: {exc}")
            return
        try:
            smu.output_off()
            self.say(f"  outputs of {run.device.label} turned off after the interruption")
        except Exception as exc:
            self.say(f"  turning the outputs of {run.device.label} off failed: {exc}")
        finally:
            try:
                smu.close()
            except Exception:
                pass

    def _fresh_path(self, run: StepRun, attempt: int) -> Path:
        steps = self.directory / STEPS_DIR
        steps.mkdir(parents=True, exist_ok=True)
        name = f"{run.id}.csv" if attempt == 1 else f"{run.id}.try{attempt}.csv"
        return unused_path(steps / name)

    # -- policies and stop conditions -----------------------------------------------------
    def _skip_reason(self, run: StepRun, state: JournalState) -> str:
        for other in self.plan.runs[: run.index]:
            rs = state.run(other.id)
            if other.device.label != run.device.label or rs.final is None:
                continue
            if rs.final.get("policy") == "skip-device" and rs.final.get("status") == FAILED:
                return f"device {run.device.label} is skipped since {other.id} failed"
            if other.group == run.group and rs.final.get("stop"):
                return f"stop condition of step {run.step} on {run.device.label}: {rs.final['stop']}"
        return ""

    def _group_seen(self, run: StepRun) -> Seen:
        """What the finished runs before ``run`` in its group showed (the journal keeps it
        with each: nothing is read back from their files)."""
        state = self.journal.state()
        for other in reversed(self.plan.runs[: run.index]):
            final = state.run(other.id).final
            if other.group == run.group and final and final.get("status") == FINISHED:
                return Seen.from_record(final.get("seen"))
        return Seen()

    # -- words -----------------------------------------------------------------------------
    def _announce(self, run: StepRun, attempt: int) -> None:
        state = self.journal.state()
        left = [r for r in self.plan.runs if not state.run(r.id).done]
        instrument_left = sum(self.estimates[r.id] for r in left)
        eta = f"~{instrument_left:,.0f} s of instrument time left"
        if self.wall_per_instrument_s is not None:
            eta += f", ETA ~{duration_text(instrument_left * self.wall_per_instrument_s)} wall"
        again = f" (attempt {attempt})" if attempt > 1 else ""
        self.say(f"[{run.index + 1}/{len(self.plan.runs)}] {run.id}: {run.describe()}{again}; {eta}")

    def _learn_speed(self, result: RunResult, wall: float) -> None:
        if result.instrument_seconds > 0 and wall > 0:
            ratio = wall / result.instrument_seconds
            old = self.wall_per_instrument_s
            self.wall_per_instrument_s = ratio if old is None else 0.5 * (old + ratio)

    def say(self, message: str) -> None:
        if self.stream is not None:
            self.stream.write(message + "\n")
            self.stream.flush()
        self._log(message)

    def _log(self, message: str) -> None:
        append_log(self.directory, message)

    def result(self, status: str, message: str) -> PlanResult:
        state = self.journal.state()
        done = sum(1 for r in self.plan.runs if state.run(r.id).done)
        return PlanResult(status=status, directory=self.directory, done=done, total=len(self.plan.runs),
                          message=message, results=self.results)


# ---------------------------------------------------------------------- helpers
def _name(result: RunResult) -> str:
    return result.path.name if result.path.exists() else ""


__all__ = ["PlanResult", "start_plan", "run_plan", "open_plan", "plan_status", "preflight", "build",
           "load", "target", "estimate", "PLAN_NAME", "LOG_NAME", "STEPS_DIR"]
