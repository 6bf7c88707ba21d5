"""The loopback server, reached as hardware is: pyvisa-py and raw sockets on 127.0.0.1.

Socket mechanics (clients in turn, vanishing clients, garbage, binary, drops) run against
the tiny echo instrument of test_lab_backend, put at the 2614B's LAN name; the
integration tests open the real emulators.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
import pyvisa
from pyvisa.constants import StatusCode

from echo_emulator import EchoEmulator, NulEchoEmulator
from labqc.instruments.sim.lab import RES_2614B_LAN, RES_4200A_LAN, SimulatedLab, get_lab, sim_library
from labqc.instruments.sim.server import start_background


@pytest.fixture
def echo_lab() -> SimulatedLab:
    lab = SimulatedLab("ohmic", seed=0)
    lab.add_instrument([RES_2614B_LAN], lambda lab, faults: EchoEmulator(None, lab.clock, faults))
    lab.add_instrument([RES_4200A_LAN], lambda lab, faults: NulEchoEmulator(None, lab.clock, faults))
    return lab


@pytest.fixture
def server(echo_lab):
    srv = start_background(echo_lab, port_2614b=0, port_4200a=0)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def rm():
    return pyvisa.ResourceManager("@py")


def open_tsp(rm, srv, **kw):
    kw.setdefault("timeout", 2000)
    return rm.open_resource(srv.resources["2614B"], read_termination="\n",
                            write_termination="\n", **kw)


def raw_client(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def recv_until(sock: socket.socket, end: bytes, n: int = 1) -> bytes:
    data = b""
    while data.count(end) < n:
        chunk = sock.recv(65536)
        assert chunk, f"server closed the connection after {data!r}"
        data += chunk
    return data


def test_listens_on_loopback_only(server):
    for model, port in server.ports.items():
        assert port.listener.getsockname()[0] == "127.0.0.1"
        assert server.resources[model] == f"TCPIP0::127.0.0.1::{port.port}::SOCKET"
    assert server.port_2614b != server.port_4200a and server.port_2614b > 0


def test_pyvisa_py_query_and_binary_read(rm, server):
    inst = open_tsp(rm, server)
    assert inst.query("*IDN?") == "LABQC,ECHO,0,1"
    inst.write("bin(1000)")
    assert inst.read_bytes(1003) == b"#0" + bytes(i % 256 for i in range(1000)) + b"\n"
    assert inst.query("print(after)") == "after"
    inst.close()


def test_nul_framed_port(rm, server):
    inst = rm.open_resource(server.resources["4200A"], read_termination="\0",
                            write_termination="\0", timeout=2000)
    assert inst.query("print(kxci)") == "kxci"
    inst.close()


def test_several_clients_in_turn_and_leftovers_do_not_leak(rm, server):
    for k in range(4):
        inst = open_tsp(rm, server)
        assert inst.query(f"print(client {k})") == f"client {k}"
        inst.write("print(never read)")  # left behind for the next client to trip over
        inst.close()
    assert server.ports["2614B"].clients_served == 4


def test_client_vanishing_mid_message_and_mid_reply(rm, server, echo_lab):
    sock = raw_client(server.port_2614b)
    sock.sendall(b"print(half a mess")  # no terminator, then gone
    sock.close()
    sock = raw_client(server.port_2614b)
    sock.sendall(b"bin(200000)\n")  # a big reply, never read
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # RST
    inst = open_tsp(rm, server)
    assert inst.query("print(in step)") == "in step"
    inst.close()


def test_garbage_bytes_do_not_stop_the_server(rm, server):
    sock = raw_client(server.port_2614b)
    sock.sendall(bytes(range(256)) * 4 + b"\xff\xfe\n\n\r\n" + b"x" * 5000 + b"\n")
    sock.sendall(b"print(alive)\n")
    assert recv_until(sock, b"\n").endswith(b"alive\n")
    sock.close()


def test_drop_fault_closes_the_socket(rm, server, echo_lab):
    echo_lab.emulator(RES_2614B_LAN).faults.add("drop", at=2)
    sock = raw_client(server.port_2614b)
    sock.sendall(b"print(1)\n")
    assert recv_until(sock, b"\n") == b"1\n"
    sock.sendall(b"print(2)\n")
    assert sock.recv(100) == b""  # closed by the instrument
    sock.close()
    inst = open_tsp(rm, server)  # a reconnect works and starts clean
    assert inst.query("print(3)") == "3"
    inst.close()


def test_drop_fault_seen_by_pyvisa_py(rm, server, echo_lab):
    echo_lab.emulator(RES_2614B_LAN).faults.add("drop", at=1)
    inst = open_tsp(rm, server, timeout=300)
    with pytest.raises(pyvisa.VisaIOError) as err:  # pyvisa-py reports a closed socket as TMO
        inst.query("print(lost)")
    assert err.value.error_code in (StatusCode.error_connection_lost, StatusCode.error_timeout,
                                    StatusCode.error_io)
    inst.close()


def test_replies_wait_for_the_virtual_clock_when_it_runs(rm):
    lab = SimulatedLab("ohmic", time_scale=0.05)  # 1 simulated s = 50 ms of wall time
    lab.add_instrument([RES_2614B_LAN], lambda lab, faults: EchoEmulator(None, lab.clock, faults))
    srv = start_background(lab, port_2614b=0, port_4200a=None)
    try:
        inst = open_tsp(rm, srv, timeout=5000)
        t0 = time.monotonic()
        inst.write("wait(4)")
        assert inst.query("print(late)") == "late"
        assert time.monotonic() - t0 >= 0.18  # 4 s at 0.05 wall s per s
        inst.timeout = 50  # wall ms: the reply 4 simulated s (0.2 wall s) away times out
        inst.write("wait(4)")
        with pytest.raises(pyvisa.VisaIOError):
            inst.query("print(too late)")
        inst.close()
    finally:
        srv.stop()


def test_stop_releases_the_ports(echo_lab):
    srv = start_background(echo_lab, port_2614b=0, port_4200a=0)
    port = srv.port_2614b
    sock = raw_client(port)  # a client still connected when the server stops
    srv.stop()
    sock.close()
    with pytest.raises(OSError):
        raw_client(port)


def test_sim_serve_command_prints_resources_and_stops_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "labqc.cli", "sim", "serve", "--port-2614b", "0", "--port-4200a", "0",
         "--device", "ohmic", "--time-scale", "0", "--faults", "2614B=garble@2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        assert lines[1].startswith("2614B: TCPIP0::127.0.0.1::") and lines[1].rstrip().endswith("::SOCKET")
        assert lines[2].startswith("4200A: TCPIP0::127.0.0.1::")
        rm = pyvisa.ResourceManager("@py")
        inst = rm.open_resource(lines[1].split(": ")[1].strip(), read_termination="\n",
                                write_termination="\n", timeout=5000)
        assert "2614B" in inst.query("*IDN?")
        assert "\x15#?~" in inst.query("*IDN?")  # the fault plan from --faults
        inst.close()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped" in out


def test_sim_serve_bad_options_get_one_sentence(capsys):
    from labqc.cli import main

    taken = socket.create_server(("127.0.0.1", 0))
    bad = [["--faults", "2614B=explode@1"], ["--port-2614b", "70000"], ["--device", "nope"],
           ["--time-scale", "-1"], ["--port-4200a", str(taken.getsockname()[1])]]
    with taken:
        for options in bad:
            assert main(["sim", "serve", "--device", "ohmic", *options]) == 2
            err = capsys.readouterr().err.strip().splitlines()[-1]
            assert err.startswith("labqc sim serve: ") and err.endswith(".") and "Traceback" not in err


# --- the real emulators behind the socket ---------------------------------------------------
SWEEP_POINTS = 41
SWEEP = [
    "reset()",
    "smua.source.func = smua.OUTPUT_DCVOLTS  smua.source.limiti = 1e-4",
    "smua.measure.nplc = 0.01 smua.nvbuffer1.clear() smua.nvbuffer1.collectsourcevalues = 1",
    f"smua.trigger.source.linearv(0, 0.4, {SWEEP_POINTS}) smua.trigger.source.action = smua.ENABLE",
    "smua.trigger.measure.i(smua.nvbuffer1) smua.trigger.measure.action = smua.ENABLE",
    f"smua.trigger.count = {SWEEP_POINTS}",
    "smua.source.output = smua.OUTPUT_ON smua.trigger.initiate() waitcomplete()",
    "smua.source.output = smua.OUTPUT_OFF",
]


def run_sweep(inst) -> tuple[str, bytes]:
    """One linear sweep; its buffer as ASCII and as REAL32 binary."""
    for line in SWEEP:
        inst.write(line)
    ascii_ = inst.query(f"printbuffer(1, {SWEEP_POINTS}, smua.nvbuffer1.sourcevalues, "
                        "smua.nvbuffer1.readings)")
    inst.write("format.data = format.REAL32 format.byteorder = format.LITTLEENDIAN")
    inst.write(f"printbuffer(1, {SWEEP_POINTS}, smua.nvbuffer1.readings)")
    binary = inst.read_bytes(2 + 4 * SWEEP_POINTS + 1)
    inst.write("format.data = format.ASCII")
    return ascii_, binary


def test_same_sweep_through_backend_and_socket_gives_identical_data(rm):
    from labqc.instruments.sim.presets import PRESETS

    preset = "bfo" if "bfo" in PRESETS else "ohmic"
    seed = 11
    backend = pyvisa.ResourceManager(sim_library(preset, seed)).open_resource(
        "GPIB0::26::INSTR", read_termination="\n", write_termination="\n", timeout=60_000)
    lab = get_lab(sim_library(preset, seed))
    lab.reset()
    via_backend = run_sweep(backend)
    server = start_background(SimulatedLab(preset, seed), port_2614b=0, port_4200a=None)
    try:
        inst = open_tsp(rm, server, timeout=60_000)
        via_socket = run_sweep(inst)
        inst.close()
    finally:
        server.stop()
    values = [float(v) for v in via_backend[0].split(", ")]
    assert len(values) == 2 * SWEEP_POINTS and values[-2] == pytest.approx(0.4)
    assert via_socket == via_backend
    assert via_socket[1][:2] == b"#0" and via_socket[1].endswith(b"\n")


def test_kxci_over_the_socket_with_pymeasure(server_real):
    from pymeasure.instruments.keithley import Keithley4200

    scs = Keithley4200(server_real.resources["4200A"], visa_library="@py")
    assert "4200" in scs.id
    scs.adapter.close()


@pytest.fixture
def server_real():
    srv = start_background(SimulatedLab("ohmic", seed=3), port_2614b=0, port_4200a=0)
    yield srv
    srv.stop()
