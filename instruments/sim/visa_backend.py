"""A PyVISA backend that opens the simulated lab in-process, with real VISA semantics.

    pyvisa.ResourceManager("@labqcsim")                        # the default lab
    pyvisa.ResourceManager(sim_library("bfo", seed=3))         # a chosen one
    Keithley2600("GPIB0::26::INSTR", visa_library=sim_library())  # PyMeasure, unchanged

What a session does, as a VISA library does it:

- write: bytes are split into messages on the instrument's own terminator (b"\\n" for TSP,
  b"\\0" for KXCI over Ethernet); a partial message waits for the rest. On GPIB a write
  also ends with EOI (VI_ATTR_SEND_END_EN, on by default), so whatever it carries is a
  whole message whatever terminator the client used. On a SOCKET only the terminator
  ends a message, so a client with the wrong one hangs exactly as on the bench.
- read(count): returns at the termination character when VI_ATTR_TERMCHAR_EN is on
  (success_termination_character_read), at count bytes (success_max_count_read), or at
  the end of the instrument's message (END/EOI: success). What is not read stays for
  the next read, so binary payloads containing 0x0A can be read by byte count. A reply
  cut short (a truncate fault) has no END: the read waits for more and times out.
- timeouts run on the lab's virtual clock: when no reply will be ready within
  VI_ATTR_TMO_VALUE, the clock advances by the timeout and the read raises
  VI_ERROR_TMO; a late reply stays queued, as on hardware.
- clear (viClear) is a device clear; read_stb a serial poll; attributes live per session.
- a drop fault loses the connection: the I/O during which it happens and every later
  one on the session raise VI_ERROR_CONN_LOST, the instrument discards the replies it
  owed, and a new session works. The fault belongs to the instrument, so every session
  open on it at that moment (GPIB and LAN names of one 2614B) loses its connection.

Procedures run in a worker thread while a GUI reads, so each session serialises its own
I/O and every emulator call holds the emulator's lock, but no lock of the emulator is
held while the clock sleeps (time scale > 0).
"""
from __future__ import annotations

import itertools
import math
import threading
from typing import Any

from pyvisa import attributes, constants, rname
from pyvisa.constants import ResourceAttribute as RA
from pyvisa.constants import StatusCode
from pyvisa.highlevel import VisaLibraryBase
from pyvisa.util import LibraryPath

from labqc.instruments.sim.emulator import Emulator, Reply
from labqc.instruments.sim.lab import ResourceNotFound, SimulatedLab, get_lab, parse_spec, sim_library

#: Longest stretch of wall time a waiting read sleeps before looking at the queue again
#: (time scale > 0: another thread may clear the instrument meanwhile).
POLL_WALL_S = 0.05


class _Session:
    """One open resource: its attributes, its half-written message, its unread bytes."""

    def __init__(self, lab: SimulatedLab, resource: str) -> None:
        self.lab = lab
        self.resource = resource
        self.io_lock = threading.RLock()
        self.inbuf = bytearray()  # bytes written but not yet a whole message
        self.pending = bytearray()  # bytes of the current reply not yet read
        self.pending_end = False  # whether the current reply ends with END
        self.attrs = _default_attributes(resource)
        self._emulator: Emulator | None = None
        self._drops_at_open = 0
        self.lost = False

    def emulator(self) -> Emulator:
        """The instrument, raising CONN_LOST once a drop fault has cut this session."""
        emu = self.lab.emulator(self.resource)
        if emu is not self._emulator:  # first use, or the lab was reset (a fresh instrument)
            self._emulator = emu
            self.inbuf.clear()
            self.pending.clear()
            self._drops_at_open = emu.drops
            self.lost = False
        if self.lost or emu.drops > self._drops_at_open:
            if not self.lost:  # the instrument forgets what it owed the lost connection
                self.lost = True
                self.inbuf.clear()
                self.pending.clear()
                with emu.lock:
                    emu.clear()
            raise _Status(StatusCode.error_connection_lost)
        return emu

    @property
    def ends_message_on_write(self) -> bool:
        return self.attrs[RA.interface_type] == constants.InterfaceType.gpib and bool(
            self.attrs[RA.send_end_enabled])

    @property
    def timeout_s(self) -> float:
        ms = self.attrs[RA.timeout_value]
        return math.inf if ms == constants.VI_TMO_INFINITE else ms / 1000.0

    # --- I/O ---------------------------------------------------------------------------
    def write(self, data: bytes) -> int:
        with self.io_lock:
            emu = self.emulator()
            self.inbuf += data
            *messages, rest = bytes(self.inbuf).split(emu.write_termination)
            self.inbuf = bytearray(rest)
            if self.ends_message_on_write:
                messages.append(rest)
                self.inbuf.clear()
            for message in messages:
                message = message.rstrip(b"\r\n\0")  # CR-LF clients, stray terminators
                if message:
                    with emu.lock:
                        emu.write(message)
                    self.emulator()  # a drop fault loses the rest of this write
            return len(data)

    def read(self, count: int) -> tuple[bytes, StatusCode]:
        with self.io_lock:
            emu = self.emulator()
            termchar = bytes([self.attrs[RA.termchar] & 0xFF])
            use_termchar = bool(self.attrs[RA.termchar_enabled])
            deadline = self.lab.clock.now + self.timeout_s
            out = bytearray()
            while True:
                if not self.pending:
                    reply = self._next_reply(emu, deadline)
                    self.pending = bytearray(reply.data)
                    self.pending_end = reply.data.endswith(emu.read_termination)
                chunk = self.pending[: count - len(out)]
                if use_termchar and termchar in chunk:
                    chunk = chunk[: chunk.index(termchar) + 1]
                    del self.pending[: len(chunk)]
                    out += chunk
                    return bytes(out), StatusCode.success_termination_character_read
                del self.pending[: len(chunk)]
                out += chunk
                if not self.pending and self.pending_end:
                    return bytes(out), StatusCode.success
                if len(out) >= count:
                    return bytes(out), StatusCode.success_max_count_read
                # The reply ended without END (cut short): wait for more bytes.

    def _next_reply(self, emu: Emulator, deadline: float) -> Reply:
        """Wait on the virtual clock for the next reply; TMO if none is ready by deadline."""
        clock = self.lab.clock
        while True:
            with emu.lock:
                head = emu.peek()
            if head is not None and head.ready_at <= deadline:
                clock.advance_to(head.ready_at)
                with emu.lock:
                    if emu.peek() is head:  # nobody cleared or took it while we waited
                        return emu.pop()
                continue
            now = clock.now
            if now >= deadline or clock.time_scale == 0:
                if math.isfinite(deadline):
                    clock.advance_to(deadline)
                # With an infinite timeout at scale 0 nothing can ever arrive: no point
                # in hanging forever, so time out at once.
                raise _Status(StatusCode.error_timeout)
            clock.advance_to(min(deadline, now + POLL_WALL_S / clock.time_scale))

    def clear(self) -> None:
        with self.io_lock:
            emu = self.emulator()
            with emu.lock:
                emu.clear()
            self.inbuf.clear()
            self.pending.clear()

    def read_stb(self) -> int:
        with self.io_lock:
            emu = self.emulator()
            with emu.lock:
                return emu.read_stb()

    def discard_read_buffer(self) -> None:
        with self.io_lock:
            self.pending.clear()


class _Status(Exception):
    """A VISA status for the library to turn into its return value (or VisaIOError)."""

    def __init__(self, status: StatusCode) -> None:
        super().__init__(status)
        self.status = status


def _default_attributes(resource: str) -> dict[int, Any]:
    """Every attribute PyVISA knows a default for, plus what the resource name says."""
    attrs: dict[int, Any] = {
        attr_id: cls.default for attr_id, cls in attributes.AttributesByID.items()
        if cls.default is not attributes.NotAvailable
    }
    parsed = rname.parse_resource_name(resource)
    attrs[RA.resource_name] = resource
    attrs[RA.interface_type] = parsed.interface_type_const
    attrs[RA.resource_class] = parsed.resource_class
    attrs[RA.interface_number] = int(getattr(parsed, "board", 0) or 0)
    attrs[RA.resource_manufacturer_name] = "labqc simulated lab"
    if parsed.interface_type_const == constants.InterfaceType.gpib:
        attrs[RA.gpib_primary_address] = int(parsed.primary_address)
        attrs[RA.gpib_secondary_address] = constants.VI_NO_SEC_ADDR
    elif parsed.interface_type_const == constants.InterfaceType.tcpip:
        attrs[RA.tcpip_address] = parsed.host_address
        attrs[RA.tcpip_hostname] = parsed.host_address
        attrs[RA.tcpip_port] = int(parsed.port)
    return attrs


class LabqcSimLibrary(VisaLibraryBase):
    """The ``@labqcsim`` backend; its library path is the lab spec (see sim_library)."""

    @staticmethod
    def get_library_paths() -> tuple[LibraryPath, ...]:
        # The default spec itself, not "unset": PyMeasure closes a ResourceManager whose
        # path is "unset" on adapter close, which would close every other instrument too.
        return (LibraryPath(sim_library().rsplit("@", 1)[0], "labqcsim default"),)

    @staticmethod
    def get_debug_info() -> list[str]:
        return ["labqc simulated lab: Keithley 2614B (TSP) and 4200A-SCS (KXCI) emulators"]

    def _init(self) -> None:
        self.spec = parse_spec(str(self.library_path))
        self.lab = get_lab(str(self.library_path))
        self.sessions: dict[int, _Session] = {}
        self._rm_sessions: set[int] = set()
        self._ids = itertools.count(0x51A0001)
        self._sessions_lock = threading.Lock()

    def _new_id(self) -> int:
        with self._sessions_lock:
            return next(self._ids)

    def _session(self, session: int) -> _Session:
        try:
            return self.sessions[session]
        except KeyError:
            raise _Status(StatusCode.error_invalid_object) from None

    def _run(self, session: int, action, *args):
        """Run a session action; return (value, status) the VISA way, raising on errors."""
        try:
            value = action(self._session(session), *args)
            status = StatusCode.success
            if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], StatusCode):
                value, status = value
        except _Status as exc:
            return None, self.handle_return_value(session, exc.status)
        return value, self.handle_return_value(session, status)

    # --- resource manager ------------------------------------------------------------------
    def open_default_resource_manager(self) -> tuple[int, StatusCode]:
        sid = self._new_id()
        self._rm_sessions.add(sid)
        return sid, self.handle_return_value(None, StatusCode.success)

    def list_resources(self, session: int, query: str = "?*::INSTR") -> tuple[str, ...]:
        return rname.filter(self.lab.resources(), query)

    def open(self, session: int, resource_name: str,
             access_mode: constants.AccessModes = constants.AccessModes.no_lock,
             open_timeout: int = constants.VI_TMO_IMMEDIATE) -> tuple[int, StatusCode]:
        try:
            name = self.lab.canonical(resource_name)
        except ResourceNotFound:
            return 0, self.handle_return_value(None, StatusCode.error_resource_not_found)
        sess = _Session(self.lab, name)
        sess.emulator()  # build the instrument now, so a broken one fails at open
        sid = self._new_id()
        self.sessions[sid] = sess
        return sid, self.handle_return_value(sid, StatusCode.success)

    def close(self, session: int) -> StatusCode:
        """Close one session only; closing the resource manager's session leaves the
        instrument sessions alone (PyVISA closes those it made itself)."""
        if session in self._rm_sessions:
            self._rm_sessions.discard(session)
            return StatusCode.success
        if self.sessions.pop(session, None) is None:
            return self.handle_return_value(session, StatusCode.error_invalid_object)
        return StatusCode.success

    # --- message-based I/O -----------------------------------------------------------------
    def write(self, session: int, data: bytes) -> tuple[int, StatusCode]:
        return self._run(session, _Session.write, bytes(data))

    def read(self, session: int, count: int) -> tuple[bytes, StatusCode]:
        data, status = self._run(session, _Session.read, int(count))
        return data if data is not None else b"", status

    def clear(self, session: int) -> StatusCode:
        return self._run(session, _Session.clear)[1]

    def read_stb(self, session: int) -> tuple[int, StatusCode]:
        return self._run(session, _Session.read_stb)

    def flush(self, session: int, mask: constants.BufferOperation) -> StatusCode:
        discard = constants.BufferOperation.discard_read_buffer | \
            constants.BufferOperation.discard_receive_buffer
        if mask & discard:
            return self._run(session, _Session.discard_read_buffer)[1]
        return self._run(session, lambda sess: None)[1]

    def assert_trigger(self, session: int, protocol: constants.TriggerProtocol) -> StatusCode:
        # The emulated instruments take their triggers from commands, not from GET.
        return self._run(session, lambda sess: None)[1]

    # --- attributes and events ------------------------------------------------------------
    def get_attribute(self, session: int, attribute: constants.ResourceAttribute) -> tuple[Any, StatusCode]:
        def get(sess: _Session):
            if attribute not in sess.attrs:
                raise _Status(StatusCode.error_nonsupported_attribute)
            return sess.attrs[attribute]

        return self._run(session, get)

    def set_attribute(self, session: int, attribute: constants.ResourceAttribute,
                      attribute_state: Any) -> StatusCode:
        def set_(sess: _Session):
            if attribute == RA.timeout_value and not (
                    0 <= int(attribute_state) <= constants.VI_TMO_INFINITE):
                raise _Status(StatusCode.error_nonsupported_attribute_state)
            sess.attrs[attribute] = attribute_state

        return self._run(session, set_)[1]

    def disable_event(self, session: int, event_type, mechanism) -> StatusCode:
        return StatusCode.success

    def discard_events(self, session: int, event_type, mechanism) -> StatusCode:
        return StatusCode.success


WRAPPER_CLASS = LabqcSimLibrary
