"""Keithley 2614B driver (TSP over GPIB, LAN or USB) behind :class:`labqc.instruments.smu.SourceMeasure`.

Every operation is timed by the instrument, never by this computer. The driver wires three
parts together:

- the wire, :class:`~labqc.instruments.tsp_link.TSPLink` (messages, replies, errors, device
  clear, reconnection);
- the planners, pure functions from a request and the channel's capabilities to TSP text:
  :mod:`labqc.instruments.tsp_planner` (Sweep, PulseTrain, Sampling: trigger-model programs),
  :mod:`labqc.instruments.tsp_loop` (a Repeat as a Lua loop), :mod:`labqc.instruments.tsp_search`
  (a Search decided on the instrument), built from :mod:`labqc.instruments.tsp_messages`;
- the runner, :mod:`labqc.instruments.tsp_runner`, which sends a plan and streams its
  readings as the instrument prints them.

This module keeps the session (connect, line frequency, capabilities), the spot reading and
the ways out: :meth:`Keithley2614B.abort` and :meth:`Keithley2614B.output_off`. Safety:
compliance is set in messages sent before the one that turns the output on, and that message
turns it on only if the instrument's error queue is empty, so a setting the instrument refused
never leaves it sourcing with a stale limit. ``output_off`` reads both outputs back to confirm
(skipping what a cut-short program still prints), and falls back to device clear, then up to
RECONNECT_TRIES reconnections. What is sent and what is verified: docs/keithley2614b.md.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Iterator

import numpy as np

from labqc.instruments import visa_io
from labqc.instruments.errors import ConnectionLost, ProtocolError
from labqc.instruments.smu import KIND_POINT, Repeat, Request, Sampling, SourceMeasure, empty_chunk
from labqc.instruments.tsp_capabilities import CAPABILITIES, PULSE_MARGIN, READING_OVERHEAD, TimedCapabilities
from labqc.instruments.tsp_format import parse_bool, parse_number, parse_print
from labqc.instruments.tsp_link import RESYNC_TIMEOUT, TSPLink
from labqc.instruments.tsp_loop import loops_natively
from labqc.instruments.tsp_messages import measure_setup, source_setup
from labqc.instruments.tsp_planner import PATIENCE, PROGRAM_SECONDS, SAMPLE_BLOCK, chunk_bounds, plan, range_for
from labqc.instruments.tsp_programs import PROGRAM_LIMIT
from labqc.instruments.tsp_runner import checkpoint, run_block, run_loop

log = logging.getLogger(__name__)

#: After a dropped connection: this many tries to reconnect, RECONNECT_GAP s apart.
RECONNECT_TRIES = 3
RECONNECT_GAP = 2.0


class Keithley2614B(SourceMeasure):
    """One channel of a Keithley 2614B.

    ``Keithley2614B("GPIB0::26::INSTR")`` on the bench; add ``visa_library=`` for the
    simulator; ``channel="b"`` for the second SMU. ``adapter_or_resource`` may also be a
    PyMeasure adapter (tests use ``expected_protocol``).
    """

    #: Readings per chained Sampling program (one nvbuffer's worth).
    sample_block = SAMPLE_BLOCK
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
        #: Session time of the last reading, so t is monotonic across requests.
        self.t_end = 0.0
        #: time.monotonic() at which a program still running on the instrument ends.
        self.program_end = 0.0
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
        blocks = plan(request, self.capabilities, smu=self.smu, program_limit=self.program_limit,
                      sample_block=self.sample_block)  # may refuse before anything is sent
        # Within a request t is the instrument's own timestamps; a new request continues the
        # session's time line from its last reading (the idle gap between requests is not timed).
        t0 = self.t_end
        for block in blocks:
            yield from run_block(self, block, t0)
        checkpoint(self.tsp)

    def loops_natively(self, r: Repeat) -> bool:
        """True when ``r`` runs as one Lua loop on the instrument (tsp_loop.loops_natively)."""
        return loops_natively(r)

    def _repeat(self, request: Repeat) -> Iterator[np.ndarray]:
        """A :class:`Repeat` as a Lua loop on the instrument (instruments/tsp_loop.py); steps
        the loop cannot hold run one by one (the generic way)."""
        if not loops_natively(request):
            yield from super()._repeat(request)
            return
        yield from run_loop(self, request)
        checkpoint(self.tsp)

    def _search(self, request) -> Iterator[np.ndarray]:
        """A Search decided on the instrument, in its own Lua (instruments/tsp_search.py)."""
        from labqc.instruments.tsp_search import run_search

        yield from run_search(self, request)
        checkpoint(self.tsp)

    def read(self, level: float, *, compliance: float, source: str = "V", nplc: float = 1.0) -> np.ndarray:
        """Spot reading: limit, level, output on, measure I and V, output off (one message)."""
        self.capabilities.check(Sampling(level, compliance, [0.0], source=source, nplc=nplc))
        s = self.smu
        self.tsp.send(source_setup(s, source, level, compliance, rng=None) + " "
                      + measure_setup(s, source, nplc, None, delay=0.0))
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
            out[0] = (self.t_end, level, parse_number(v), parse_number(i), parse_bool(c), 0, KIND_POINT)
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
        if self.program_end > time.monotonic() and visa_io.raw_socket(self.tsp.adapter.connection) is None:
            try:
                self.tsp.clear()
                self.program_end = 0.0
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
        left = max(self.program_end - time.monotonic(), 0.0)  # a program cut short runs on
        fields = self.tsp.query_marked("smua.source.output = smua.OUTPUT_OFF smub.source.output = smub.OUTPUT_OFF",
                                       ["smua.source.output", "smub.source.output"], left + RESYNC_TIMEOUT)
        states = [parse_number(x) for x in fields]
        if states != [0.0, 0.0]:
            raise ProtocolError(f"the outputs read back as {states} after turning them off")
        self.program_end = 0.0

    def close(self) -> None:
        self.tsp.adapter.close()


__all__ = ["CAPABILITIES", "Keithley2614B", "PATIENCE", "PROGRAM_SECONDS", "PULSE_MARGIN", "READING_OVERHEAD",
           "RESYNC_TIMEOUT", "TSPLink", "TimedCapabilities", "chunk_bounds", "range_for"]
