"""The one source-measure interface procedures use.

A procedure asks for *what* to do (a :class:`Sweep`, a :class:`PulseTrain`, a
:class:`Sampling`, or a spot :meth:`SourceMeasure.read`); the driver carries it out the
instrument's own best way (trigger model, timers, PMU, buffered sampling) and streams the
readings back in chunks while the instrument is still working. Every chunk is a numpy
structured array of dtype :data:`READING`.

A :class:`Repeat` runs a short list of those requests K times (an endurance batch); a
driver may loop on the instrument, the base class runs the steps one by one.

Safety is built into :meth:`SourceMeasure.run`: the request is checked against the
instrument's :class:`Capabilities` before anything is sent, the driver sets compliance
before it turns an output on, and whatever ends the iteration (exhaustion, ``break``,
``close()``, an exception, KeyboardInterrupt) turns the output off.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator, Union

import numpy as np

from labqc.instruments.errors import CapabilityError
from labqc.quantity import format_quantity

#: One reading. ``t``: instrument seconds, monotonic within one driver session (the
#: instrument's timestamps plus an offset the driver keeps). ``source``: the programmed
#: level (V or A). ``v``, ``i``: measured volts and amps. ``compliance``: the limit was in
#: control. ``index``: position of the step within its request (sweep point, pulse or
#: sample number). ``kind``: what the reading is, one of the KIND_* values.
READING = np.dtype([
    ("t", "f8"), ("source", "f8"), ("v", "f8"), ("i", "f8"),
    ("compliance", "?"), ("index", "i8"), ("kind", "i1"),
])
KIND_POINT = 0  # a sweep point or a constant-bias sample
KIND_PULSE = 1  # measured on the top of a pulse
KIND_READ = 2  # a read between pulses


def _q(value: float, unit: str) -> str:
    """A value in a refusal as labqc shows every value, with its SI prefix (10 nA, 100 µs)."""
    return format_quantity(value, unit)


def _floats(x) -> np.ndarray:
    return np.atleast_1d(np.asarray(x, dtype=float))


@dataclass(frozen=True)
class Sweep:
    """Source each level in turn for ``step_time`` seconds and measure at the end of each.

    ``source`` "V": levels in volts, ``compliance`` in amps; "I": amps and volts.
    ``measure_range``: fixed measure range (A for a V source, V for an I source), or None
    for autorange. Levels may be any list (a bipolar loop is one sweep).
    """

    levels: np.ndarray
    compliance: float
    source: str = "V"
    step_time: float = 10e-3
    nplc: float = 0.01
    measure_range: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", _floats(self.levels))

    @property
    def points(self) -> int:
        return len(self.levels)

    @property
    def duration(self) -> float:
        return self.points * self.step_time


@dataclass(frozen=True)
class PulseTrain:
    """Voltage pulses from ``base``: pulse k has height ``amplitudes[k]`` for ``width`` s,
    one pulse every ``period`` s. With ``read_levels`` each pulse is followed, inside its
    period, by a read of ``read_width`` s at ``read_levels[k]``. Yields one KIND_PULSE
    reading per pulse (mean over the top of the pulse) and, with reads, one KIND_READ.
    Use :meth:`uniform` for a train of identical pulses. ``series_load``: see below.
    """

    amplitudes: np.ndarray
    width: float
    period: float
    compliance: float
    base: float = 0.0
    read_levels: np.ndarray | None = None
    read_width: float = 1e-3
    nplc: float = 0.01
    measure_range: float | None = None
    #: Ohms in series with the device on the pulse path, as the user states them: a pulse
    #: source with no current limit of its own (the 4200A's PMU) relies on it; None: none.
    series_load: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "amplitudes", _floats(self.amplitudes))
        if self.read_levels is not None:
            reads = np.broadcast_to(_floats(self.read_levels), self.amplitudes.shape).copy()
            object.__setattr__(self, "read_levels", reads)

    @classmethod
    def uniform(cls, amplitude: float, count: int, **kw) -> "PulseTrain":
        read = kw.pop("read_level", None)
        if read is not None:
            kw["read_levels"] = np.full(int(count), float(read))
        return cls(amplitudes=np.full(int(count), float(amplitude)), **kw)

    @property
    def count(self) -> int:
        return len(self.amplitudes)

    @property
    def duration(self) -> float:
        return self.count * self.period


@dataclass(frozen=True)
class Sampling:
    """Hold ``level`` and read at the instants ``times`` (s from the start, increasing),
    e.g. a retention test. Intervals longer than the instrument times by itself are
    allowed; the driver chains its own timed blocks. Build with :meth:`linear` or :meth:`log`.
    """

    level: float
    compliance: float
    times: np.ndarray
    source: str = "V"
    nplc: float = 1.0
    measure_range: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "times", _floats(self.times))

    @classmethod
    def linear(cls, level: float, compliance: float, interval: float, duration: float, **kw) -> "Sampling":
        if not (interval > 0 and duration >= interval):
            raise ValueError(f"need 0 < interval <= duration, got interval={interval} s, duration={duration} s")
        n = int(math.floor(duration / interval + 1e-9))
        return cls(level, compliance, interval * np.arange(1, n + 1), **kw)

    @classmethod
    def log(cls, level: float, compliance: float, first: float, duration: float,
            per_decade: int = 10, **kw) -> "Sampling":
        if not (first > 0 and duration > first and per_decade >= 1):
            raise ValueError("need 0 < first < duration and per_decade >= 1 for log sampling")
        n = int(math.ceil(per_decade * math.log10(duration / first))) + 1
        times = np.unique(np.round(np.geomspace(first, duration, n), 9))
        return cls(level, compliance, times, **kw)

    @property
    def points(self) -> int:
        return len(self.times)

    @property
    def duration(self) -> float:
        return float(self.times[-1]) if len(self.times) else 0.0


Request = Union[Sweep, PulseTrain, Sampling]


def readings_per(request: Request) -> int:
    """How many readings ``request`` yields: one per sweep point or sample, one per pulse
    plus one per read of a pulse train with reads."""
    if isinstance(request, PulseTrain):
        return request.count * (1 if request.read_levels is None else 2)
    return int(request.points)


@dataclass(frozen=True)
class Repeat:
    """Run ``steps`` in order, ``count`` times: e.g. an endurance batch of K cycles of
    (SET pulse, read, RESET pulse, read) with one compliance per step. Each step keeps its
    own compliance, levels and timing; the output is off between steps, as between
    separate requests. A driver may loop on the instrument; the generic one runs the
    steps one by one (:meth:`SourceMeasure._repeat`).

    Readings arrive in order: repetition 0's step 0, step 1, ..., then repetition 1 ...,
    exactly :attr:`per_repeat` per repetition. ``index`` and ``kind`` of each reading are
    those its step gives it (:meth:`locate` says which repetition and step it belongs to).
    """

    steps: tuple[Request, ...]
    count: int

    def __post_init__(self) -> None:
        if self.count != int(self.count):
            raise ValueError(f"a Repeat count must be a whole number, got {self.count!r}")
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "count", int(self.count))

    @property
    def per_repeat(self) -> int:
        """Readings per repetition."""
        return sum(readings_per(s) for s in self.steps)

    @property
    def points(self) -> int:
        return self.count * self.per_repeat

    @property
    def duration(self) -> float:
        return self.count * sum(float(s.duration) for s in self.steps)

    def locate(self, first: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(repetition, step) of the readings ``first`` .. ``first + n - 1`` (0-based, in
        the order they arrive), as two integer arrays."""
        sizes = np.array([readings_per(s) for s in self.steps])
        position = np.arange(first, first + n)
        repetition, within = np.divmod(position, max(int(sizes.sum()), 1))
        step = np.searchsorted(np.cumsum(sizes), within, side="right")
        return repetition, step


@dataclass(frozen=True)
class Capabilities:
    """What one instrument channel can do; every request is checked against it."""

    model: str
    max_voltage: float  # |V| it can source, V
    max_current: float  # |I| it can source, A
    min_compliance: float  # smallest current limit honoured, A
    voltage_ranges: tuple[float, ...]
    current_ranges: tuple[float, ...]
    nplc_range: tuple[float, float]
    max_sweep_points: int
    min_step_time: float  # s
    min_pulse_width: float  # s
    max_pulse_count: int
    max_samples: int  # readings one Sampling may ask for
    pulse_capable: bool = True
    extra: dict = field(default_factory=dict)

    def check(self, request: Request) -> None:
        """Raise CapabilityError naming the first limit the request exceeds."""
        if isinstance(request, Sweep):
            self._check_sweep(request)
        elif isinstance(request, PulseTrain):
            self._check_pulses(request)
        elif isinstance(request, Sampling):
            self._check_sampling(request)
        elif isinstance(request, Repeat):
            self._check_repeat(request)
        elif getattr(request, "is_search", False):  # a Search (instruments/search.py)
            request.check_against(self)
        else:
            raise CapabilityError(f"the {self.model} cannot run a {type(request).__name__}")

    # Each helper below says which limit, with the value asked for and the value allowed.
    def _fail(self, what: str) -> None:
        raise CapabilityError(f"The {self.model} cannot do this: {what}.")

    def _check_source(self, source: str, levels: np.ndarray, compliance: float) -> None:
        if source not in ("V", "I"):
            self._fail(f"source must be 'V' or 'I', not {source!r}")
        if levels.size == 0:
            self._fail("the request has no levels")
        if not np.all(np.isfinite(levels)):
            self._fail("a source level is not a finite number")
        if not (math.isfinite(compliance) and compliance > 0):
            self._fail(f"compliance must be a finite value > 0, got {compliance!r}")
        peak = float(np.max(np.abs(levels)))
        if source == "V":
            if peak > self.max_voltage:
                self._fail(f"|V| = {_q(peak, 'V')} exceeds the maximum of {_q(self.max_voltage, 'V')}")
            if compliance > self.max_current:
                self._fail(f"current compliance {_q(compliance, 'A')} exceeds {_q(self.max_current, 'A')}")
            if compliance < self.min_compliance:
                self._fail(f"current compliance {_q(compliance, 'A')} is below the smallest limit "
                           f"{_q(self.min_compliance, 'A')}")
        else:
            if peak > self.max_current:
                self._fail(f"|I| = {_q(peak, 'A')} exceeds the maximum of {_q(self.max_current, 'A')}")
            if compliance > self.max_voltage:
                self._fail(f"voltage compliance {_q(compliance, 'V')} exceeds {_q(self.max_voltage, 'V')}")

    def _check_nplc(self, nplc: float) -> None:
        lo, hi = self.nplc_range
        if not (lo <= nplc <= hi):
            self._fail(f"NPLC {nplc:g} is outside {lo:g} to {hi:g}")

    # Public for request types that check themselves against these limits (instruments/search.py).
    def refuse(self, what: str) -> None:
        """Raise CapabilityError: The <model> cannot do this: <what>."""
        self._fail(what)

    def check_source(self, source: str, levels: np.ndarray, compliance: float) -> None:
        """Refuse a source ("V"/"I"), its ``levels`` or its ``compliance`` beyond the limits."""
        self._check_source(source, levels, compliance)

    def check_nplc(self, nplc: float) -> None:
        """Refuse an integration time outside ``nplc_range``."""
        self._check_nplc(nplc)

    def _check_sweep(self, s: Sweep) -> None:
        self._check_source(s.source, s.levels, s.compliance)
        self._check_nplc(s.nplc)
        if s.points > self.max_sweep_points:
            self._fail(f"{s.points} sweep points exceed the maximum of {self.max_sweep_points}")
        if not (s.step_time >= self.min_step_time):
            self._fail(f"a step time of {_q(s.step_time, 's')} is below the minimum of {_q(self.min_step_time, 's')}")

    def _check_pulses(self, p: PulseTrain) -> None:
        if not self.pulse_capable:
            self._fail("it has no pulse source")
        levels = p.amplitudes if p.read_levels is None else np.concatenate([p.amplitudes, p.read_levels])
        self._check_source("V", np.append(levels, p.base), p.compliance)
        self._check_nplc(p.nplc)
        if p.count < 1 or p.count > self.max_pulse_count:
            self._fail(f"{p.count} pulses is outside 1 to {self.max_pulse_count}")
        if not (p.width >= self.min_pulse_width):
            self._fail(f"a pulse width of {_q(p.width, 's')} is below the minimum of {_q(self.min_pulse_width, 's')}")
        busy = p.width + (p.read_width if p.read_levels is not None else 0.0)
        if not (p.period > busy):
            self._fail(f"a period of {_q(p.period, 's')} leaves no time after the {_q(busy, 's')} of pulse and read")

    def _check_repeat(self, r: Repeat) -> None:
        if not r.steps:
            self._fail("a Repeat needs at least one step")
        if r.count < 1:
            self._fail(f"a Repeat count of {r.count} is below 1")
        for step in r.steps:
            if not isinstance(step, (Sweep, PulseTrain, Sampling)):
                self._fail(f"a Repeat step must be a Sweep, PulseTrain or Sampling, not a {type(step).__name__}")
            self.check(step)  # the subclass's check, with its own timing rules

    def _check_sampling(self, s: Sampling) -> None:
        self._check_source(s.source, np.array([s.level]), s.compliance)
        self._check_nplc(s.nplc)
        if s.points < 1 or s.points > self.max_samples:
            self._fail(f"{s.points} samples is outside 1 to {self.max_samples}")
        if s.times[0] < 0 or np.any(np.diff(s.times) <= 0):
            self._fail("sampling times must start at >= 0 s and increase")


class SourceMeasure(ABC):
    """One SMU channel, whatever the instrument. Use as a context manager."""

    capabilities: Capabilities
    identity: str = ""  # what the instrument says it is (*IDN?)

    def run(self, request: Request | Repeat) -> Iterator[np.ndarray]:
        """Check, then carry out ``request``, yielding READING chunks as they arrive.

        The output is off when the iteration ends, however it ends. Closing the iterator
        early (``break`` then ``close()``, or garbage collection) aborts the instrument.
        """
        self.capabilities.check(request)
        finished = False
        try:
            if getattr(request, "is_search", False):
                yield from self._search(request)
            else:
                yield from (self._repeat(request) if isinstance(request, Repeat) else self._stream(request))
            finished = True
        finally:
            try:
                if not finished:
                    self.abort()
            finally:
                self.output_off()

    def check(self, request: Request) -> None:
        """Refuse a request beyond the instrument's capabilities (nothing is sent)."""
        self.capabilities.check(request)

    @abstractmethod
    def _stream(self, request: Request) -> Iterator[np.ndarray]:
        """Configure (compliance before output on), start, and stream chunks."""

    def _repeat(self, request: Repeat) -> Iterator[np.ndarray]:
        """Generic :class:`Repeat`: each step as its own request, the output turned off
        between steps exactly as between separate :meth:`run` calls (:meth:`run` turns it off
        after the last). A driver that can loop on the instrument overrides this."""
        first = True
        for _ in range(request.count):
            for step in request.steps:
                if not first:
                    self.output_off()
                first = False
                yield from self._stream(step)

    #: How the last Search ended (instruments/search.SearchOutcome), None before any.
    last_search = None

    def _search(self, request) -> Iterator[np.ndarray]:
        """A Search (instruments/search.py), decided on the host between one-level
        requests; a driver that can decide on the instrument overrides this."""
        from labqc.instruments.search import host_search

        yield from host_search(self, request, self._stream)

    @abstractmethod
    def read(self, level: float, *, compliance: float, source: str = "V", nplc: float = 1.0) -> np.ndarray:
        """One spot reading at ``level`` (output on, measure, output off); a 1-element READING array."""

    @abstractmethod
    def abort(self) -> None:
        """Stop whatever the instrument is doing and turn the output off."""

    @abstractmethod
    def output_off(self) -> None:
        """Turn every output this driver energised off. Safe to call at any time, twice."""

    def close(self) -> None:
        """Release the connection (after :meth:`output_off`)."""

    def __enter__(self) -> "SourceMeasure":
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.output_off()
        finally:
            self.close()


def empty_chunk(n: int = 0) -> np.ndarray:
    return np.zeros(n, dtype=READING)
