"""open_smu finds the instrument on any port: *IDN? in both framings, or an explicit model.

A 4200A's KXCI Ethernet socket reads only NUL-terminated commands (4200A KXCI manual;
the vendor's KXCI examples set write/read termination to NUL in instrcomms.py), so a
newline *IDN? is never answered there; a 2614B reads newline-terminated TSP. The
simulated lab is served on loopback ports and reached through a TCP relay on another
port (as a port forward or an SSH tunnel looks), with pyvisa-py as on the bench.
"""
from __future__ import annotations

import socket
import threading
import time

import pytest

from labqc.instruments.connect import identify, open_smu
from labqc.instruments.keithley2614b import Keithley2614B
from labqc.instruments.keithley4200a import Keithley4200A
from labqc.instruments.sim.lab import SimulatedLab
from labqc.instruments.sim.server import start_background

PY = "@py"


class Relay:
    """A loopback TCP relay: every connection to ``port`` is forwarded to ``target``."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def resource(self) -> str:
        return f"TCPIP0::127.0.0.1::{self.port}::SOCKET"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def served():
    lab = SimulatedLab("ohmic", seed=3)
    server = start_background(lab, port_2614b=0, port_4200a=0)
    relays = {model: Relay(port) for model, port in
              (("2614B", server.port_2614b), ("4200A", server.port_4200a))}
    yield lab, relays
    for relay in relays.values():
        relay.close()
    server.stop()


def test_4200a_behind_a_relay_is_found_by_its_nul_framed_idn(served):
    _, relays = served
    assert identify(relays["4200A"].resource, PY) == ("4200A", "nul")
    smu = open_smu(relays["4200A"].resource, visa_library=PY, timeout=5.0)
    try:
        assert isinstance(smu, Keithley4200A)
        r = smu.read(0.5, compliance=1e-3)
        assert r["i"][0] == pytest.approx(0.5 / 10e3, rel=1e-3)  # the ohmic preset: 10 kOhm
    finally:
        smu.output_off()
        smu.close()


def test_2614b_behind_a_relay_is_found_after_the_nul_framing_stays_silent(served):
    _, relays = served
    t0 = time.monotonic()
    assert identify(relays["2614B"].resource, PY, timeout=0.5) == ("2614B", "newline")
    assert time.monotonic() - t0 >= 0.5  # the NUL attempt timed out first: a 2614B reads lines
    smu = open_smu(relays["2614B"].resource, visa_library=PY, timeout=5.0)
    try:
        assert isinstance(smu, Keithley2614B)
        assert smu.read(0.2, compliance=1e-3)["i"][0] == pytest.approx(0.2 / 10e3, rel=1e-6)
    finally:
        smu.close()


def test_an_explicit_model_asks_nothing(served):
    _, relays = served
    smu = open_smu(relays["4200A"].resource, visa_library=PY, model="4200A", timeout=5.0)
    try:
        assert isinstance(smu, Keithley4200A)
    finally:
        smu.close()
    with pytest.raises(ValueError, match="model must be one of"):
        open_smu(relays["4200A"].resource, visa_library=PY, model="2400")


def test_a_silent_port_is_one_clear_sentence():
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    port = silent.getsockname()[1]
    try:
        with pytest.raises(ValueError, match=r"nothing at .* answered \*IDN\?.*--model"):
            identify(f"TCPIP0::127.0.0.1::{port}::SOCKET", PY, timeout=0.3)
    finally:
        silent.close()


def test_labqc_run_takes_the_model_for_a_port_it_cannot_guess(served, tmp_path):
    from labqc.cli import main

    _, relays = served
    out = tmp_path / "sweep.csv"
    code = main(["run", "VoltageSweep", "--resource", relays["4200A"].resource, "--model", "4200A",
                 "--v-set", "0.5", "--v-reset", "0.5", "--step", "100mV", "--cycles", "1",
                 "--set-compliance", "1mA", "--reset-compliance", "1mA", "--no-progress", "-o", str(out)])
    assert code == 0
    assert out.exists() and out.stat().st_size > 0
