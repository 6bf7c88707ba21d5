"""Keithley 2614B driver (TSP over GPIB, LAN or USB) behind :class:`labqc.instruments.smu.SourceMeasure`.

Every operation is timed by the instrument, never by this computer:

- :class:`~labqc.instruments.smu.Sweep`: trigger-model list sweep (``listv``/``listi``, or
  ``linearv``/``lineari`` for an even ramp); trigger timer 1 paces the steps and each
  point is measured at the end of its step (``measure.delay``).
- :class:`~labqc.instruments.smu.PulseTrain`: pulsed list sweep after the 2600B pulsed-sweep
  example: timer 1 starts each step, timer 2 places the measurement at the end of the
  pulse, timer 3 ends the pulse (``endpulse.action = SOURCE_IDLE`` returns to the base).
  With reads, pulse and read alternate as list steps and the timers run delay lists.
- :class:`~labqc.instruments.smu.Sampling`: constant bias; timer 1 triggers each measurement at
  the requested instants (any interval, unlike ``measure.interval``'s 1 s cap), in
  programs of at most ``PROGRAM_SECONDS`` (and one buffer); a gap longer than a program
  is held by programs without readings.
- :class:`~labqc.instruments.smu.Repeat` (an endurance batch): a Lua loop on the instrument. Each
  step's trigger-model set-up becomes a function (limits first); the loop runs K cycles,
  turning the output on only with an empty error queue and off after every step, and
  appends every reading to the buffers. One round trip per chunk of cycles (about half a
  second): ``_R(n, fresh)``, then a query whose reply is the error count and, if it is 0,
  the chunk's readings.

Each trigger-model run is one program on the instrument (:meth:`Keithley2614B._program`):
it turns the output on only with an empty error queue, runs the trigger model, prints
each chunk of readings as they exist (``printbuffer`` waits for them; REAL64 binary read
by byte count, about half a second of instrument time per chunk; across a long gap a line
every ``PATIENCE`` s, so a caller can stop), and ends with the output off on the
instrument whatever happened (``pcall``). A host that dies leaves the device biased at
most until the running program's planned end. Readings are stored in ``nvbuffer1`` (I,
timestamps, source values) and ``nvbuffer2`` (V).

Safety: compliance (``source.limiti``/``limitv`` and ``trigger.source.limiti``/``limitv``)
is set in messages sent before the one that turns the output on, and that message turns
it on only if the instrument's error queue is empty, so a setting the instrument refused
never leaves it sourcing with a stale limit. :meth:`Keithley2614B.output_off` reads both
outputs back to confirm (skipping what a cut-short program still prints), and falls back
to device clear, then up to RECONNECT_TRIES reconnections.

The wire is :class:`TSPLink`, a PyMeasure :class:`~pymeasure.instruments.Instrument`
(byte-exact tests with ``pymeasure.test.expected_protocol``); it maps VISA failures onto
:mod:`labqc.instruments.errors` and resynchronises with a device clear after a timeout. On a
pyvisa-py raw socket every wait is bounded and a closed connection is noticed at once
(:mod:`labqc.instruments.visa_io`).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyvisa
from pymeasure.instruments import Instrument

from labqc.instruments.errors import (
    CapabilityError, ConnectionLost, InstrumentReportedError, InstrumentTimeout, ProtocolError,
)
from labqc.instruments.smu import (
    KIND_POINT, KIND_PULSE, KIND_READ, Capabilities, PulseTrain, Repeat, Request, Sampling, SourceMeasure,
    Sweep, empty_chunk,
)
from labqc.instruments import visa_io
from labqc.instruments.tsp_programs import PROGRAM_LIMIT, part, sweep_spans, tail_seconds, train_spans
from labqc.instruments.tsp_format import (
    MAX_MESSAGE_BYTES, STATUS_COMPLIANCE, is_linear, lua_table, num, parse_bool, parse_error, parse_number,
    parse_print, parse_real64_block, real64_block_size,
)

log = logging.getLogger(__name__)

#: Instrument time per reading beyond the integration itself (source, A/D set-up, store).
READING_OVERHEAD = 100e-6
#: The measurement ends this long before its pulse does (2600B pulsed-sweep example).
PULSE_MARGIN = 60e-6


@dataclass(frozen=True)
class TimedCapabilities(Capabilities):
    """The declared limits plus the 2600B's timing rule: each step, pulse, read and sampling
    interval must hold one reading at the requested NPLC (which depends on the line
    frequency). Checked with everything else, before anything is sent."""

    linefreq: float = 60.0

    def aperture(self, nplc: float) -> float:
        """Seconds one integration takes."""
        return nplc / self.linefreq

    def reading_time(self, nplc: float) -> float:
        """Seconds the instrument needs for one reading (integration + overhead)."""
        return self.aperture(nplc) + READING_OVERHEAD

    def check(self, request: Request) -> None:
        super().check(request)
        at = f"at {self.linefreq:g} Hz"
        if isinstance(request, Sweep):
            need = self.reading_time(request.nplc)
            if request.step_time < need:
                self._fail(f"a step time of {request.step_time:g} s is shorter than one reading at NPLC "
                           f"{request.nplc:g} ({need:g} s {at})")
        elif isinstance(request, PulseTrain):
            need = self.aperture(request.nplc) + PULSE_MARGIN
            windows = [(request.width, "pulse")]
            if request.read_levels is not None:
                windows.append((request.read_width, "read"))
            for width, what in windows:
                if width < need:
                    self._fail(f"a {width:g} s {what} is too short to measure at NPLC {request.nplc:g} "
                               f"(needs {need:g} s {at}); lower the NPLC")
        elif isinstance(request, Sampling) and request.points > 1:
            need, gap = self.reading_time(request.nplc), float(np.diff(request.times).min())
            if gap < need:
                self._fail(f"sampling {gap:g} s apart is faster than one reading at NPLC {request.nplc:g} "
                           f"({need:g} s {at})")


#: The 2614B per channel (Series 2600B reference manual and datasheet). DC limits only:
#: the 10 A pulse region is not needed for memristors. One buffer holds > 50 000 readings
#: with timestamps and source values; a pulse train with reads stores two per pulse.
CAPABILITIES = TimedCapabilities(
    model="Keithley 2614B",
    max_voltage=200.0,
    max_current=1.5,
    min_compliance=10e-9,  # 10 % of the lowest (100 nA) current range
    voltage_ranges=(0.2, 2.0, 20.0, 200.0),
    current_ranges=(100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 1.5),
    nplc_range=(0.001, 25.0),
    max_sweep_points=50_000,
    min_step_time=100e-6,
    min_pulse_width=100e-6,
    max_pulse_count=25_000,
    max_samples=1_000_000,
    extra={"channels": ("a", "b"), "buffer_points": 50_000},
)

#: Shortest timer delay we program (the timer's default).
MIN_TIMER_DELAY = 10e-6
#: Each streamed chunk covers at most this much instrument time, so live plots update.
CHUNK_SECONDS = 0.5
#: ... and at most this many readings (5 REAL64 values each: 200 kB).
MAX_CHUNK_POINTS = 5000
#: Longest the host waits on one reply between readings: across a longer gap (slow
#: retention sampling) the running program prints a line after each instrument-timed
#: ``delay()`` of this length, so a stop request (the dashboard's Abort) is seen within
#: about a second (and honoured at once where a device clear can cut the program short).
PATIENCE = 1.0
#: Reading the error queue after a timeout, and each try of turning the outputs off: short,
#: so a stuck instrument does not cost a second full timeout.
RESYNC_TIMEOUT = 3.0
#: Longest program (instrument seconds) a Sampling request is cut into. Every program ends
#: on the instrument with the output off, so a host that dies leaves the device biased for
#: at most one program (README, "Faults"); a stop waits at most this long for it to end.
PROGRAM_SECONDS = 5.0
#: After a dropped connection: this many tries to reconnect, RECONNECT_GAP s apart.
RECONNECT_TRIES = 3
RECONNECT_GAP = 2.0
#: nvbuffer columns read back, in this order, by every printbuffer.
COLUMNS = ("timestamps", "sourcevalues", "v", "i", "statuses")


# ---------------------------------------------------------------------------------------
# The wire
# ---------------------------------------------------------------------------------------
class TSPLink(Instrument):
    """TSP messages out, replies in; VISA failures become :mod:`labqc.instruments.errors`.

    ``messages`` counts the messages written (each is at most one round trip).
    """

    def __init__(self, adapter, name: str = "Keithley 2614B", *, visa_library: str | None = None,
                 timeout: float = 10.0, **kwargs) -> None:
        self.timeout_ms = int(round(timeout * 1000))
        self._open_kwargs = dict(write_termination="\n", read_termination="\n",
                                 timeout=self.timeout_ms, **kwargs)
        if visa_library is not None:
            kwargs["visa_library"] = visa_library
        super().__init__(adapter, name, includeSCPI=False, write_termination="\n",
                         read_termination="\n", timeout=self.timeout_ms, **kwargs)
        self.messages = 0

    # --- plain traffic ----------------------------------------------------------------
    def send(self, message: str) -> None:
        """Write one TSP chunk (no reply expected)."""
        self.messages += 1
        if not visa_io.wait_writable(self.adapter.connection, self.timeout_ms / 1000, self.name):
            raise InstrumentTimeout(f"the {self.name} did not take a message within {self.timeout_ms / 1000:g} s")
        self._guard(self.write, message)

    def query(self, message: str, timeout: float | None = None) -> str:
        """Write ``message`` and read its one-line reply."""
        self.send(message)
        return self._receive(message, timeout, self.read)

    def query_block(self, message: str, nbytes: int, timeout: float | None = None) -> bytes:
        """Write ``message`` and read exactly ``nbytes`` bytes. A binary block may hold 0x0A,
        so the termination character is switched off for the read (one VISA read of the
        whole block instead of one per 0x0A byte)."""
        self.send(message)
        return self._read_block(message, nbytes, timeout)

    def query_counted_block(self, message: str, nbytes: int, timeout: float | None = None) -> tuple[int, bytes]:
        """Write ``message``, which prints an error count and then, only if that count is
        0, a binary block of ``nbytes``; return (count, block or b"")."""
        self.send(message)
        count = int(parse_number(self._receive(message, timeout, self.read)))
        return (count, b"") if count else (0, self._read_block(message, nbytes, timeout))

    def read_line(self, what: str, timeout: float | None = None) -> str:
        """Read one line the running program prints (nothing is written)."""
        return self._receive(what, timeout, self.read)

    def read_block(self, what: str, nbytes: int, timeout: float | None = None) -> bytes:
        """Read ``nbytes`` of a binary block the running program prints."""
        return self._read_block(what, nbytes, timeout)

    def query_marked(self, statements: str, values: list[str], seconds: float) -> list[str]:
        """Run ``statements``, then print a token and ``values``; skip every reply before the
        token (what a cut-short program still prints, the rest of a garbled reply) for at
        most ``seconds``. Returns the printed values as text."""
        token = "labqc-mark"
        message = f'{statements} print("{token}", {", ".join(values)})'
        self.send(message)
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._after_timeout(message, seconds, resync=False)
            try:
                line = self._receive(message, left, self.read, resync=False)
            except ProtocolError:  # a piece of a binary block (not text)
                continue
            head, _, rest = line.strip().partition("\t")
            if head == token:
                return rest.split("\t") if rest else []

    def _read_block(self, message: str, nbytes: int, timeout: float | None) -> bytes:
        connection = self.adapter.connection
        connection.read_termination = None
        try:
            return self._receive(message, timeout, lambda: self.read_bytes(nbytes))
        finally:
            connection.read_termination = "\n"

    def clear(self) -> None:
        """Device clear: drop replies nobody will read, cancel what blocks the interpreter.
        Where VISA has no device clear (some VISA libraries on a raw LAN socket), drain
        whatever is in flight instead. On a pyvisa-py raw socket the VISA clear is never
        called: it spins for ever on a connection the instrument closed (visa_io)."""
        connection = self.adapter.connection
        if visa_io.raw_socket(connection) is not None:
            visa_io.drain(connection, self.name)
            return
        try:
            self._guard(self.adapter.connection.clear, raw_errors=True)
        except pyvisa.errors.VisaIOError as exc:
            if exc.error_code != pyvisa.constants.StatusCode.error_nonsupported_operation:
                raise ConnectionLost(f"the connection to the {self.name} failed: {exc.description}") from exc
            self._drain()

    def _drain(self, quiet: float = 0.2, most: int = 1000) -> None:
        """Read and drop replies until none arrives for ``quiet`` seconds."""
        connection = self.adapter.connection
        connection.timeout = int(quiet * 1000)
        try:
            for _ in range(most):
                connection.read_raw()
        except pyvisa.errors.VisaIOError as exc:
            if exc.error_code != pyvisa.constants.StatusCode.error_timeout:
                raise ConnectionLost(f"the connection to the {self.name} failed: {exc.description}") from exc
        finally:
            connection.timeout = self.timeout_ms

    # --- the error queue --------------------------------------------------------------
    def error_count(self, timeout: float | None = None) -> int:
        return int(parse_number(self.query("print(errorqueue.count)", timeout)))

    def drain_errors(self, count: int | None = None, timeout: float | None = None) -> list[tuple[int, str]]:
        """Read (and so empty) the instrument's error queue: [(code, message), ...]."""
        count = self.error_count(timeout) if count is None else count
        errors = []
        for _ in range(min(count, 50)):
            code, message = parse_error(self.query("print(errorqueue.next())", timeout))
            if code != 0:
                errors.append((code, message))
        if count > 50:
            self.send("errorqueue.clear()")
        return errors

    def raise_errors(self, count: int | None = None, timeout: float | None = None) -> None:
        """Drain the error queue and raise the first error in it, if any."""
        errors = self.drain_errors(count, timeout)
        if errors:
            code, message = errors[0]
            if len(errors) > 1:
                others = "; ".join(f"{c}: {m}" for c, m in errors[1:4])
                message = f"{message} (then {others})"
            raise InstrumentReportedError(code, message)

    # --- recovery ---------------------------------------------------------------------
    def reconnect(self) -> None:
        """Close and reopen the VISA session (after the connection dropped)."""
        adapter = self.adapter
        manager = getattr(adapter, "manager", None)
        if manager is None:
            raise ConnectionLost(f"cannot reopen the connection to the {self.name}: no VISA resource")
        try:
            adapter.connection.close()
        except Exception:  # already gone: that is why we reconnect
            pass
        try:
            adapter.connection = manager.open_resource(adapter.resource_name, **self._open_kwargs)
        except (pyvisa.errors.VisaIOError, OSError) as exc:
            raise ConnectionLost(f"cannot reopen the connection to the {self.name}: {exc}") from exc

    # --- internals --------------------------------------------------------------------
    _resyncing = False  # set while _after_timeout reads the error queue

    def _guard(self, call, *args, raw_timeout: bool = False, raw_errors: bool = False):
        """Call the connection; VISA and socket failures become typed errors (a timeout
        stays a VisaIOError with ``raw_timeout``, any VISA error with ``raw_errors``)."""
        try:
            return call(*args)
        except pyvisa.errors.VisaIOError as exc:
            if raw_errors:
                raise
            if exc.error_code == pyvisa.constants.StatusCode.error_timeout:
                if raw_timeout:
                    raise
                raise InstrumentTimeout(f"the {self.name} did not accept a message in time "
                                        f"({exc.description})") from exc
            raise ConnectionLost(f"the connection to the {self.name} failed: {exc.description}") from exc
        except (OSError, EOFError) as exc:
            raise ConnectionLost(f"the connection to the {self.name} failed: {exc}") from exc
        except UnicodeDecodeError as exc:  # binary where text was expected: out of step
            raise ProtocolError(f"the {self.name} sent bytes that are not text where a line was "
                                f"expected ({exc.reason} at byte {exc.start})") from exc

    def _receive(self, message: str, timeout: float | None, read, resync: bool = True):
        seconds = timeout if timeout is not None else self.timeout_ms / 1000
        # On a raw socket, wait for the reply here in short slices: a closed connection is
        # noticed at once instead of at the end of the timeout (visa_io).
        if not visa_io.wait_readable(self.adapter.connection, seconds, self.name):
            self._after_timeout(message, seconds, resync)
        if timeout is not None:
            self.adapter.connection.timeout = int(round(timeout * 1000))
        try:
            return self._guard(read, raw_timeout=True)
        except pyvisa.errors.VisaIOError:  # only timeouts get through _guard
            self._after_timeout(message, seconds, resync)
        finally:
            if timeout is not None:
                self.adapter.connection.timeout = self.timeout_ms

    def _after_timeout(self, message: str, seconds: float, resync: bool = True) -> None:
        """Resynchronise, then say why: a Lua error prints nothing, so a timed-out query is
        often an error in the queue; otherwise the instrument really did not answer.
        ``resync`` False: just raise (the caller recovers in its own way)."""
        what = message if len(message) <= 60 else message[:57] + "..."
        silence = InstrumentTimeout(f"the {self.name} did not answer {what!r} within {seconds:g} s"
                                    + (" (device clear sent to resynchronise)" if resync else ""))
        if not resync:
            raise silence
        self.clear()
        if self._resyncing:  # the error queue itself did not answer: no deeper
            raise silence
        self._resyncing = True
        try:
            self.raise_errors(timeout=RESYNC_TIMEOUT)
        except InstrumentTimeout:
            pass  # the queue cannot be read either: report the first silence
        finally:
            self._resyncing = False
        raise silence


# ---------------------------------------------------------------------------------------
# What one trigger-model run looks like
# ---------------------------------------------------------------------------------------
@dataclass
class _Block:
    """One trigger-model run: messages that configure and start it, and what it will store."""

    setup: list[str]  # sent in order, output still off; then _start turns on and initiates
    instants: np.ndarray  # expected s from the start of the run to each reading
    kinds: np.ndarray  # KIND_* per reading
    indices: np.ndarray  # step/pulse/sample number per reading
    t_first: float  # request time of the first reading (chained Sampling blocks)
    hold: float = 0.0  # > 0: no trigger model, the output held on this long (a long Sampling gap)
    tail: float = 0.0  # the base held this long after the last reading (a pulse period cut)


@dataclass
class _Loop:
    """A :class:`Repeat` as a Lua loop on the instrument: set-up messages that leave one
    function per step and the loop ``_R(n, fresh)`` on the instrument (nothing is sourced
    while they are sent), and what one repetition stores."""

    setup: list[str]
    instants: np.ndarray  # planned s from the start of a repetition to each of its readings
    kinds: np.ndarray  # KIND_* per reading of one repetition
    indices: np.ndarray  # each reading's index within its step
    period: float  # planned instrument s per repetition

    @property
    def per_repeat(self) -> int:
        return len(self.instants)


def chunk_bounds(instants: np.ndarray, seconds: float = CHUNK_SECONDS,
                 max_points: int = MAX_CHUNK_POINTS) -> list[tuple[int, int]]:
    """Split readings into [a, b) chunks covering <= ``seconds`` of instrument time each
    (at least one reading, at most ``max_points``)."""
    bounds, a, n = [], 0, len(instants)
    while a < n:
        since = instants[a - 1] if a else 0.0  # the previous chunk ended here
        b = int(np.searchsorted(instants, since + seconds + 1e-9, side="right"))
        b = min(max(b, a + 1), a + max_points, n)
        bounds.append((a, b))
        a = b
    return bounds


def range_for(value: float, ranges: tuple[float, ...]) -> float:
    """The smallest range that holds ``value`` (the largest if none does)."""
    for r in ranges:
        if abs(value) <= r * (1 + 1e-9):
            return r
    return ranges[-1]


def _lua_function(name: str, body: list[str], max_bytes: int = MAX_MESSAGE_BYTES) -> list[str]:
    """Messages that define the Lua function ``name`` running ``body`` (statements) in
    order: one message when it fits, else parts ``name_1``, ``name_2`` ... and ``name``
    calling them in turn."""
    whole = f"function {name}() {' '.join(body)} end"
    if len(whole) <= max_bytes:
        return [whole]
    parts: list[list[str]] = [[]]
    for statement in body:
        if parts[-1] and len(" ".join(parts[-1] + [statement])) + len(name) + 30 > max_bytes:
            parts.append([])
        parts[-1].append(statement)
    names = [f"{name}_{k}" for k in range(1, len(parts) + 1)]
    return ([f"function {n}() {' '.join(p)} end" for n, p in zip(names, parts)]
            + [f"function {name}() {' '.join(n + '()' for n in names)} end"])


# ---------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------
class Keithley2614B(SourceMeasure):
    """One channel of a Keithley 2614B.

    ``Keithley2614B("GPIB0::26::INSTR")`` on the bench; add ``visa_library=`` for the
    simulator; ``channel="b"`` for the second SMU. ``adapter_or_resource`` may also be a
    PyMeasure adapter (tests use ``expected_protocol``).
    """

    #: Readings per chained Sampling block (one nvbuffer's worth).
    sample_block = 50_000
    #: Longest program a Sweep or PulseTrain is cut into (instrument s; tsp_programs.py).
    program_limit = PROGRAM_LIMIT

    def __init__(self, adapter_or_resource, *, visa_library: str | None = None, channel: str = "a",
                 timeout: float = 10.0, name: str = "Keithley 2614B", **kwargs) -> None:
        if channel not in ("a", "b"):
            raise ValueError(f"the 2614B has channels 'a' and 'b', not {channel!r}")
        self.channel = channel
        self.smu = f"smu{channel}"
        self.capabilities = CAPABILITIES
        self.tsp = TSPLink(adapter_or_resource, name, visa_library=visa_library, timeout=timeout, **kwargs)
        self._t_end = 0.0  # session time of the last reading, so t is monotonic
        self._program_end = 0.0  # time.monotonic() at which a program cut short ends
        self.reconnected = False  # output_off needed a new connection
        try:
            self._connect()
        except BaseException:
            self.close()  # do not leave a VISA session behind a failed connect
            raise

    def _connect(self) -> None:
        """Quiet interpreter (no prompts, no error text in the output queue), empty error
        queue, ASCII numbers with 9 digits; learn the line frequency (NPLC → seconds)."""
        self.tsp.clear()
        reply = self.tsp.query("localnode.prompts = 0 localnode.showerrors = 0 errorqueue.clear() "
                               "format.data = format.ASCII format.asciiprecision = 9 "
                               "print(localnode.linefreq)")
        try:
            self.linefreq = parse_number(reply)
        except ProtocolError:
            self.linefreq = float("nan")
        if self.linefreq not in (50.0, 60.0):
            raise ProtocolError(f"the instrument reports a line frequency of {reply!r}, not 50 or 60 Hz")
        self.capabilities = dataclasses.replace(CAPABILITIES, linefreq=self.linefreq)
        self.identity = self.tsp.query("*IDN?").strip()
        if "2614B" not in self.identity:
            log.warning("expected a Keithley 2614B, the instrument says %r", self.identity)

    # --- timing ------------------------------------------------------------------------
    def aperture(self, nplc: float) -> float:
        return self.capabilities.aperture(nplc)

    def reading_time(self, nplc: float) -> float:
        return self.capabilities.reading_time(nplc)

    # --- the interface ------------------------------------------------------------------
    def _stream(self, request: Request) -> Iterator[np.ndarray]:
        blocks = self._plan(request)  # may refuse (CapabilityError) before anything is sent
        # Within a request t is the instrument's own timestamps; a new request continues the
        # session's time line from its last reading (the idle gap between requests is not timed).
        t0 = self._t_end
        for block in blocks:
            yield from self._run_block(block, t0)
        self._checkpoint()

    def _repeat(self, request: Repeat) -> Iterator[np.ndarray]:
        """A :class:`Repeat` as a Lua loop on the instrument (:meth:`_plan_repeat`): per
        chunk of repetitions, the loop call and a query for its error count and readings
        (one round trip); steps this loop cannot hold run one by one (the generic way)."""
        if not self.loops_natively(request):
            yield from super()._repeat(request)
            return
        yield from self._run_loop(request)
        self._checkpoint()

    def _search(self, request) -> Iterator[np.ndarray]:
        """A Search decided on the instrument, in its own Lua (instruments/tsp_search.py)."""
        from labqc.instruments.tsp_search import run_search

        yield from run_search(self, request)
        self._checkpoint()

    def read(self, level: float, *, compliance: float, source: str = "V", nplc: float = 1.0) -> np.ndarray:
        """Spot reading: limit, level, output on, measure I and V, output off (one message)."""
        self.capabilities.check(Sampling(level, compliance, [0.0], source=source, nplc=nplc))
        s = self.smu
        self.tsp.send(self._source_setup(source, level, compliance, rng=None) + " "
                      + self._measure_setup(source, nplc, None, delay=0.0))
        # If setting up queued an error, the output stays off and we get the error count.
        message = (f"if errorqueue.count == 0 then {s}.source.output = {s}.OUTPUT_ON "
                   f"_i, _v = {s}.measure.iv() _c = {s}.source.compliance "
                   f"{s}.source.output = {s}.OUTPUT_OFF print(_i, _v, _c) "
                   f"else print(errorqueue.count) end")
        try:
            reply = self.tsp.query(message, timeout=self.tsp.timeout_ms / 1000 + 2 * self.reading_time(nplc))
            fields = reply.strip().split("\t")
            if len(fields) == 1:
                self.tsp.raise_errors(int(parse_number(fields[0])))
                raise ProtocolError(f"the instrument reported errors, then none: {reply!r}")
            i, v, c = parse_print(reply, 3)
            out = empty_chunk(1)
            out[0] = (self._t_end, level, parse_number(v), parse_number(i), parse_bool(c), 0, KIND_POINT)
            return out
        except BaseException:
            self.output_off()
            raise

    def abort(self) -> None:
        """Stop the trigger model, then the output (``abort()`` alone leaves it on). A
        program still running is cut short by a device clear where the session has one; on
        a raw socket it cannot be, and runs on to its planned end (at most PROGRAM_SECONDS
        for Sampling), where it turns the output off itself."""
        s = self.smu
        if self._program_end > time.monotonic() and visa_io.raw_socket(self.tsp.adapter.connection) is None:
            try:
                self.tsp.clear()
                self._program_end = 0.0
            except Exception as exc:  # output_off below tries harder
                log.warning("clearing the %s failed (%s)", self.tsp.name, exc)
        try:
            self.tsp.send(f"{s}.abort() {s}.source.output = {s}.OUTPUT_OFF")
        except Exception as exc:  # output_off below tries harder, and raises if it must
            log.warning("abort on the %s failed (%s); turning the outputs off", self.tsp.name, exc)
            self.output_off()

    def output_off(self) -> None:
        """Both channels off, confirmed by reading both outputs back in the same message (so
        the instrument has executed it; replies still in flight before it are skipped). If
        that fails: a resynchronising clear and one more try; then, as after a dropped
        connection, up to RECONNECT_TRIES reconnections RECONNECT_GAP s apart; only then
        ConnectionLost. ``reconnected`` tells whether a new connection was needed."""
        try:
            self._off()
            return
        except ConnectionLost as exc:
            last: Exception = exc
        except Exception as exc:  # stuck, garbled, out of step
            log.error("turning the %s outputs off failed: %s; clearing", self.tsp.name, exc)
            try:
                self.tsp.clear()
                self._off()
                return
            except Exception as again:
                last = again
        for attempt in range(1, RECONNECT_TRIES + 1):
            if getattr(self.tsp.adapter, "manager", None) is None:
                break  # nothing to reopen (a test adapter): no point waiting
            log.error("turning the %s outputs off failed (%s); reconnecting (%d of %d)",
                      self.tsp.name, last, attempt, RECONNECT_TRIES)
            try:
                self.tsp.reconnect()
                self.reconnected = True
                self._off()
                return
            except Exception as exc:
                last = exc
                if attempt < RECONNECT_TRIES:
                    time.sleep(RECONNECT_GAP)
        raise ConnectionLost(f"could not turn the {self.tsp.name} outputs off; check the instrument "
                             f"by hand ({last})") from last

    def _off(self) -> None:
        left = max(self._program_end - time.monotonic(), 0.0)  # a program cut short runs on
        fields = self.tsp.query_marked("smua.source.output = smua.OUTPUT_OFF smub.source.output = smub.OUTPUT_OFF",
                                       ["smua.source.output", "smub.source.output"], left + RESYNC_TIMEOUT)
        states = [parse_number(x) for x in fields]
        if states != [0.0, 0.0]:
            raise ProtocolError(f"the outputs read back as {states} after turning them off")
        self._program_end = 0.0

    def close(self) -> None:
        self.tsp.adapter.close()

    # --- planning: request → trigger-model blocks (nothing sent yet) ------------------------
    def _plan(self, request: Request) -> list[_Block]:
        if isinstance(request, (Sweep, PulseTrain)):
            return self._plan_programs(request)
        if isinstance(request, Sampling):
            return self._plan_sampling(request)
        raise CapabilityError(f"the {self.capabilities.model} cannot run a {type(request).__name__}")

    def _plan_programs(self, r: Sweep | PulseTrain) -> list[_Block]:
        """One program per span of at most PROGRAM_LIMIT s (instruments/tsp_programs.py),
        each with the ranges of the whole request, its readings' indices and planned request
        times, and (all but the last) the rest of its last pulse period held at the base."""
        sweep = isinstance(r, Sweep)
        spans = sweep_spans(r, self.program_limit) if sweep else train_spans(r, self.program_limit)
        step = r.step_time if sweep else r.period
        blocks = []
        for a, b in spans:
            sub = part(r, a, b)
            block = self._plan_sweep(sub, whole=r) if sweep else self._plan_pulses(sub, whole=r)
            block.indices = block.indices + a
            block.t_first = a * step + float(block.instants[0])
            block.tail = tail_seconds(r) if b < (r.points if sweep else r.count) else 0.0
            blocks.append(block)
        return blocks

    def _plan_sweep(self, r: Sweep, tag: str = "", whole: Sweep | None = None) -> _Block:
        """``tag`` suffixes the names of the Lua tables, so that several plans can live on
        the instrument at once (the steps of a :class:`Repeat`); ``whole``: the request
        ``r`` is a program of (its ranges are the whole request's)."""
        s, n = self.smu, r.points
        need = self.reading_time(r.nplc)
        ranges = self.capabilities.voltage_ranges if r.source == "V" else self.capabilities.current_ranges
        rng = range_for(float(np.max(np.abs((whole or r).levels))), ranges)
        fn = "v" if r.source == "V" else "i"
        if is_linear(r.levels):
            levels_setup, sweep = [], f"{s}.trigger.source.linear{fn}({num(r.levels[0])}, {num(r.levels[-1])}, {n})"
        else:
            levels_setup, sweep = lua_table(f"_L{tag}", r.levels), f"{s}.trigger.source.list{fn}(_L{tag})"
        setup = [
            self._source_setup(r.source, 0.0, r.compliance, rng),
            self._measure_setup(r.source, r.nplc, r.measure_range, delay=r.step_time - need),
            self._buffer_setup(),
            *levels_setup,
            self._trigger_setup(sweep, r.source, r.compliance, n, endpulse="SOURCE_HOLD"),
            *self._timer(1, r.step_time, count=max(n - 1, 1), passthrough=True,
                         stimulus=f"{s}.trigger.ARMED_EVENT_ID", tag=tag),
            f"{s}.trigger.source.stimulus = trigger.timer[1].EVENT_ID"
            f" {s}.trigger.measure.stimulus = 0 {s}.trigger.endpulse.stimulus = 0",
        ]
        instants = r.step_time * np.arange(1, n + 1)
        return _Block(setup, instants, np.full(n, KIND_POINT, "i1"), np.arange(n), instants[0])

    def _plan_pulses(self, r: PulseTrain, tag: str = "", whole: PulseTrain | None = None) -> _Block:
        s, n = self.smu, r.count
        reads = r.read_levels is not None
        tm = self.aperture(r.nplc) + PULSE_MARGIN  # the measurement ends PULSE_MARGIN before the pulse
        w = whole or r
        levels = np.append(w.amplitudes, w.base) if not reads else np.concatenate([w.amplitudes, w.read_levels, [w.base]])
        rng = range_for(float(np.max(np.abs(levels))), self.capabilities.voltage_ranges)
        mrange = r.measure_range or range_for(r.compliance, self.capabilities.current_ranges)
        if reads:
            steps = np.empty(2 * n)
            steps[0::2], steps[1::2] = r.amplitudes, r.read_levels
            # Every timer with a delay list is started once, at ARMED, and runs through the
            # whole train (so it does not matter whether a list restarts when a timer is
            # re-triggered); timers 4 and 5 offset the measure and end-of-step series.
            armed, gaps = f"{s}.trigger.ARMED_EVENT_ID", [r.read_width, r.period - r.read_width]
            timers = [self._timer(1, [r.width, r.period - r.width], count=2 * n - 1, passthrough=True,
                                  stimulus=armed, tag=tag),
                      self._timer(4, r.width - tm, count=1, passthrough=False, stimulus=armed, tag=tag),
                      self._timer(2, gaps, count=2 * n - 1, passthrough=True, stimulus="trigger.timer[4].EVENT_ID",
                                  tag=tag),
                      self._timer(5, r.width, count=1, passthrough=False, stimulus=armed, tag=tag),
                      self._timer(3, gaps, count=2 * n - 1, passthrough=True, stimulus="trigger.timer[5].EVENT_ID",
                                  tag=tag)]
            instants = np.empty(2 * n)
            starts = r.period * np.arange(n)
            instants[0::2], instants[1::2] = starts + r.width, starts + r.width + r.read_width
            kinds = np.tile(np.array([KIND_PULSE, KIND_READ], "i1"), n)
            indices = np.repeat(np.arange(n), 2)
        else:
            steps = r.amplitudes
            timers = [self._timer(1, r.period, count=max(n - 1, 1), passthrough=True,
                                  stimulus=f"{s}.trigger.ARMED_EVENT_ID", tag=tag),
                      self._timer(2, r.width - tm, count=1, passthrough=False, stimulus="trigger.timer[1].EVENT_ID",
                                  tag=tag),
                      self._timer(3, r.width, count=1, passthrough=False, stimulus="trigger.timer[1].EVENT_ID",
                                  tag=tag)]
            instants = r.period * np.arange(n) + r.width
            kinds = np.full(n, KIND_PULSE, "i1")
            indices = np.arange(n)
        # Source autorange must be off for a pulsed sweep (error 5028): fixed ranges throughout.
        setup = [
            self._source_setup("V", r.base, r.compliance, rng),
            self._measure_setup("V", r.nplc, mrange, delay=0.0),
            self._buffer_setup(),
            *lua_table(f"_L{tag}", steps),
            self._trigger_setup(f"{s}.trigger.source.listv(_L{tag})", "V", r.compliance, len(steps),
                                endpulse="SOURCE_IDLE"),
            *[m for t in timers for m in t],
            f"{s}.trigger.source.stimulus = trigger.timer[1].EVENT_ID"
            f" {s}.trigger.measure.stimulus = trigger.timer[2].EVENT_ID"
            f" {s}.trigger.endpulse.stimulus = trigger.timer[3].EVENT_ID",
        ]
        return _Block(setup, instants, kinds, indices, instants[0])

    def _plan_sampling(self, r: Sampling) -> list[_Block]:
        """Programs of at most PROGRAM_SECONDS (and one buffer) each: a trigger-model run
        whose timer 1 fires at each instant, counted from the program's start; a gap longer
        than a program is held by programs without readings (``hold``). The bias is on in
        every program and off only between two of them (a message's turnaround)."""
        s = self.smu
        ranges = self.capabilities.voltage_ranges if r.source == "V" else self.capabilities.current_ranges
        rng = range_for(r.level, ranges)
        config = [self._source_setup(r.source, r.level, r.compliance, rng),
                  self._measure_setup(r.source, r.nplc, r.measure_range, delay=0.0)]
        blocks: list[_Block] = []
        start, a = 0.0, 0  # request time at which the next program starts; next reading
        while a < r.points:
            while r.times[a] - start > PROGRAM_SECONDS:
                blocks.append(_Block([], np.zeros(0), np.zeros(0, "i1"), np.zeros(0, int), start,
                                     hold=PROGRAM_SECONDS))
                start += PROGRAM_SECONDS
            b = int(np.searchsorted(r.times, start + PROGRAM_SECONDS, side="right"))
            b = min(max(b, a + 1), a + self.sample_block, r.points)
            times = r.times[a:b]
            delays = np.diff(times, prepend=start)
            n = b - a
            # The bias is held throughout the program: no source action.
            trigger = (f"{s}.trigger.source.action = {s}.DISABLE {s}.trigger.measure.iv({s}.nvbuffer1, {s}.nvbuffer2) "
                       f"{s}.trigger.measure.action = {s}.ENABLE {s}.trigger.endpulse.action = {s}.SOURCE_HOLD "
                       f"{s}.trigger.endsweep.action = {s}.SOURCE_HOLD {s}.trigger.arm.count = 1 {s}.trigger.count = {n}")
            timer = self._timer(1, delays, count=n, passthrough=False, stimulus=f"{s}.trigger.ARMED_EVENT_ID")
            stimuli = (f"{s}.trigger.source.stimulus = 0 {s}.trigger.measure.stimulus = trigger.timer[1].EVENT_ID "
                       f"{s}.trigger.endpulse.stimulus = 0")
            setup = [self._buffer_setup(), trigger, *timer, stimuli]
            blocks.append(_Block(setup, times - start, np.full(n, KIND_POINT, "i1"), np.arange(a, b),
                                 float(times[0])))
            start, a = float(times[-1]), b
        blocks[0].setup[:0] = config  # source and measure set-up once, before the first program
        return blocks

    # --- a Repeat as a loop on the instrument -------------------------------------------------
    def loops_natively(self, r: Repeat) -> bool:
        """True when ``r`` runs as one Lua loop here: every step a Sweep or PulseTrain, and
        one repetition's readings fit one streamed chunk (and so the buffer)."""
        return (all(isinstance(step, (Sweep, PulseTrain)) for step in r.steps)
                and 0 < r.per_repeat <= MAX_CHUNK_POINTS)

    def _plan_repeat(self, r: Repeat) -> _Loop:
        """Each step becomes a Lua function ``_S<j>`` holding its whole trigger-model set-up
        (source function, range, limits, measure, list, timers): the same messages as when
        it runs alone, with its tables named apart (``_L_<j>``, ``_D<k>_<j>``) and without
        the buffer clear. ``_H(f)`` runs one step: f(), then, only if the error queue is
        still empty, output on, initiate, waitcomplete, output off. So each step's limits
        are set before its output turns on, and the output is off between steps as between
        separate requests. ``_R(n, fresh)`` runs n repetitions (emptying the buffers first
        when ``fresh`` is 1); every reading is appended to nvbuffer1/nvbuffer2.
        Lua 5.0 (the instrument's): no ``#``, no ``%``, no goto."""
        s = self.smu
        data: list[str] = [self._buffer_setup(append=True)]
        functions: list[str] = []
        instants, kinds, indices, offset = [], [], [], 0.0
        for j, step in enumerate(r.steps, 1):
            tag = f"_{j}"
            block = self._plan_sweep(step, tag) if isinstance(step, Sweep) else self._plan_pulses(step, tag)
            tables = [m for m in block.setup if m.startswith(("_L", "_D", "_C ="))]  # table builders
            body = [m for m in block.setup if m not in tables and m != self._buffer_setup()]
            data += tables
            functions += _lua_function(f"_S{j}", body)
            instants.append(offset + block.instants)
            kinds.append(block.kinds)
            indices.append(block.indices)
            offset += float(step.duration)
        steps = " and ".join(f"_H(_S{j})" for j in range(1, len(r.steps) + 1))
        functions += [
            f"function _H(f) f() if errorqueue.count > 0 then return false end "
            f"{s}.source.output = {s}.OUTPUT_ON {s}.trigger.initiate() waitcomplete() "
            f"{s}.source.output = {s}.OUTPUT_OFF return true end",
            f"function _R(n, fresh) if fresh == 1 then {s}.nvbuffer1.clear() {s}.nvbuffer2.clear() end "
            f"for k = 1, n do if not ({steps}) then return end end end",
        ]
        return _Loop(data + functions, np.concatenate(instants), np.concatenate(kinds),
                     np.concatenate(indices), offset)

    def _repeat_chunks(self, r: Repeat, loop: _Loop) -> list[tuple[int, int, bool]]:
        """(first repetition, repetitions, fresh buffer) per chunk: about CHUNK_SECONDS of
        instrument time and at most MAX_CHUNK_POINTS readings each; the buffers are emptied
        before they would overflow (a new buffer batch starts with ``fresh``)."""
        per = loop.per_repeat
        capacity = int(self.capabilities.extra.get("buffer_points", 50_000))
        batch = max(capacity // per, 1)  # repetitions per buffer fill
        step = max(min(int(CHUNK_SECONDS / max(loop.period, 1e-9)), MAX_CHUNK_POINTS // per), 1)
        chunks = []
        for b0 in range(0, r.count, batch):
            b1 = min(b0 + batch, r.count)
            for a in range(b0, b1, step):
                chunks.append((a, min(a + step, b1) - a, a == b0))
        return chunks

    def _run_loop(self, r: Repeat) -> Iterator[np.ndarray]:
        loop = self._plan_repeat(r)
        for message in loop.setup:
            self.tsp.send(message)
        per = loop.per_repeat
        origin = self._t_end + float(loop.instants[0])  # session time of the buffer's first reading
        filled, ts0 = 0, 0.0  # readings in the buffer now; timestamp of its first reading
        for first, n, fresh in self._repeat_chunks(r, loop):
            if fresh and first:  # a new buffer fill continues the time line from the last reading
                origin = self._t_end + float(loop.instants[0] + loop.period - loop.instants[-1])
            filled = 0 if fresh else filled
            a, b = filled + 1, filled + n * per
            # pcall: even a Lua error inside the loop leaves the output off (no host needed).
            self.tsp.send(f"if not pcall(_R, {n}, {1 if fresh else 0}) then {self.smu}.abort() end "
                          f"{self.smu}.source.output = {self.smu}.OUTPUT_OFF")
            count, raw = self.tsp.query_counted_block(
                f"print(errorqueue.count) if errorqueue.count == 0 then {self._printbuffer(a, b)} end",
                real64_block_size(len(COLUMNS) * (b - a + 1)), timeout=2 * n * loop.period + 5.0)
            if count:
                self.tsp.raise_errors(count)
            ts, src, v, i, status = self._parse_readings(raw, a, b)
            ts0 = ts[0] if fresh else ts0
            chunk = empty_chunk(b - a + 1)
            chunk["t"] = origin + (ts - ts0)
            chunk["source"], chunk["v"], chunk["i"] = src, v, i
            chunk["compliance"] = (np.nan_to_num(status).astype(np.int64) & STATUS_COMPLIANCE) != 0
            chunk["index"], chunk["kind"] = np.tile(loop.indices, n), np.tile(loop.kinds, n)
            self._t_end = max(self._t_end, float(chunk["t"][-1]))
            filled = b
            yield chunk

    # --- message builders ------------------------------------------------------------------
    def _source_setup(self, source: str, level: float, compliance: float, rng: float | None) -> str:
        """Source function, range, level and limit (the output is off while this is sent)."""
        s = self.smu
        if source == "V":
            func, fn, limit = f"{s}.OUTPUT_DCVOLTS", "v", "i"
        else:
            func, fn, limit = f"{s}.OUTPUT_DCAMPS", "i", "v"
        rng_text = (f"{s}.source.autorange{fn} = {s}.AUTORANGE_ON" if rng is None else
                    f"{s}.source.autorange{fn} = {s}.AUTORANGE_OFF {s}.source.range{fn} = {num(rng)}")
        return (f"{s}.source.func = {func} {s}.source.limit{limit} = {num(compliance)} {rng_text} "
                f"{s}.source.level{fn} = {num(level)} {s}.source.delay = 0")

    def _measure_setup(self, source: str, nplc: float, rng: float | None, delay: float) -> str:
        """Integration, measure range (of the quantity not sourced) and measure delay."""
        s = self.smu
        fn = "i" if source == "V" else "v"
        rng_text = (f"{s}.measure.autorange{fn} = {s}.AUTORANGE_ON" if rng is None else
                    f"{s}.measure.autorange{fn} = {s}.AUTORANGE_OFF {s}.measure.range{fn} = {num(rng)}")
        return (f"{s}.measure.autozero = {s}.AUTOZERO_ONCE {s}.measure.nplc = {num(nplc)} {rng_text} "
                f"{s}.measure.delay = {num(max(delay, 0.0))}")

    def _buffer_setup(self, append: bool = False) -> str:
        """I with timestamps and source values in nvbuffer1, V in nvbuffer2, both emptied.
        ``append``: each trigger-model run adds to what is there (a Repeat's loop)."""
        s, mode = self.smu, int(append)
        return (f"{s}.nvbuffer1.clear() {s}.nvbuffer1.appendmode = {mode} {s}.nvbuffer1.collecttimestamps = 1 "
                f"{s}.nvbuffer1.collectsourcevalues = 1 {s}.nvbuffer2.clear() {s}.nvbuffer2.appendmode = {mode} "
                f"{s}.nvbuffer2.collecttimestamps = 0 {s}.nvbuffer2.collectsourcevalues = 0")

    def _trigger_setup(self, sweep: str, source: str, compliance: float, count: int, endpulse: str) -> str:
        """The trigger model's actions; its source limit is the request's compliance."""
        s = self.smu
        limit = "i" if source == "V" else "v"
        return (f"{sweep} {s}.trigger.source.limit{limit} = {num(compliance)} {s}.trigger.source.action = {s}.ENABLE "
                f"{s}.trigger.measure.iv({s}.nvbuffer1, {s}.nvbuffer2) {s}.trigger.measure.action = {s}.ENABLE "
                f"{s}.trigger.endpulse.action = {s}.{endpulse} {s}.trigger.endsweep.action = {s}.SOURCE_IDLE "
                f"{s}.trigger.arm.count = 1 {s}.trigger.count = {count}")

    def _timer(self, k: int, delay, *, count: int, passthrough: bool, stimulus: str, tag: str = "") -> list[str]:
        """Messages that configure trigger timer ``k``: one delay, or a delay list built on
        the instrument (``_D<k><tag>``) and used in turn each time the timer is started."""
        delays = np.maximum(np.atleast_1d(np.asarray(delay, dtype=float)), MIN_TIMER_DELAY)
        head: list[str] = []
        if np.all(delays == delays[0]):
            when = f"trigger.timer[{k}].delay = {num(delays[0])}"
        else:
            head = lua_table(f"_D{k}{tag}", delays)
            when = f"trigger.timer[{k}].delaylist = _D{k}{tag}"
        return [*head, f"trigger.timer[{k}].reset() {when} trigger.timer[{k}].count = {count} "
                       f"trigger.timer[{k}].passthrough = {'true' if passthrough else 'false'} "
                       f"trigger.timer[{k}].stimulus = {stimulus}"]

    def _printbuffer(self, a: int, b: int) -> str:
        """Readings a..b (1-based, inclusive) in REAL64 least significant byte first (SWAPPED: the
        name both the manual and tm-devices' command tree know), then back to ASCII."""
        s = self.smu
        return (f"format.data = format.REAL64 format.byteorder = format.SWAPPED "
                f"printbuffer({a}, {b}, {s}.nvbuffer1.timestamps, {s}.nvbuffer1.sourcevalues, "
                f"{s}.nvbuffer2.readings, {s}.nvbuffer1.readings, {s}.nvbuffer1.statuses) "
                f"format.data = format.ASCII")

    # --- running -------------------------------------------------------------------------
    def _program(self, block: _Block) -> tuple[list[str], list[tuple]]:
        """The messages that run ``block`` as one program on the instrument, and the replies
        it prints in order: ("wait", s) a line after s of instrument time, ("chunk", a, b,
        s) readings a..b-1 (0-based) after s. The last message turns the output on only
        with an empty error queue, prints the error count, runs the trigger model and
        prints each chunk as its readings exist (printbuffer waits for them), and ends
        with the output off whatever happened (pcall), with no host needed."""
        s = self.smu
        items: list[tuple] = []
        hold = block.hold
        while hold > 1.5 * PATIENCE:  # a line every PATIENCE s: the caller may stop there
            items.append(("wait", PATIENCE))
            hold -= PATIENCE
        if hold > 0:
            items.append(("wait", hold))
        for a, b in chunk_bounds(block.instants):
            wait = block.instants[b - 1] - (block.instants[a - 1] if a else 0.0)
            while wait > 1.5 * PATIENCE:  # a line now and then across a long gap
                items.append(("wait", PATIENCE))
                wait -= PATIENCE
            items.append(("chunk", a, b, wait))
        calls = [f"_W({num(it[1])})" if it[0] == "wait" else f"_P({it[1] + 1}, {it[2]})" for it in items]
        helpers = [f"function _P(a, b) {self._printbuffer('a', 'b')} end",
                   "function _W(d) delay(d) print(errorqueue.count) end",
                   *_lua_function("_G", calls)]
        go = f"{s}.source.output = {s}.OUTPUT_ON" + ("" if block.hold else f" {s}.trigger.initiate()")
        tail = f"delay({num(block.tail)}) " if block.tail > 0 else ""  # the base, to the period's end
        run = (f"if errorqueue.count == 0 then {go} end print(errorqueue.count) "
               f"if errorqueue.count == 0 then if not pcall(_G) then {s}.abort() end end "
               f"waitcomplete() {tail}{s}.source.output = {s}.OUTPUT_OFF")
        return [*block.setup, *helpers, run], items

    def _run_block(self, block: _Block, t0: float) -> Iterator[np.ndarray]:
        messages, items = self._program(block)
        for message in messages[:-1]:
            self.tsp.send(message)
        # The previous program may still hold its last pulse period's base (its tail).
        lag = max(self._program_end - time.monotonic(), 0.0)
        wait = self.tsp.timeout_ms / 1000 + 2 * lag if lag else None
        pending = int(parse_number(self.tsp.query(messages[-1], timeout=wait)))
        if pending:  # the program turned nothing on: ask the queue
            self.tsp.raise_errors(pending)
        origin = t0 + block.t_first  # session time of the block's first reading (as planned)
        ts0, done = None, 0
        self._program_end = time.monotonic() + float(sum(it[-1] for it in items)) + block.tail
        try:
            for done, item in enumerate(items, 1):
                if item[0] == "wait":
                    self.tsp.read_line("a wait in a program", timeout=2 * item[1] + 5.0)
                    yield empty_chunk(0)  # the caller may stop here
                    continue
                _, a, b, wait = item
                raw = self.tsp.read_block(f"the readings {a + 1}..{b} of a program",
                                          real64_block_size(len(COLUMNS) * (b - a)), timeout=2 * wait + 5.0)
                ts, src, v, i, status = self._parse_readings(raw, a + 1, b)
                ts0 = ts[0] if ts0 is None else ts0
                chunk = empty_chunk(b - a)
                chunk["t"] = origin + (ts - ts0)
                chunk["source"], chunk["v"], chunk["i"] = src, v, i
                chunk["compliance"] = (np.nan_to_num(status).astype(np.int64) & STATUS_COMPLIANCE) != 0
                chunk["index"], chunk["kind"] = block.indices[a:b], block.kinds[a:b]
                self._t_end = max(self._t_end, float(chunk["t"][-1]))
                yield chunk
            done = len(items) + 1
        finally:
            # Cut short: the program runs on to its end on the instrument (output off
            # there); what it still prints is skipped by output_off (query_marked).
            self._program_end = time.monotonic() + block.tail + (
                float(sum(it[-1] for it in items[done:])) if done <= len(items) else 0.0)

    def _parse_readings(self, raw: bytes, a: int, b: int) -> np.ndarray:
        """The COLUMNS of readings a..b (1-based, inclusive) from a printbuffer block, as rows
        of the transposed array; a garbled or short block resynchronises and raises."""
        try:
            data = parse_real64_block(raw, len(COLUMNS))
        except ProtocolError:
            self.tsp.clear()  # the rest of a garbled reply must not poison the next query
            raise
        if len(data) != b - a + 1:
            self.tsp.clear()
            raise ProtocolError(f"printbuffer({a}, {b}) returned {len(data)} readings, not {b - a + 1}")
        return data.T

    def _checkpoint(self) -> None:
        """End of a request: wait for the trigger model to finish, raise any queued error."""
        pending = int(parse_number(self.tsp.query("waitcomplete() print(errorqueue.count)")))
        if pending:
            self.tsp.raise_errors(pending)
