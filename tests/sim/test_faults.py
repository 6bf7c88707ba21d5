"""Every fault kind, end to end, as a driver meets it: through PyVISA (the in-process
backend and pyvisa-py on the loopback socket) against the emulated 2614B and 4200A."""
from __future__ import annotations

import itertools
import socket

import pytest
import pyvisa
from pyvisa.constants import StatusCode

from labqc.instruments.sim.lab import (RES_2614B_GPIB, RES_2614B_LAN, RES_4200A_LAN, SimulatedLab,
                                 get_lab, sim_library)
from labqc.instruments.sim.server import start_background

_seeds = itertools.count(7000)
IDN = "*IDN?"


def fresh_spec(**kw) -> str:
    return sim_library("ohmic", seed=next(_seeds), **kw)


def open_2614b(spec: str, timeout_ms: int = 2000):
    rm = pyvisa.ResourceManager(spec)
    return rm.open_resource(RES_2614B_GPIB, read_termination="\n", write_termination="\n",
                            timeout=timeout_ms)


def assert_timeout(call) -> None:
    with pytest.raises(pyvisa.VisaIOError) as err:
        call()
    assert err.value.error_code == StatusCode.error_timeout


def test_delay_past_the_timeout_then_device_clear_resynchronises():
    spec = fresh_spec()
    lab, inst = get_lab(spec), open_2614b(spec)
    lab.emulator(RES_2614B_GPIB).faults.add("delay", at=2, seconds=10)
    assert "2614B" in inst.query(IDN)
    t0 = lab.clock.now
    assert_timeout(lambda: inst.query("print(1)"))
    assert lab.clock.now == pytest.approx(t0 + 2.0, abs=1e-3)  # the 2 s timeout, virtually
    inst.clear()
    assert float(inst.query("print(2)")) == 2  # not the late "1"


def test_without_a_clear_the_late_reply_answers_the_next_query():
    spec = fresh_spec()
    lab, inst = get_lab(spec), open_2614b(spec)
    lab.emulator(RES_2614B_GPIB).faults.add("delay", at=1, seconds=10)
    assert_timeout(lambda: inst.query("print(1)"))
    inst.timeout = 20_000
    assert float(inst.query("print(2)")) == 1  # out of step, as on the bench


def test_garbled_reply_arrives_garbled_with_its_terminator():
    spec = fresh_spec()
    lab, inst = get_lab(spec), open_2614b(spec)
    lab.emulator(RES_2614B_GPIB).faults.add("garble", at=2)
    clean = inst.query(IDN)
    garbled = inst.query(IDN)
    assert garbled != clean and "\x15#?~" in garbled
    assert garbled[:10] == clean[:10] and garbled[-5:] == clean[-5:]
    assert inst.query(IDN) == clean  # the next one is clean


def test_truncated_reply_times_out_and_clear_recovers():
    spec = fresh_spec()
    lab, inst = get_lab(spec), open_2614b(spec)
    lab.emulator(RES_2614B_GPIB).faults.add("truncate", at=1)
    assert_timeout(lambda: inst.query("print(123456789)"))
    inst.clear()
    assert float(inst.query("print(42)")) == 42


def test_error_fault_lands_in_the_error_queue():
    spec = fresh_spec()
    lab, inst = get_lab(spec), open_2614b(spec)
    lab.emulator(RES_2614B_GPIB).faults.add("error", at=1, code=-286, message="injected")
    inst.write("smua.source.levelv = 0")
    assert float(inst.query("print(errorqueue.count)")) == 1
    code, message = inst.query("print(errorqueue.next())").split("\t")[:2]
    assert float(code) == -286 and "injected" in message


def test_busy_instrument_times_out_until_device_clear():
    spec = fresh_spec()
    lab, inst = get_lab(spec), open_2614b(spec, timeout_ms=500)
    lab.emulator(RES_2614B_GPIB).faults.add("busy", at=1)
    assert_timeout(lambda: inst.query("print(1)"))
    assert_timeout(lambda: inst.query("print(2)"))
    inst.clear()
    assert float(inst.query("print(3)")) == 3


def test_drop_loses_the_session_and_a_new_one_works():
    spec = fresh_spec()
    lab, inst = get_lab(spec), open_2614b(spec)
    lab.emulator(RES_2614B_GPIB).faults.add("drop", at=2)
    inst.query(IDN)
    with pytest.raises(pyvisa.VisaIOError) as err:
        inst.query(IDN)
    assert err.value.error_code == StatusCode.error_connection_lost
    assert "2614B" in open_2614b(spec).query(IDN)


def test_faults_from_the_spec_string_apply_per_resource():
    spec = fresh_spec(faults={RES_2614B_GPIB: "delay@2:10", "4200A": "garble@1"})
    lab = get_lab(spec)
    assert [f.kind for f in lab.emulator(RES_2614B_LAN).faults.pending] == ["delay"]
    assert [f.kind for f in lab.emulator(RES_4200A_LAN).faults.pending] == ["garble"]
    inst = open_2614b(spec)
    inst.query(IDN)
    assert_timeout(lambda: inst.query(IDN))
    lab.reset()  # a fresh lab keeps its configured faults
    assert [f.kind for f in lab.emulator(RES_2614B_GPIB).faults.pending] == ["delay"]


def test_4200a_error_fault_visible_through_kxci():
    spec = fresh_spec()
    lab = get_lab(spec)
    lab.emulator(RES_4200A_LAN).faults.add("error", at=1, code=-999, message="injected")
    rm = pyvisa.ResourceManager(spec)
    inst = rm.open_resource(RES_4200A_LAN, read_termination="\0", write_termination="\0", timeout=2000)
    assert inst.query("BC") == "ACK"
    assert "-999" in inst.query(":ERROR:LAST:GET")


def test_4200a_delay_then_device_clear_over_kxci_ethernet():
    spec = fresh_spec()
    lab = get_lab(spec)
    lab.emulator(RES_4200A_LAN).faults.add("delay", at=1, seconds=30)
    rm = pyvisa.ResourceManager(spec)
    inst = rm.open_resource(RES_4200A_LAN, read_termination="\0", write_termination="\0", timeout=1000)
    assert_timeout(lambda: inst.query("BC"))  # its ACK is 30 s late
    inst.clear()
    assert "4200" in inst.query("*IDN?")


# --- over the socket --------------------------------------------------------------------------
@pytest.fixture
def served():
    lab = SimulatedLab("ohmic", seed=5)
    server = start_background(lab, port_2614b=0, port_4200a=0)
    yield lab, server
    server.stop()


def test_socket_garble_and_drop(served):
    lab, server = served
    lab.emulator(RES_2614B_LAN).faults.add("garble", at=1).add("drop", at=3)
    rm = pyvisa.ResourceManager("@py")
    inst = rm.open_resource(server.resources["2614B"], read_termination="\n",
                            write_termination="\n", timeout=2000)
    garbled, clean = inst.query(IDN), inst.query(IDN)
    assert "\x15#?~" in garbled and "2614B" in clean and garbled != clean
    inst.close()
    sock = socket.create_connection(("127.0.0.1", server.port_2614b), timeout=5)
    sock.sendall(b"*IDN?\n")
    assert sock.recv(100) == b""  # the third message drops the connection
    sock.close()
    inst = rm.open_resource(server.resources["2614B"], read_termination="\n",
                            write_termination="\n", timeout=2000)
    assert "2614B" in inst.query(IDN)
    inst.close()


def test_socket_busy_is_cleared_when_the_client_leaves(served):
    lab, server = served
    lab.emulator(RES_2614B_LAN).faults.add("busy", at=1)
    rm = pyvisa.ResourceManager("@py")
    name = server.resources["2614B"]
    inst = rm.open_resource(name, read_termination="\n", write_termination="\n", timeout=300)
    assert_timeout(lambda: inst.query(IDN))
    inst.close()
    inst = rm.open_resource(name, read_termination="\n", write_termination="\n", timeout=2000)
    assert "2614B" in inst.query(IDN)
    inst.close()
