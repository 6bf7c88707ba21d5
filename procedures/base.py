"""What every labqc procedure shares: instrument parameters, metadata, row conversion,
streaming a request, spot reads, progress and stop handling.

A procedure is a PyMeasure :class:`~pymeasure.experiment.Procedure` whose ``execute``
speaks only :mod:`labqc.instruments.smu`. A subclass provides:

- its Parameters (with units and the papers' defaults);
- :meth:`LabqcProcedure.validate`: physical sense of the parameters, one sentence on failure;
- :meth:`LabqcProcedure.requests`: every distinct request it will send (each is checked
  against the instrument's capabilities before anything is energised);
- :meth:`LabqcProcedure.estimated_duration`: instrument seconds, for progress and ETA;
- :meth:`LabqcProcedure.estimated_rows`: rows it writes, for `labqc plan check`;
- ``execute()``, built from :meth:`measure` (stream a request) and :meth:`read_point`;
- :meth:`LabqcProcedure.summary`: derived results for the summary file.

Rows leave the procedure a chunk at a time as ``self.emit("batch", rows)`` with ``rows``
the one typed chunk of the stream (labqc.chunk: a structured array of ROW, the results
columns), built once per driver chunk by :func:`reading_rows`. Progress goes out as
``self.emit("progress", Progress(...))``. Nothing here sleeps: time is the instrument's.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Sequence

import numpy as np
from pymeasure.experiment import (BooleanParameter, FloatParameter, IntegerParameter,
                                  ListParameter, Metadata, Parameter, Procedure)

from labqc.instruments.target import Target
from labqc.procedures.parameters import Float, Text
from labqc.instruments.smu import (KIND_PULSE, KIND_READ, READING, PulseTrain, Repeat, Request, Sampling, Sweep,
                                   readings_per)
from labqc import __version__
from labqc import chunk as rows_of
from labqc.chunk import COLUMNS
from labqc.units import G0, conductance, correct_series

#: Parameters that say who and what was measured, not how: recorded, never validated.
RUN_METADATA = ("sample", "device", "operator", "note")


#: chunks of rows merged into one array while a request runs (memory, not speed)
_MERGE_CHUNKS = 256


class ParameterError(ValueError):
    """A parameter set that makes no physical sense; the message is one sentence."""


class StopRequested(KeyboardInterrupt):
    """Raised inside a procedure when a stop was asked for. A KeyboardInterrupt, so that
    PyMeasure's Worker marks the run ABORTED and ``except Exception`` does not catch it."""


@dataclass(frozen=True)
class Progress:
    """How far a run is, in instrument seconds."""

    fraction: float  # 0..1
    elapsed: float  # instrument seconds since the first reading
    total: float  # estimated instrument seconds of the whole run

    @property
    def eta(self) -> float:
        return max(self.total - self.elapsed, 0.0)


class LabqcProcedure(Procedure):
    """Base of the labqc procedures: the series resistance used for G_corr, who was
    measured, and what the results file records about the run. Where it is measured (an
    instrument or the simulator) is not a parameter: the runner is handed a
    :class:`~labqc.instruments.target.Target` and records it here as Metadata."""

    r_series = Float("Series resistance", units="Ohm", default=0.0, minimum=0.0, maximum=1e9,
                     help="series resistance subtracted for G_corr/G0")
    pmu_load = Float("PMU series load", units="Ohm", default=0.0, minimum=0.0, maximum=1e7,
                     help="series resistance in the pulse path as you state it (0: none); a 4200A's PMU "
                          "has no current limit, so only this lets a pulse's compliance hold there")
    # Who was measured (RUN_METADATA): Parameters, so that the header, the summary, the
    # command line, the GUI form and the plans carry them with no code of their own.
    sample = Text("Sample", default="", help="the sample measured (e.g. a wafer or chip name), recorded with the run")
    device = Text("Device", default="", help="the device on the sample (e.g. NW1), recorded with the run")
    operator = Text("Operator", default="", help="who ran the measurement, recorded with the run")
    note = Text("Note", default="", help="a free-text note recorded with the run")

    instrument = Metadata("Instrument", default="")
    # The Target, under the names these lines have always had in the header.
    target_resource = Metadata("Resource", default="")
    target_preset = Metadata("Simulator preset", default="")
    target_seed = Metadata("Seed", default=0)
    target_time_scale = Metadata("Time scale", default=0.0, fmt="%g")
    g0 = Metadata("G0", units="S", default=G0, fmt="%.10g")
    r_s_used = Metadata("R_s", units="Ohm", default=0.0, fmt="%g")
    labqc_version = Metadata("labqc version", default=__version__)
    start_time = Metadata("Start time", default="")

    DATA_COLUMNS = list(COLUMNS)

    def __init__(self, **kwargs) -> None:
        unknown = [k for k in kwargs if not isinstance(getattr(type(self), k, None), Parameter)]
        if unknown:  # PyMeasure would drop them silently
            where = (" (where to measure is a Target handed to run_procedure)"
                     if set(unknown) & {"resource", "sim_preset", "seed", "time_scale"} else "")
            raise TypeError(f"{type(self).__name__} has no parameter {unknown[0]!r}{where}")
        super().__init__(**kwargs)
        self.smu = None  # set by the runner (labqc.procedures.runner) before execute()
        self._t0: float | None = None
        self._t_last = 0.0
        self._total: float | None = None
        self.compliance_hits = 0
        self.rows_emitted = 0

    # ---------------------------------------------------------------- for subclasses
    def validate(self) -> None:
        """Raise ParameterError (one sentence) if the parameters make no physical sense."""

    def requests(self) -> list[Request]:
        """Every distinct request the run will send (reads as one-point sweeps)."""
        return []

    def estimated_duration(self) -> float:
        """Instrument seconds the run is expected to take (an upper bound is fine)."""
        return sum(_request_duration(r) for r in self.requests())

    def estimated_rows(self) -> int:
        """Rows the run will write (an upper bound is fine): by default each request once,
        one row per reading. A procedure that loops over its requests says how often."""
        return sum(readings_per(r) for r in self.requests())

    def summary(self) -> dict:
        """Derived results of the run (JSON-able)."""
        return {}

    def summary_lines(self, summary: dict) -> list[str]:
        """A few human lines for the end of ``labqc run``."""
        return []

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def read_request(level: float, compliance: float, nplc: float) -> Sweep:
        """A spot read as a request, so that it is checked like the rest (one point, long
        enough for one integration at either line frequency)."""
        return Sweep(levels=[level], compliance=compliance, nplc=nplc, step_time=nplc / 50 * 1.5 + 0.01)

    def stamp_metadata(self, identity: str, target: Target | None = None) -> None:
        """Fill the Metadata values the runner knows once the instrument is open."""
        target = target if target is not None else Target()
        self.instrument = target.describe(identity)
        record = target.record()
        self.target_resource = record["Resource"]
        self.target_preset = record["Simulator preset"]
        self.target_seed = record["Seed"]
        self.target_time_scale = record["Time scale"]
        self.g0 = G0
        self.r_s_used = float(self.r_series)
        self.labqc_version = __version__
        self.start_time = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def check_stop(self) -> None:
        if self.should_stop():
            raise StopRequested("stop requested")

    def measure(self, request: Request | Repeat, *, cycle: int = 1, segment: str | Sequence[str] = "set",
                read_segment: str = "read", pulse_offset: int = 0,
                into: list | None = None, keep: bool = True) -> np.ndarray:
        """Run ``request``, emitting each chunk as rows (labqc.chunk); return all its rows.

        ``into``: a list each chunk's rows are appended to as they arrive, so that a
        procedure keeps what it measured even when the request is cut short. ``keep``
        False: each chunk goes to ``into`` (anything with ``append``, e.g. a running
        summary) and is then let go, so that memory stays flat; nothing is returned. A
        :class:`Repeat` numbers its repetitions ``cycle``, ``cycle + 1``, ... and
        ``segment`` may then name each of its steps.

        Pulse rows get ``Pulse = pulse_offset + index + 1`` and Segment "pulse"
        (KIND_PULSE) or ``read_segment`` (KIND_READ); other rows get ``segment``. The
        request is closed (abort + output off) on any exit, including a stop request.
        """
        self.check_stop()
        kept = [] if into is None or not keep else into
        start = len(kept)
        # Slow requests arrive one reading per chunk, and each small array has its own
        # overhead: they are merged in batches so that an overnight retention stays flat.
        pending: list[np.ndarray] = []
        names = [segment] if isinstance(segment, str) else list(segment)
        steps = rows_of.segments(names, len(names))
        seen = 0
        try:
            with contextlib.closing(self.smu.run(request)) as chunks:
                for chunk in chunks:
                    if self._t0 is None and len(chunk):
                        # The run began one step (sample time, pulse width) before its first reading.
                        self._t0 = float(chunk["t"][0]) - first_reading_offset(request)
                    cycles, segments = cycle, steps[0]
                    if isinstance(request, Repeat):  # which repetition and step each reading is
                        repetition, step = request.locate(seen, len(chunk))
                        cycles, segments = cycle + repetition, steps[np.minimum(step, len(steps) - 1)]
                    seen += len(chunk)
                    rows = self.to_rows(chunk, cycle=cycles, segment=segments,
                                        read_segment=read_segment, pulse_offset=pulse_offset)
                    self.emit_rows(rows)
                    if not keep:
                        if into is not None:
                            into.append(rows)
                        self.check_stop()
                        continue
                    pending.append(rows)
                    if len(pending) >= _MERGE_CHUNKS:
                        kept.append(rows_of.concat(pending))
                        pending = []
                    self.check_stop()
        finally:
            if pending:
                kept.append(rows_of.concat(pending))
        return rows_of.concat(kept[start:])

    def read_point(self, level: float, compliance: float, *, cycle: int = 1,
                   segment: str = "read", nplc: float = 1.0, pulse: int = -1) -> np.void:
        """One spot reading at ``level`` V, emitted as one row; returns that row (index it
        by column name: ``row["G/G0"]``)."""
        self.check_stop()
        reading = self.smu.read(level, compliance=compliance, source="V", nplc=nplc)
        rows = self.to_rows(reading, cycle=cycle, segment=segment)
        if pulse >= 0:
            rows["Pulse"] = pulse
        self.emit_rows(rows)
        return rows[-1]

    def to_rows(self, chunk: np.ndarray, *, cycle: int | np.ndarray = 1,
                segment: str | np.ndarray = "set", read_segment: str = "read",
                pulse_offset: int = 0) -> np.ndarray:
        """READING chunk -> rows (labqc.chunk ROW; vectorised; G, G/G0, G_corr/G0 computed)."""
        return reading_rows(chunk, t0=self._origin(chunk), r_series=float(self.r_series or 0.0),
                            cycle=cycle, segment=segment, read_segment=read_segment,
                            pulse_offset=pulse_offset)

    def _origin(self, chunk: np.ndarray) -> float:
        if self._t0 is None and len(chunk):
            self._t0 = float(chunk["t"][0])
        return self._t0 if self._t0 is not None else 0.0

    def emit_rows(self, rows: np.ndarray) -> None:
        """Hand one chunk of rows to the runner (which writes it, then tells the listeners)."""
        if not len(rows):
            return
        self.rows_emitted += len(rows)
        self.compliance_hits += int(np.count_nonzero(rows["Compliance"]))
        self._t_last = max(self._t_last, float(rows["Time (s)"][-1]))
        rows.flags.writeable = False  # every subscriber gets this same array: none may change it
        self.emit("batch", rows)
        if self._total is None:  # the estimate is the parameters' and cannot change during a run
            self._total = max(self.estimated_duration(), 1e-9)
        total = self._total
        self.emit("progress", Progress(min(self._t_last / total, 1.0), self._t_last, total))

    @property
    def elapsed(self) -> float:
        """Instrument seconds since the first reading of the run."""
        return self._t_last


def reading_rows(chunk: np.ndarray, *, t0: float = 0.0, r_series: float = 0.0,
                 cycle: int | np.ndarray = 1, segment: str | np.ndarray = "set",
                 read_segment: str = "read", pulse_offset: int = 0) -> np.ndarray:
    """A READING array as rows with the results columns (labqc.chunk ROW), vectorised.

    G = I/V (NaN at V = 0), G/G0, and G_corr/G0 with ``r_series`` removed. Readings of
    kind KIND_PULSE/KIND_READ are numbered in the Pulse column (``pulse_offset + index +
    1``) and labelled "pulse"/``read_segment``; others get ``segment`` and Pulse -1.
    """
    if chunk.dtype != READING:
        raise TypeError(f"expected a READING array, got dtype {chunk.dtype}")
    n = len(chunk)
    rows = rows_of.empty(n)
    v, i = chunk["v"], chunk["i"]
    g = conductance(v, i)
    rows["Time (s)"] = chunk["t"] - t0
    rows["Source (V|A)"] = chunk["source"]
    rows["Voltage (V)"] = v
    rows["Current (A)"] = i
    rows["G (S)"] = g
    rows["G/G0"] = g / G0
    rows["G_corr/G0"] = correct_series(g, r_series) / G0 if r_series else g / G0
    rows["Compliance"] = chunk["compliance"]
    rows["Cycle"] = cycle
    rows["Segment"] = rows_of.segments(segment, n)
    kind = chunk["kind"]
    rows["Pulse"] = -1
    if kind.any():  # pulse tops and reads between pulses (KIND_POINT is 0)
        is_pulse, is_read = kind == KIND_PULSE, kind == KIND_READ
        rows["Segment"][is_pulse] = "pulse"
        rows["Segment"][is_read] = rows_of.segments(read_segment, 1)
        numbered = is_pulse | is_read
        rows["Pulse"][numbered] = pulse_offset + chunk["index"][numbered] + 1
    return rows


def first_reading_offset(request: Request | Repeat) -> float:
    """Seconds from the start of ``request`` to its first reading (nominal)."""
    if isinstance(request, Repeat):
        return first_reading_offset(request.steps[0])
    if isinstance(request, Sampling):
        return float(request.times[0])
    if isinstance(request, PulseTrain):
        return float(request.width)
    return float(getattr(request, "step_time", 0.0))


def _request_duration(request: Request) -> float:
    return float(getattr(request, "duration", 0.0))


def triangle(v_peak: float, step: float) -> np.ndarray:
    """Levels 0 -> v_peak -> 0 in steps of ``step`` (V, > 0), both ends included."""
    if not (step > 0 and math.isfinite(step)):
        raise ParameterError(f"the voltage step must be > 0, got {step!r} V")
    n = max(int(round(abs(v_peak) / step)), 1)
    up = np.linspace(0.0, v_peak, n + 1)
    return np.concatenate([up, up[-2::-1]])


def ramp(stop: float, step: float) -> np.ndarray:
    """Levels from one step above 0 up to ``stop`` (sign of ``stop``), ``step`` > 0."""
    if not (step > 0 and math.isfinite(step)):
        raise ParameterError(f"the step must be > 0, got {step!r}")
    n = max(int(round(abs(stop) / step)), 1)
    return np.linspace(0.0, stop, n + 1)[1:]


def require(condition: bool, sentence: str) -> None:
    """Raise ParameterError(sentence) unless ``condition``."""
    if not condition:
        raise ParameterError(sentence)


def parameter_specs(cls: type[LabqcProcedure]) -> Iterable[tuple[str, object]]:
    """(attribute name, Parameter) pairs of a procedure class in the order they are
    declared (procedures/parameters.py), those every procedure has (LabqcProcedure's) last."""
    own, common = [], []
    for name in dir(cls):
        p = getattr(cls, name, None)
        if isinstance(p, Parameter):
            (common if isinstance(vars(LabqcProcedure).get(name), Parameter) else own).append((name, p))
    own.sort(key=lambda item: getattr(item[1], "order", 0))
    common.sort(key=lambda item: getattr(item[1], "order", 0))
    return own + common


__all__ = [
    "LabqcProcedure", "ParameterError", "StopRequested", "Progress", "reading_rows", "triangle",
    "ramp", "require", "parameter_specs", "BooleanParameter", "FloatParameter",
    "IntegerParameter", "ListParameter", "Parameter", "RUN_METADATA",
]
