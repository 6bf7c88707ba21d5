"""The KXCI wire of the Keithley 4200A-SCS: one command or query at a time, framed for
Ethernet (NUL terminators, an ``ACK`` for every command) or GPIB (LF, no ACK, errors in
the status byte), typed errors, waits that cost no CPU, and recovery.

It knows nothing of sweeps or pulses; :mod:`labqc.instruments.keithley4200a` builds on it.
Rules (docs/keithley4200a.md): after any reply that is not ``ACK`` (or not data), or
a timeout, ask ``:ERROR:LAST:GET`` and raise a typed error; after a timeout, clear the
session first so that a late reply cannot answer the next question.
"""
from __future__ import annotations

import time

from pymeasure.instruments import Instrument
from pyvisa import constants as visa_constants
from pyvisa.errors import VisaIOError

from labqc.instruments import visa_io
from labqc.instruments.errors import (ConnectionLost, InstrumentError, InstrumentReportedError, InstrumentTimeout,
                                ProtocolError)
from labqc.instruments.kxci_format import clean, parse_error, parse_int
from labqc.instruments.kxci_messages import msg

#: Status byte bits (KXCI): B0 data ready, B1 syntax error, B4 busy.
SB_SYNTAX_ERROR = 0x02
SB_BUSY = 0x10


def _is_timeout(exc: VisaIOError) -> bool:
    return exc.error_code == visa_constants.StatusCode.error_timeout


# --- the wire ---------------------------------------------------------------------------


class KXCI(Instrument):
    """One KXCI session: commands, queries, waits, and recovery. Knows nothing of sweeps.

    ``framing`` "ethernet": NUL terminators, every command answers ``ACK``.
    ``framing`` "gpib": LF terminators, no ACK, errors in the status byte.
    """

    def __init__(self, adapter, framing: str, timeout: float, visa_library: str | None = None, **kwargs) -> None:
        if framing not in ("ethernet", "gpib"):
            raise ValueError(f"framing must be 'ethernet' or 'gpib', not {framing!r}")
        term = "\0" if framing == "ethernet" else "\n"
        self.framing = framing
        self.timeout = float(timeout)
        self._open_kwargs = dict(write_termination=term, read_termination=term,
                                 timeout=int(round(self.timeout * 1000)), **kwargs)
        super().__init__(adapter, "Keithley 4200A-SCS (KXCI)", includeSCPI=False,
                         visa_library=visa_library or "", **self._open_kwargs)
        self._wall0 = time.monotonic()
        self._idle_credit = 0.0  # nominal idle time not spent in wall time (simulator)

    @property
    def ethernet(self) -> bool:
        return self.framing == "ethernet"

    # -- commands and queries --------------------------------------------------------
    def command(self, cmd: str) -> None:
        """Send one command; on Ethernet consume its ACK (anything else is an error)."""
        self._send(cmd)
        if self.ethernet:
            reply = self._receive(cmd)
            if clean(reply) != "ACK":
                self.raise_reported(cmd, f"answered {clean(reply)!r} instead of ACK")

    def query(self, cmd: str, *, empty_ok: bool = False) -> str:
        """Send one command that returns data and return the data, stripped.

        ``empty_ok``: an empty reply is an answer (a ``DO`` of a buffer that holds no
        reading yet), not a failure; a failing command answers ``ERROR`` on Ethernet."""
        self._send(cmd)
        reply = clean(self._receive(cmd))
        if reply in ("ACK", "ERROR") or (reply == "" and not empty_ok):
            self.raise_reported(cmd, f"answered {reply!r} where data was expected")
        return reply

    def checkpoint(self) -> None:
        """On GPIB, read the status byte and raise the instrument's error if B1 is set.

        On Ethernet every command was already checked through its ACK."""
        if self.ethernet:
            return
        if self.status_byte() & SB_SYNTAX_ERROR:
            self.raise_reported("the last commands", "set the syntax-error bit")

    def status_byte(self) -> int:
        """The KXCI status byte: ``SP`` on Ethernet, a serial poll on GPIB."""
        if self.ethernet:
            return parse_int(self.query(msg("status")), msg("status"))
        try:
            return int(self.adapter.connection.read_stb())
        except VisaIOError as exc:
            raise self._io_error("a serial poll", exc) from exc

    def last_error(self) -> tuple[int, str]:
        """``:ERROR:LAST:GET`` as (code, message); code 0 means none.

        With no error the instrument answers an empty reply, which :meth:`query` would take
        for a failure and ask this again: so a plain read here, and a timeout is raised as
        it is, without the recovery of :meth:`_receive` (which calls this)."""
        self._send(msg("last_error"))
        try:
            return parse_error(self._read_reply())
        except VisaIOError as exc:
            raise self._io_error("reading :ERROR:LAST:GET", exc) from exc

    def _send(self, cmd: str) -> None:
        if not visa_io.wait_writable(self.adapter.connection, self.timeout, "4200A"):
            raise InstrumentTimeout(f"the 4200A did not take {cmd!r} within {self.timeout:g} s")
        try:
            self.write(cmd)
        except VisaIOError as exc:
            raise self._io_error(f"sending {cmd!r}", exc) from exc

    def _read_reply(self) -> str:
        # On a raw socket, wait in short slices: a closed connection is noticed at once.
        if not visa_io.wait_readable(self.adapter.connection, self.timeout, "4200A"):
            raise VisaIOError(visa_constants.StatusCode.error_timeout)
        return self.read()

    def _receive(self, cmd: str) -> str:
        try:
            return self._read_reply()
        except VisaIOError as exc:
            if not _is_timeout(exc):
                raise self._io_error(f"waiting for the answer to {cmd!r}", exc) from exc
        # A timeout: the reply may still come and poison the next query, so clear the
        # session first, then ask the instrument what it thinks went wrong.
        self.device_clear()
        detail = ""
        try:
            code, message = self.last_error()
            if code:
                detail = f" (it reports error {code}: {message})"
        except InstrumentError:
            detail = " (nor to :ERROR:LAST:GET after a device clear)"
        raise InstrumentTimeout(f"the 4200A did not answer {cmd!r} within {self.timeout:g} s{detail}; "
                                "the session was cleared")

    def raise_reported(self, cmd: str, what: str) -> None:
        """Raise what the 4200A reports after ``cmd`` went wrong (``what`` it did): its last
        error as InstrumentReportedError, or ProtocolError when it reports none."""
        code, message = self.last_error()
        if code:
            raise InstrumentReportedError(code, f"{message} (after {cmd!r})")
        raise ProtocolError(f"the 4200A {what} to {cmd!r} and reports no error")

    def _io_error(self, doing: str, exc: VisaIOError) -> InstrumentError:
        if _is_timeout(exc):
            return InstrumentTimeout(f"the 4200A timed out {doing}")
        return ConnectionLost(f"the connection to the 4200A failed {doing}: {exc.description}")

    # -- waiting without busy-looping --------------------------------------------------
    def idle(self, seconds: float) -> None:
        """Let ``seconds`` pass without talking to the instrument.

        This is a VISA read that is expected to time out: the timeout is set to the wait
        and the VisaIOError TMO is caught. On hardware it is a plain wait (nothing is
        pending, so the read returns at its timeout). In the simulator the virtual clock
        advances by the timeout, so instrument time passes exactly as long as we wait,
        with no busy loop and no ``time.sleep``. Long waits are cut into 1 s reads so that
        Ctrl-C is honoured promptly on hardware.
        """
        conn = self.adapter.connection
        saved = conn.timeout
        try:
            left = float(seconds)
            while left > 0:
                piece = min(left, 1.0)
                ms = max(1, int(round(piece * 1000)))
                conn.timeout = ms
                visa_io.check_open(conn, "4200A")  # a closed socket would read as silence
                wall = time.monotonic()
                try:
                    data = conn.read_raw()
                except VisaIOError as exc:
                    if not _is_timeout(exc):
                        raise self._io_error("while waiting", exc) from exc
                else:
                    raise ProtocolError(f"the 4200A sent {data!r} while nothing was asked")
                self._idle_credit += ms / 1000 - (time.monotonic() - wall)
                left -= ms / 1000
        finally:
            conn.timeout = saved

    def clock(self) -> float:
        """Seconds since connect on the driver's clock: wall time, except that each
        :meth:`idle` counts as its nominal length (equal on hardware; in the simulator
        the instrument's virtual time, which the VISA timeouts advanced)."""
        return time.monotonic() - self._wall0 + self._idle_credit

    # -- recovery ----------------------------------------------------------------------
    def device_clear(self) -> None:
        """Device clear (GPIB SDC, VISA viClear): empties the queues, resynchronises.

        A raw socket has no device clear; VISA libraries that refuse one there get the
        next best thing: whatever is in flight is read and thrown away. On a pyvisa-py raw
        socket the VISA clear is never called: it spins for ever on a closed connection."""
        conn = self.adapter.connection
        if visa_io.raw_socket(conn) is not None:
            visa_io.drain(conn, "4200A")
            return
        try:
            conn.clear()
        except VisaIOError as exc:
            if exc.error_code != visa_constants.StatusCode.error_nonsupported_operation:
                raise self._io_error("clearing the device", exc) from exc
            saved = conn.timeout
            conn.timeout = 100
            try:
                while True:
                    conn.read_raw()
            except VisaIOError as drained:
                if not _is_timeout(drained):
                    raise self._io_error("clearing the connection", drained) from drained
            finally:
                conn.timeout = saved

    def reconnect(self) -> None:
        """Close and reopen the VISA session (once, after the connection dropped)."""
        adapter = self.adapter
        if not hasattr(adapter, "manager"):
            raise ConnectionLost("the 4200A connection is gone and cannot be reopened from here")
        try:
            adapter.connection.close()
        except (VisaIOError, OSError):
            pass  # it is already dead; that is why we reconnect
        try:
            adapter.connection = adapter.manager.open_resource(adapter.resource_name, **self._open_kwargs)
        except VisaIOError as exc:
            raise ConnectionLost(f"cannot reopen the 4200A at {adapter.resource_name}: {exc.description}") from exc
