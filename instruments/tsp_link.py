"""The wire to a Keithley 2614B: TSP messages out, replies in (transport only).

:class:`TSPLink` is a PyMeasure :class:`~pymeasure.instruments.Instrument` (byte-exact tests
with ``pymeasure.test.expected_protocol``). It maps VISA failures onto
:mod:`labqc.instruments.errors`, reads the instrument's error queue, reads binary blocks by
byte count, and resynchronises with a device clear after a timeout: a Lua error prints
nothing, so a timed-out query is often an error in the queue (docs/keithley2614b.md, "The
wire"). On a pyvisa-py raw socket every wait is bounded and a closed connection is noticed
at once (:mod:`labqc.instruments.visa_io`). What the messages say is planned elsewhere
(:mod:`labqc.instruments.tsp_planner`).
"""
from __future__ import annotations

import time

import pyvisa
from pymeasure.instruments import Instrument

from labqc.instruments import visa_io
from labqc.instruments.errors import ConnectionLost, InstrumentReportedError, InstrumentTimeout, ProtocolError
from labqc.instruments.tsp_format import parse_error, parse_number

#: Reading the error queue after a timeout, and each try of turning the outputs off: short,
#: so a stuck instrument does not cost a second full timeout.
RESYNC_TIMEOUT = 3.0


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

    def query_counted_block(self, message: str, nbytes: int, timeout: float | None = None) -> tuple[int, bytes]:
        """Write ``message``, which prints an error count and then, only if that count is
        0, a binary block of ``nbytes``; return (count, block or b"")."""
        count = int(parse_number(self.query(message, timeout)))
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
        """Read exactly ``nbytes``. A binary block may hold 0x0A, so the termination
        character is switched off for the read (one VISA read of the whole block instead of
        one per 0x0A byte)."""
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


__all__ = ["TSPLink", "RESYNC_TIMEOUT"]
