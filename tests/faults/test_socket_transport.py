"""The raw-socket transport on a connection the instrument closed: every wait ends.

pyvisa-py's TCPIPSocketSession.clear() spins for ever on a socket the peer closed (select
says readable, recv returns b""). These tests talk pyvisa-py to a real TCP listener on
127.0.0.1 that closes the connection, and run each call in a thread joined with a
deadline: without the workaround in instruments/visa_io.py they would hang (the thread
would still be alive at the deadline).
"""
from __future__ import annotations

import socket
import threading
import time

import pytest
import pyvisa

from labqc.instruments import visa_io
from labqc.instruments.errors import ConnectionLost
from labqc.instruments.keithley2614b import TSPLink
from labqc.instruments.kxci_session import KXCI

#: Seconds any call below may take; the VISA timeout is 10 s, so a call that waited for
#: it (instead of noticing the closed socket) fails too.
BOUND = 4.0


class ClosingPeer:
    """A listener that accepts one client, reads ``before_close`` bytes (or nothing), sends
    ``reply`` and then closes the connection."""

    def __init__(self, reply: bytes = b"", before_close: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.reply, self.before_close = reply, before_close
        self.closed = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            got = b""
            while len(got) < self.before_close:
                data = conn.recv(4096)
                if not data:
                    break
                got += data
            if self.reply:
                conn.sendall(self.reply)
        self.closed.set()
        self.listener.close()

    @property
    def resource(self) -> str:
        return f"TCPIP0::127.0.0.1::{self.port}::SOCKET"


def within(bound: float, call) -> BaseException | object:
    """Run ``call`` in a daemon thread; its result or exception, or fail if still running."""
    out: list = []

    def target():
        try:
            out.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out.append(exc)

    t0 = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(bound)
    assert not thread.is_alive(), f"still running after {bound} s (an unbounded wait on a dead socket)"
    assert time.monotonic() - t0 < bound
    return out[0]


def tsp_link(peer: ClosingPeer) -> TSPLink:
    link = TSPLink(peer.resource, visa_library="@py", timeout=10.0)
    assert peer.closed.wait(2.0)
    return link


def test_socket_of_a_pyvisa_py_session_is_found():
    peer = ClosingPeer()
    link = tsp_link(peer)
    try:
        assert isinstance(visa_io.raw_socket(link.adapter.connection), socket.socket)
        assert visa_io.peer_closed(visa_io.raw_socket(link.adapter.connection))
    finally:
        link.adapter.close()


def test_device_clear_on_a_closed_socket_reports_a_lost_connection():
    peer = ClosingPeer(reply=b"late reply\n")
    link = tsp_link(peer)
    try:
        result = within(BOUND, link.clear)
        assert isinstance(result, ConnectionLost), result
        assert "closed by the other end" in str(result)
    finally:
        link.adapter.close()


def test_a_query_on_a_closed_socket_ends_at_once_not_at_its_timeout():
    peer = ClosingPeer()
    link = tsp_link(peer)
    try:
        t0 = time.monotonic()
        result = within(BOUND, lambda: link.query("print(1)"))
        assert isinstance(result, ConnectionLost), result
        assert time.monotonic() - t0 < 2.0  # the VISA timeout is 10 s
    finally:
        link.adapter.close()


def test_peer_closing_while_a_reply_is_awaited_is_noticed_within_a_slice():
    peer = ClosingPeer(before_close=len(b"print(1)\n"))  # reads the query, never answers
    link = TSPLink(peer.resource, visa_library="@py", timeout=10.0)
    try:
        result = within(BOUND, lambda: link.query("print(1)", timeout=30.0))
        assert isinstance(result, ConnectionLost), result
    finally:
        link.adapter.close()


def test_a_reply_that_arrived_before_the_close_is_still_read():
    peer = ClosingPeer(reply=b"42\n", before_close=len(b"print(42)\n"))
    link = TSPLink(peer.resource, visa_library="@py", timeout=10.0)
    try:
        assert within(BOUND, lambda: link.query("print(42)")) == "42"
    finally:
        link.adapter.close()


def test_kxci_device_clear_on_a_closed_socket_reports_a_lost_connection():
    peer = ClosingPeer()
    session = KXCI(peer.resource, "ethernet", timeout=10.0, visa_library="@py")
    assert peer.closed.wait(2.0)
    try:
        result = within(BOUND, session.device_clear)
        assert isinstance(result, ConnectionLost), result
        result = within(BOUND, lambda: session.query("SP"))
        assert isinstance(result, ConnectionLost), result
    finally:
        session.adapter.close()


def test_other_sessions_are_left_to_visa():
    rm = pyvisa.ResourceManager("@py")
    assert visa_io.raw_socket(object()) is None
    with pytest.raises(ValueError):
        visa_io.drain(object(), "nothing")
    rm.close()
