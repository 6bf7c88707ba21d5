"""Run one procedure: validate, open the instrument, check every request, write the
results file as chunks arrive, stream rows to listeners, and leave the outputs off
however the run ends.

    result = run_procedure(VoltageSweep(cycles=2), "sweep.csv", target=Target(preset="bfo"))
    result.status        # "finished" | "aborted" | "failed"
    result.summary       # the procedure's derived results (also in sweep.summary.json)

Validation happens before anything is opened or energised and raises
:class:`~labqc.procedures.base.ParameterError` or :class:`~labqc.instruments.errors.CapabilityError`
with one sentence (no file is created). Once the run has started, everything that ends
it (done, a stop request, KeyboardInterrupt, an instrument error, a write error) is
caught, the outputs are turned off, the file is closed, the summary is written, and a
:class:`RunResult` says how it ended. A plan runner calls this once per step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from labqc.instruments.errors import ConnectionLost
from labqc.procedures import signals as run_signals
from labqc.instruments.smu import SourceMeasure
from labqc.instruments.target import Target
from labqc.catalog import catalog_path
from labqc.catalog_files import RunRecorder
from labqc.results import ResultsWriter, write_summary
from labqc.procedures.base import LabqcProcedure, ParameterError, Progress, RUN_METADATA, StopRequested

#: A listener gets every topic the procedure emits: ("batch", rows) with rows the stream's
#: one typed chunk (labqc.chunk: a structured array of ROW; the same array every listener
#: gets, read-only),
#: ("progress", Progress), and at the end ("status", RunResult). It is called in the
#: measuring thread, after the rows are on disk, and must return quickly. An Exception
#: it raises is recorded in RunResult.warnings and the run goes on; a KeyboardInterrupt
#: stops the run.
Listener = Callable[[str, Any], None]

FINISHED, ABORTED, FAILED = "finished", "aborted", "failed"


@dataclass
class RunResult:
    """How one run ended and where its data is."""

    procedure: str
    status: str  # FINISHED, ABORTED or FAILED
    path: Path
    summary_path: Path | None
    summary: dict = field(default_factory=dict)
    rows: int = 0
    compliance_hits: int = 0
    instrument_seconds: float = 0.0
    error: str = ""
    instrument: str = ""
    warnings: list[str] = field(default_factory=list)  # e.g. a listener that raised
    output_off: bool = True  # confirmed off by reading it back at the end
    connection_lost: bool = False  # the run ended because the connection dropped
    catalog_id: int | None = None  # the run's id in the run catalog, if it could be recorded

    @property
    def ok(self) -> bool:
        return self.status == FINISHED


def default_path(procedure: LabqcProcedure, directory: str | os.PathLike = "results") -> Path:
    """results/<Procedure>-<YYYYmmdd-HHMMSS>[-n].csv, never an existing file."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(directory) / f"{type(procedure).__name__}-{stamp}"
    path, n = base.with_suffix(".csv"), 1
    while path.exists():
        n += 1
        path = Path(f"{base}-{n}.csv")
    return path


def check_requests(procedure: LabqcProcedure, smu: SourceMeasure) -> None:
    """Every request the procedure will send, against the instrument's capabilities;
    CapabilityError (one sentence) at the first one it cannot do. Nothing is sent."""
    for request in procedure.requests():
        smu.check(request)


def run_procedure(procedure: LabqcProcedure, path: str | os.PathLike | None = None, *,
                  target: Target | None = None, smu: SourceMeasure | None = None,
                  visa_library: str | None = None,
                  listeners: Iterable[Listener] = (), should_stop: Callable[[], bool] | None = None,
                  fsync_interval: float = 2.0, catalog: str | os.PathLike | bool | None = True) -> RunResult:
    """Run ``procedure`` once on ``target`` (default: the built-in simulated 2614B) and
    write its results to ``path`` (default: see :func:`default_path`). ``smu``: the
    target's instrument already open (left open afterwards); else the target is opened
    and closed at the end. ``visa_library``: the target's PyVISA library instead of its
    own (e.g. a simulator spec with faults). ``should_stop``: polled
    after every chunk; True aborts the run cleanly. Raises ParameterError/CapabilityError
    before anything starts; otherwise returns a RunResult. ``catalog``: the run catalog
    (labqc.catalog) the run is registered in at its start and completed in at its end; True:
    $LABQC_CATALOG or catalog.sqlite beside the results file; None/False: none. A catalog
    that cannot be used is a warning, never a reason not to measure."""
    procedure.validate()
    target = target if target is not None else Target()
    if visa_library is not None:
        target = replace(target, visa_library=visa_library)
    path = Path(path) if path is not None else default_path(procedure)
    if path.exists() and not str(path).startswith("/dev/"):
        raise ParameterError(f"the results file {path} already exists; choose another name")
    listeners = list(listeners)
    own_smu = smu is None
    if own_smu:
        smu = target.open()
    try:
        check_requests(procedure, smu)
        procedure.stamp_metadata(getattr(smu, "identity", "") or type(smu).__name__, target)
        procedure.evaluate_metadata()
        writer = ResultsWriter(path, procedure, fsync_interval=fsync_interval)
        recorder = _recorder(catalog, path)
        if recorder:
            recorder.start(procedure, path)
    except BaseException:
        if own_smu:
            _close(smu)
        raise

    write_errors: list[OSError] = []
    listener_errors: list[str] = []

    def emit(topic: str, payload: Any) -> None:
        if topic == "batch":
            try:
                writer.write(payload)  # first: rows reach disk before anyone draws them
            except OSError as exc:
                write_errors.append(exc)
                raise
        for listener in listeners:
            try:
                listener(topic, payload)
            except Exception as exc:  # a plotting bug must not end an overnight run
                listener_errors.append(f"{getattr(listener, '__name__', type(listener).__name__)}: "
                                       f"{type(exc).__name__}: {exc}")

    procedure.emit = emit
    procedure.should_stop = lambda: bool(should_stop and should_stop())
    procedure.smu = smu
    status, error, lost_at = FINISHED, "", None
    run_signals.cleaning(False)
    try:
        procedure.status = procedure.RUNNING
        procedure.startup()
        procedure.execute()
    except (StopRequested, KeyboardInterrupt):
        status, error = ABORTED, "stopped before the end"
    except Exception as exc:  # an instrument or write error, a bug: the run fails, the device is safe
        status = FAILED
        error = _describe(exc, path, writer) if exc in write_errors else f"{type(exc).__name__}: {exc}"
        lost_at = datetime.now() if isinstance(exc, ConnectionLost) else None
    finally:
        run_signals.cleaning(True)  # a signal now must not cut the clean-up short (signals.py)
        off = _safe_off(smu)
        try:
            procedure.shutdown()
        except Exception as exc:
            if status == FINISHED:
                status, error = FAILED, f"shutdown failed: {exc}"
        try:
            writer.close()
        except OSError as exc:
            status, error = FAILED, _describe(exc, path, writer)
        if own_smu:
            _close(smu, off_done=off)
        run_signals.cleaning(False)
    if lost_at is not None:
        error = run_signals.lost_sentence(target.resource or "the simulated instrument", lost_at, writer.rows,
                                          off, bool(getattr(smu, "reconnected", False)))
    elif not off:
        error = f"{error}; " * bool(error) + "the output may still be on: switch it off at the instrument"
    procedure.status = {FINISHED: procedure.FINISHED, ABORTED: procedure.ABORTED}.get(status, procedure.FAILED)
    result = _result(procedure, target, status, error, path, writer, _warnings(listener_errors))
    result.output_off, result.connection_lost = off, lost_at is not None
    if recorder:
        recorder.finish(result)
        result.catalog_id = recorder.run_id
        if recorder.problem:
            result.warnings.append(recorder.problem)
    for listener in listeners:
        try:
            listener("status", result)
        except Exception:  # the run is over and recorded; a listener cannot change that
            pass
    return result


def _recorder(catalog: str | os.PathLike | bool | None, path: Path) -> RunRecorder | None:
    if catalog is None or catalog is False or str(path).startswith("/dev/"):
        return None
    return RunRecorder(catalog_path(None if catalog is True else catalog, beside=path.parent))


def _warnings(listener_errors: list[str]) -> list[str]:
    if not listener_errors:
        return []
    more = f" (and {len(listener_errors) - 1} more)" if len(listener_errors) > 1 else ""
    return [f"a listener failed, the run went on: {listener_errors[0]}{more}"]


def _result(procedure: LabqcProcedure, target: Target, status: str, error: str, path: Path,
            writer: ResultsWriter, warnings: list[str]) -> RunResult:
    try:
        summary = procedure.summary()
    except Exception as exc:  # a summary must never hide how the run ended
        summary = {"summary error": f"{type(exc).__name__}: {exc}"}
    result = RunResult(procedure=type(procedure).__name__, status=status, path=path, summary_path=None,
                       summary=summary, rows=writer.rows, compliance_hits=procedure.compliance_hits,
                       instrument_seconds=procedure.elapsed, error=error,
                       instrument=str(procedure.instrument or ""), warnings=warnings)
    if not str(path).startswith("/dev/"):
        record = {"procedure": result.procedure, **_run_metadata(procedure), "status": status, "error": error,
                  "data file": path.name, "rows": writer.rows, "compliance hits": result.compliance_hits,
                  "instrument seconds": result.instrument_seconds, "instrument": result.instrument,
                  "target": target.record(), "warnings": warnings,
                  "parameters": {p.name: str(p) for p in procedure.parameter_objects().values()},
                  "results": summary}
        try:
            result.summary_path = write_summary(path, record)
        except OSError as exc:
            if status != FAILED:
                result.status, result.error = FAILED, f"could not write the summary: {exc}"
    return result


def _run_metadata(procedure: LabqcProcedure) -> dict[str, str]:
    """Sample, device, operator and note, at the top of the summary."""
    return {key: str(getattr(procedure, key, "") or "") for key in RUN_METADATA}


def _describe(exc: OSError, path: Path, writer: ResultsWriter) -> str:
    return (f"writing {path} failed ({exc.strerror or exc}); the run was stopped with the outputs "
            f"off and the {writer.rows} rows written before it are intact")


def _safe_off(smu: SourceMeasure) -> bool:
    """Output off; True when confirmed. The device comes first, a failure here is not
    fatal to the report (the driver has already tried its way: clear, reconnect)."""
    try:
        smu.output_off()
        return True
    except Exception:
        return False


def _close(smu: SourceMeasure, off_done: bool = False) -> None:
    if not off_done:
        _safe_off(smu)
    try:
        smu.close()
    except Exception:
        pass


__all__ = ["run_procedure", "RunResult", "Target", "check_requests", "default_path",
           "Listener", "Progress", "FINISHED", "ABORTED", "FAILED"]
