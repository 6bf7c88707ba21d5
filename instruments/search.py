"""A request that steps a voltage until a condition is met: :class:`Search`.

"Ramp (or pulse-and-read) until ..." is what breakdown, forming, program-to-level and
threshold searches ask of an instrument. The levels go ``start, start + step, ...`` up to
``stop`` (both signs allowed); at each level either the level is held for ``step_time`` and
read at its end (``width`` None: a ramp), or a pulse of ``width`` is applied and followed by
a read at ``read_level`` (a pulse-and-read). The first reading that meets ``until`` (a
:class:`Stop`) ends the request: the output goes off at once.

A driver that can decide on the instrument does so (the 2614B in its own Lua script, one
round trip per chunk: instruments/tsp_search.py); :func:`host_search` is the generic way,
deciding on the host between one-level requests, which every :class:`SourceMeasure` can
run (the 4200A over KXCI). Either way :attr:`SourceMeasure.last_search` holds the
:class:`SearchOutcome`: whether the condition was met, at which level, and the stop latency
(instrument seconds from the reading that met it to the output change; None when the host
decided and the instrument's clock does not say).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from labqc.instruments.errors import CapabilityError
from labqc.quantity import format_quantity

#: Conditions a search can stop on. G = |I|/|V| of the evaluated reading.
STOP_KINDS = ("g_above", "g_below", "i_drop", "g_jump")
#: Most levels one search may step through.
MAX_SEARCH_LEVELS = 100_000


@dataclass(frozen=True)
class Stop:
    """When a search stops.

    - ``g_above``: G >= ``value`` (S): a SET or forming reached its target.
    - ``g_below``: G <= ``value`` (S): a RESET reached its target.
    - ``i_drop``: |I| < ``value`` x the largest |I| so far (0 < value < 1), once that largest
      |I| is at least ``floor`` (A): a breakdown (a gap forms, the current drops).
    - ``g_jump``: G >= (1 + ``value``) x the previous reading's G, with |I| >= ``floor``:
      forming (a sudden rise).
    """

    kind: str
    value: float
    floor: float = 1e-9

    def __post_init__(self) -> None:
        if self.kind not in STOP_KINDS:
            raise ValueError(f"a stop condition is one of {', '.join(STOP_KINDS)}, not {self.kind!r}")
        if not (math.isfinite(self.value) and self.value > 0):
            raise ValueError(f"the stop value must be a finite number > 0, got {self.value!r}")
        if self.kind == "i_drop" and not self.value < 1:
            raise ValueError(f"a current drop is a fraction below 1, got {self.value!r}")

    def describe(self) -> str:
        g0 = 7.748091729e-5
        return {"g_above": f"G >= {self.value / g0:.3g} G0", "g_below": f"G <= {self.value / g0:.3g} G0",
                "i_drop": f"|I| falls below {self.value:.0%} of its largest value",
                "g_jump": f"G rises by {self.value:.0%} from one reading to the next"}[self.kind]


class StopState:
    """The running state a condition needs (largest |I|, previous G), and its test."""

    def __init__(self, stop: Stop) -> None:
        self.stop = stop
        self.i_max = 0.0
        self.g_prev: float | None = None

    def met(self, i: float, v: float) -> bool:
        s, ai, av = self.stop, abs(i), abs(v)
        if s.kind == "g_above":
            return ai >= s.value * av
        if s.kind == "g_below":
            return ai <= s.value * av
        if s.kind == "i_drop":
            hit = self.i_max >= s.floor and ai < s.value * self.i_max
            self.i_max = max(self.i_max, ai)
            return hit
        g = ai / av if av > 0 else 0.0
        hit = self.g_prev is not None and ai >= s.floor and g >= (1 + s.value) * self.g_prev
        self.g_prev = g
        return hit


@dataclass(frozen=True)
class Search:
    """Step ``start`` -> ``stop`` (V) in ``step`` until ``until`` is met (see the module)."""

    start: float
    stop: float
    step: float
    compliance: float
    until: Stop
    step_time: float = 10e-3  # ramp: time per level; pulse-and-read: period of one pulse and read
    width: float | None = None  # pulse width (s); None: a ramp
    read_level: float = 0.1  # pulse-and-read: the read after each pulse (V)
    read_width: float = 1e-3
    read_compliance: float | None = None  # None: the pulse's compliance
    nplc: float = 0.01
    measure_range: float | None = None

    is_search = True  # how smu.py recognises it without importing this module

    @property
    def pulsed(self) -> bool:
        return self.width is not None

    @property
    def count(self) -> int:
        if not (self.step and math.isfinite(self.step)):
            return 0
        return int(math.floor(abs(self.stop - self.start) / abs(self.step) + 1e-9)) + 1

    @property
    def levels(self) -> np.ndarray:
        sign = 1.0 if self.stop >= self.start else -1.0
        return self.start + sign * abs(self.step) * np.arange(self.count)

    @property
    def points(self) -> int:
        return self.count * (2 if self.pulsed else 1)

    @property
    def duration(self) -> float:
        return self.count * self.step_time

    def check_against(self, caps) -> None:
        """The Capabilities checks (one sentence naming the limit), before anything is sent."""
        fail = caps.refuse
        if not (math.isfinite(self.step) and self.step != 0):
            fail(f"a search needs a step other than 0 V, got {self.step!r}")
        peak = max(abs(self.start), abs(self.stop))
        if peak > caps.max_voltage:
            fail(f"the search would reach {peak:g} V, beyond the {caps.max_voltage:g} V range")
        if self.count > MAX_SEARCH_LEVELS:
            fail(f"{self.count} search levels exceed the maximum of {MAX_SEARCH_LEVELS}")
        caps.check_source("V", np.array([self.start, self.stop]), self.compliance)
        caps.check_nplc(self.nplc)
        if not (self.step_time >= caps.min_step_time):
            fail(f"a step time of {_s(self.step_time)} is below the minimum of {_s(caps.min_step_time)}")
        if self.pulsed:
            if not caps.pulse_capable:
                fail("it has no pulse source")
            caps.check_source("V", np.array([self.read_level]), self.read_compliance or self.compliance)
            if not (self.width >= caps.min_pulse_width):
                fail(f"a pulse width of {_s(self.width)} is below the minimum of {_s(caps.min_pulse_width)}")
            if not (self.step_time > self.width + self.read_width):
                fail(f"a period of {_s(self.step_time)} leaves no time after the pulse and the read")
            if self.read_level == 0:
                fail("the read after each pulse needs a voltage other than 0 V")
        # each level as the instrument will run it when the host decides (e.g. the 4200A's
        # route for a pulse: PMU or SMU), so a refusal comes before the output turns on
        for _, first in steps_of(self):
            caps.check(first)
            if self.pulsed and hasattr(caps, "route"):
                caps.route(first)
            break


@dataclass
class SearchOutcome:
    """How a search ended."""

    met: bool
    index: int | None = None  # the level (0-based) whose reading met the condition
    level: float | None = None  # that level, V
    latency: float | None = None  # instrument s from that reading to the output change
    latency_clock: str = "instrument"  # "instrument", or "host" when only the host's clock measured it
    levels_done: int = 0
    notes: list[str] = field(default_factory=list)


def steps_of(search: Search):
    """The one-level requests of the generic search, in order."""
    from labqc.instruments.smu import PulseTrain, Sweep

    for k, level in enumerate(search.levels):
        if search.pulsed:
            yield k, PulseTrain(amplitudes=[level], width=search.width, period=search.step_time,
                                compliance=search.compliance, read_levels=[search.read_level],
                                read_width=search.read_width, nplc=search.nplc,
                                measure_range=search.measure_range)
        else:
            yield k, Sweep(levels=[level], compliance=search.compliance, step_time=search.step_time,
                           nplc=search.nplc, measure_range=search.measure_range)


def host_search(smu, search: Search, stream: Callable[[object], Iterator[np.ndarray]]) -> Iterator[np.ndarray]:
    """The generic search: each level its own request, the condition decided on the host
    between them (a round trip per level). ``stream(request)``: the driver's way of carrying
    out one request (SourceMeasure passes its own). The output is off between levels and
    goes off at once when the condition is met."""
    state = StopState(search.until)
    outcome = SearchOutcome(met=False, latency_clock="host")
    smu.last_search = outcome
    for k, request in steps_of(search):
        chunks = [c for c in stream(request)]
        if not chunks:
            continue
        chunk = np.concatenate(chunks)
        chunk["index"] = k
        outcome.levels_done = k + 1
        reading = chunk[-1]  # the read after a pulse, or the ramp step's reading
        if state.met(float(reading["i"]), float(reading["v"])):
            seen = time.perf_counter()
            smu.output_off()
            outcome.met, outcome.index, outcome.level = True, k, float(search.levels[k])
            outcome.latency = time.perf_counter() - seen
            yield chunk
            return
        smu.output_off()
        yield chunk


def refuse(model: str, what: str) -> None:
    raise CapabilityError(f"The {model} cannot do this: {what}.")


def _s(seconds: float) -> str:
    """A time in a refusal, with its SI prefix (50 µs, 2 ms), as labqc shows every value."""
    return format_quantity(seconds, "s", 3)


__all__ = ["Search", "Stop", "StopState", "SearchOutcome", "host_search", "steps_of", "STOP_KINDS"]
