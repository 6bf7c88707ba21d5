"""The simulated lab on loopback TCP ports, as the instruments' LAN ports look on the bench.

    2614B   raw socket, default port 5025, messages and replies end with b"\\n"
    4200A   KXCI Ethernet, default port 1225, messages and replies end with b"\\0" (ACKs)

A PyVISA client reaches them with ``TCPIP0::127.0.0.1::5025::SOCKET`` and
``TCPIP0::127.0.0.1::1225::SOCKET`` through pyvisa-py, like hardware. The server binds
127.0.0.1 only: a simulated instrument has no business on the lab network.

Each port serves one client at a time; the next one is accepted when it leaves. Replies
go out when they are ready on the lab's virtual clock: at time scale 0 at once, in order
(the clock jumps to each reply's time), at scale > 0 after the scaled wall time. A drop
fault closes the client's socket. A client that leaves something behind (unread replies,
half a message, a stuck instrument) gets a device clear on the instrument after it
vanishes, so the next client starts in step; replies it left unread are thrown away, but
a program still running runs on to its end (as on the instrument: a host that dies does not
stop it), so the next client's first answer waits for it. Nothing a client sends can stop
the server.
"""
from __future__ import annotations

import logging
import select
import socket
import threading
from typing import Callable

from labqc.instruments.sim.emulator import Emulator
from labqc.instruments.sim.lab import RES_2614B_LAN, RES_4200A_LAN, SimulatedLab

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT_2614B = 5025
DEFAULT_PORT_4200A = 1225
#: Wall seconds between looks at the stop flag (and at the clock, when replies wait).
POLL_S = 0.05
#: A message longer than this without its terminator is handed over as it is (the
#: instrument rejects it) rather than held forever.
MAX_MESSAGE = 1 << 20
#: Wall seconds a client may leave a reply unread before it counts as gone.
SEND_TIMEOUT_S = 10.0


class _Client(Exception):
    """The client left or its connection was dropped."""


class _PortServer:
    """One listening socket in front of one emulated instrument."""

    def __init__(self, lab: SimulatedLab, resource: str, port: int) -> None:
        self.lab = lab
        self.resource = resource
        self.listener = socket.create_server((HOST, port))
        self.listener.settimeout(POLL_S)
        self.port: int = self.listener.getsockname()[1]
        self.clients_served = 0

    @property
    def visa_name(self) -> str:
        return f"TCPIP0::{HOST}::{self.port}::SOCKET"

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:
                break  # listener closed by stop()
            self.clients_served += 1
            try:
                self._serve_client(conn, stop)
            except Exception:  # the server outlives any client, whatever happened
                log.exception("simulated %s: client session failed", self.resource)
            finally:
                conn.close()

    def _serve_client(self, conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(SEND_TIMEOUT_S)
        emu = self.lab.emulator(self.resource)
        drops = emu.drops
        inbuf = bytearray()
        try:
            while not stop.is_set():
                if self.lab.emulator(self.resource) is not emu:  # the lab was reset
                    emu = self.lab.emulator(self.resource)
                    drops = emu.drops
                wait = self._send_ready(conn, emu)
                readable, _, _ = select.select([conn], [], [], wait)
                if not readable:
                    continue
                data = self._recv(conn)
                inbuf += data
                *messages, rest = bytes(inbuf).split(emu.write_termination)
                if len(rest) > MAX_MESSAGE:
                    messages.append(rest)
                    rest = b""
                inbuf = bytearray(rest)
                for message in messages:
                    message = message.rstrip(b"\r")  # CR-LF clients
                    if not message:
                        continue
                    with emu.lock:
                        emu.write(message)
                    if emu.drops > drops:
                        raise _Client("dropped by a fault")
            inbuf.clear()  # the server is stopping: nothing to tidy for a next client
        except _Client:
            pass
        finally:
            with emu.lock:
                if inbuf or emu.stuck:
                    emu.clear()
                elif emu.peek() is not None:  # replies nobody will read: the program runs on to its end
                    emu.discard_replies()

    @staticmethod
    def _recv(conn: socket.socket) -> bytes:
        try:
            data = conn.recv(65536)
        except OSError:
            raise _Client("connection reset") from None
        if not data:
            raise _Client("client closed")
        return data

    def _send_ready(self, conn: socket.socket, emu: Emulator) -> float:
        """Send every reply that is ready; return wall seconds to wait before looking again."""
        clock = self.lab.clock
        while True:
            with emu.lock:
                head = emu.peek()
            if head is None:
                return POLL_S
            if clock.time_scale == 0:
                clock.advance_to(head.ready_at)
            else:
                now = clock.now  # read once: at a time scale > 0 it moves between two reads
                if head.ready_at > now:
                    return min(POLL_S, (head.ready_at - now) * clock.time_scale)
            with emu.lock:
                if emu.peek() is not head:
                    continue
                emu.pop()
            try:
                conn.sendall(head.data)
            except OSError:  # reset, broken pipe, or a client that stopped reading
                raise _Client("client gone while a reply was sent") from None
            if head.drop_after:  # a drop fault at this reply (faults.py)
                with emu.lock:
                    emu.drops += 1
                raise _Client("dropped by a fault")

    def close(self) -> None:
        self.listener.close()


class LoopbackServer:
    """The simulated 2614B and 4200A on loopback ports, served from background threads.

    Use :func:`start_background` (tests) or :func:`serve` (the command line)."""

    def __init__(self, lab: SimulatedLab, port_2614b: int | None = DEFAULT_PORT_2614B,
                 port_4200a: int | None = DEFAULT_PORT_4200A) -> None:
        self.lab = lab
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.ports: dict[str, _PortServer] = {}
        try:
            if port_2614b is not None:
                self.ports["2614B"] = _PortServer(lab, RES_2614B_LAN, port_2614b)
            if port_4200a is not None:
                self.ports["4200A"] = _PortServer(lab, RES_4200A_LAN, port_4200a)
        except OSError:
            self._close_listeners()
            raise

    @property
    def port_2614b(self) -> int | None:
        return self.ports["2614B"].port if "2614B" in self.ports else None

    @property
    def port_4200a(self) -> int | None:
        return self.ports["4200A"].port if "4200A" in self.ports else None

    @property
    def resources(self) -> dict[str, str]:
        """VISA resource name of each served instrument, by model."""
        return {model: p.visa_name for model, p in self.ports.items()}

    def start(self) -> "LoopbackServer":
        for model, port in self.ports.items():
            thread = threading.Thread(target=port.run, args=(self._stop,), daemon=True,
                                      name=f"labqc-sim-{model}-{port.port}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop serving, close every socket, and wait for the threads to end."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=SEND_TIMEOUT_S + 1)
        self._close_listeners()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stop() is called (True) or ``timeout`` passes (False)."""
        return self._stop.wait(timeout)

    def _close_listeners(self) -> None:
        for port in self.ports.values():
            port.close()

    def __enter__(self) -> "LoopbackServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_background(lab: SimulatedLab, port_2614b: int | None = 0,
                     port_4200a: int | None = 0) -> LoopbackServer:
    """Serve ``lab`` from background threads; port 0 picks a free port. Call .stop()."""
    return LoopbackServer(lab, port_2614b, port_4200a).start()


def serve(lab: SimulatedLab, port_2614b: int | None = DEFAULT_PORT_2614B,
          port_4200a: int | None = DEFAULT_PORT_4200A,
          ready_callback: Callable[[LoopbackServer], None] | None = None) -> None:
    """Serve ``lab`` until interrupted (KeyboardInterrupt) or the server is stopped from
    ``ready_callback``'s side; ``ready_callback(server)`` runs once the ports are bound."""
    server = LoopbackServer(lab, port_2614b, port_4200a).start()
    try:
        if ready_callback is not None:
            ready_callback(server)
        while not server.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
