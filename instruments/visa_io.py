"""Bounded I/O on a raw TCP socket session, around what pyvisa-py does unbounded.

pyvisa-py's ``TCPIPSocketSession`` has three waits without an exit on a dead link:

- ``clear()`` reads until ``select`` says nothing is readable; a socket the peer closed is
  always readable and ``recv`` returns ``b""`` forever, so it spins at 100 % CPU for ever
  (measured: 12 minutes of ``labqc run`` after a dropped connection, see tests/faults/);
- ``write()`` waits for writability with ``select`` and no timeout;
- ``read()`` on a closed socket spins until its timeout and then reports a *timeout*,
  not a lost connection.

So the drivers never call ``clear()`` on such a session: :func:`drain` empties what is in
flight with a deadline and reports end-of-file as :class:`ConnectionLost`, and
:func:`wait_readable` / :func:`wait_writable` wait in short slices, noticing a closed
connection within a slice. Every function takes the PyVISA resource; for a session that
is not a pyvisa-py raw socket (GPIB, the in-process simulator) :func:`raw_socket` is None
and the drivers use VISA as it is.
"""
from __future__ import annotations

import select
import socket
import time

from labqc.instruments.errors import ConnectionLost

#: Longest single wait on a socket: a dropped connection is noticed within this.
SLICE_S = 0.5
#: A device clear on a raw socket gives up after reading for this long.
DRAIN_MOST_S = 3.0


def _session(resource):
    library = getattr(resource, "visalib", None)
    sessions = getattr(library, "sessions", None)
    if not isinstance(sessions, dict):
        return None
    return sessions.get(getattr(resource, "session", None))


def raw_socket(resource) -> socket.socket | None:
    """The TCP socket under a pyvisa-py ``...::SOCKET`` session, else None."""
    if not type(getattr(resource, "visalib", None)).__module__.startswith("pyvisa_py"):
        return None
    sock = getattr(_session(resource), "interface", None)
    return sock if isinstance(sock, socket.socket) else None


def _pending(resource) -> bytearray | None:
    """Bytes pyvisa-py already took off the socket but has not handed out yet."""
    return getattr(_session(resource), "_pending_buffer", None)


def peer_closed(sock: socket.socket) -> bool:
    """True when the peer has closed or reset the connection (end of file is readable)."""
    if sock.fileno() < 0:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset, or closed under us
        return True


def _lost(name: str, what: str) -> ConnectionLost:
    return ConnectionLost(f"the connection to the {name} was closed by the other end ({what})")


def wait_readable(resource, seconds: float, name: str) -> bool:
    """Wait up to ``seconds`` for a reply to start arriving: True when one has, False at
    the deadline; ConnectionLost as soon as the peer has closed the connection."""
    sock = raw_socket(resource)
    if sock is None or _pending(resource):
        return True
    deadline = time.monotonic() + max(seconds, 0.0)
    while True:
        left = deadline - time.monotonic()
        try:
            readable, _, _ = select.select([sock], [], [], min(max(left, 0.0), SLICE_S))
        except (OSError, ValueError):
            raise _lost(name, "socket unusable") from None
        if readable:
            if peer_closed(sock):
                raise _lost(name, "end of file while waiting for a reply")
            return True
        if left <= 0:
            return False


def wait_writable(resource, seconds: float, name: str) -> bool:
    """Before a write: ConnectionLost if the peer has closed; False if the socket does
    not take data within ``seconds`` (pyvisa-py would wait for ever)."""
    sock = raw_socket(resource)
    if sock is None:
        return True
    if peer_closed(sock):
        raise _lost(name, "end of file before a message was sent")
    try:
        _, writable, _ = select.select([], [sock], [], max(seconds, 0.0))
    except (OSError, ValueError):
        raise _lost(name, "socket unusable") from None
    return bool(writable)


def drain(resource, name: str, quiet: float = 0.2, most: float = DRAIN_MOST_S) -> None:
    """What a device clear can do on a raw socket: throw away every byte in flight, until
    none arrives for ``quiet`` seconds (at most ``most`` seconds). ConnectionLost at end of
    file (pyvisa-py's own ``clear()`` would spin there for ever)."""
    sock = raw_socket(resource)
    if sock is None:
        raise ValueError("drain() is for raw socket sessions; use the VISA clear")
    pending = _pending(resource)
    if pending is not None:
        pending.clear()
    deadline = time.monotonic() + most
    while time.monotonic() < deadline:
        try:
            readable, _, _ = select.select([sock], [], [], quiet)
            if not readable:
                return
            data = sock.recv(65536)
        except BlockingIOError:
            continue
        except (OSError, ValueError):
            raise _lost(name, "reset while clearing") from None
        if not data:
            raise _lost(name, "end of file while clearing")


def check_open(resource, name: str) -> None:
    """ConnectionLost if the raw socket under ``resource`` has been closed by the peer."""
    sock = raw_socket(resource)
    if sock is not None and not _pending(resource) and peer_closed(sock):
        raise _lost(name, "end of file")
