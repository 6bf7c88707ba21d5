"""The simulated lab and its PyVISA backend: VISA semantics on the virtual clock.

Transport mechanics are tested against a tiny "echo" instrument defined here, so that a
failure points at the backend rather than at an emulator's command language; the
integration tests at the end open the real emulators the way drivers do.
"""
from __future__ import annotations

import itertools
import threading

import pytest
import pyvisa
from pyvisa.constants import StatusCode

from echo_emulator import EchoEmulator, NulEchoEmulator
from labqc.instruments.sim.lab import (RES_2614B_GPIB, RES_2614B_LAN, RES_4200A_GPIB, RES_4200A_LAN,
                                 SimulatedLab, get_lab, parse_spec, reset_all, sim_library)

# Reading through visalib.read directly reports VI_SUCCESS_MAX_CNT as a warning, by design.
pytestmark = pytest.mark.filterwarnings("ignore::pyvisa.errors.VisaIOWarning")

ECHO = "GPIB0::5::INSTR"
ECHO_LAN = "TCPIP0::127.0.0.1::7000::SOCKET"
NUL_LAN = "TCPIP0::127.0.0.1::7001::SOCKET"


_seeds = itertools.count(9000)


@pytest.fixture
def spec() -> str:
    """A lab of its own for each test, with the echo instruments added."""
    spec = sim_library("ohmic", seed=next(_seeds))
    lab = get_lab(spec)
    lab.add_instrument([ECHO, ECHO_LAN], lambda lab, faults: EchoEmulator(None, lab.clock, faults))
    lab.add_instrument([NUL_LAN], lambda lab, faults: NulEchoEmulator(None, lab.clock, faults))
    return spec


@pytest.fixture
def rm(spec):
    return pyvisa.ResourceManager(spec)


def open_echo(rm, name=ECHO, **kw):
    kw.setdefault("read_termination", "\n")
    kw.setdefault("write_termination", "\n")
    return rm.open_resource(name, **kw)


# --- the lab and its spec --------------------------------------------------------------------
def test_spec_round_trip_and_defaults():
    assert sim_library("ohmic", 3) == "preset=ohmic;seed=3;time_scale=0@labqcsim"
    spec = parse_spec(sim_library("ohmic", 3, 0.5, faults={"2614B": "delay@5:10,drop@12"}))
    assert spec == {"preset": "ohmic", "seed": 3, "time_scale": 0.5,
                    "faults": {"2614B": "delay@5:10,drop@12"}}
    assert parse_spec("preset=ohmic;;seed=@labqcsim")["seed"] == 0  # empty fields default
    with pytest.raises(ValueError, match="unknown simulated device"):
        sim_library("no-such-device")
    with pytest.raises(ValueError, match="cannot read fault"):
        parse_spec("preset=ohmic;faults=GPIB0::26::INSTR=explode@1")
    with pytest.raises(ValueError, match="key=value"):
        parse_spec("preset=ohmic;colour=blue")


def test_one_lab_per_spec_whatever_the_spelling():
    a = get_lab("preset=ohmic;seed=41;time_scale=0@labqcsim")
    assert get_lab("seed=41; preset=ohmic") is a
    assert get_lab(sim_library("ohmic", 42)) is not a


def test_devices_are_deterministic_per_preset_seed_and_instrument():
    a, b = SimulatedLab("ohmic", seed=1), SimulatedLab("ohmic", seed=1)
    assert a.device_for("2614B")._rng.random() == b.device_for("2614B")._rng.random()
    assert a.device_for("2614B")._rng.random() != a.device_for("4200A")._rng.random()
    assert a.device_for("2614B")._rng.random() != SimulatedLab("ohmic", 2).device_for("2614B")._rng.random()


def test_resource_names_are_normalised_and_unknown_ones_refused(spec, rm):
    lab = get_lab(spec)
    assert lab.canonical("gpib::5::instr") == ECHO
    assert lab.canonical("TCPIP::localhost::7000::SOCKET") == ECHO_LAN
    assert lab.emulator("gpib0::5::INSTR") is lab.emulator(ECHO_LAN)  # one instrument, two ports
    assert open_echo(rm, "GPIB::5::INSTR").query("*IDN?") == "LABQC,ECHO,0,1"
    with pytest.raises(pyvisa.VisaIOError) as err:
        rm.open_resource("GPIB0::6::INSTR")
    assert err.value.error_code == StatusCode.error_resource_not_found


def test_list_resources(rm):
    assert set(rm.list_resources()) == {RES_2614B_GPIB, RES_4200A_GPIB, ECHO}
    assert set(rm.list_resources("?*::SOCKET")) == {RES_2614B_LAN, RES_4200A_LAN, ECHO_LAN, NUL_LAN}


# --- write and read semantics ---------------------------------------------------------------
def test_query_and_termination_character(rm):
    inst = open_echo(rm)
    assert inst.query("print(hello)") == "hello"
    inst.write("print(a\tb)")
    assert inst.read_raw() == b"a\tb\n"


def test_read_status_codes_termchar_count_and_end(rm):
    inst = open_echo(rm)
    lib, s = rm.visalib, inst.session
    inst.write("print(abcdef)")
    assert lib.read(s, 4) == (b"abcd", StatusCode.success_max_count_read)
    assert lib.read(s, 100) == (b"ef\n", StatusCode.success_termination_character_read)
    inst.read_termination = ""  # termchar off: the message ends at END
    inst.write("bin(12)")
    assert lib.read(s, 100) == (b"#0" + bytes(range(12)) + b"\n", StatusCode.success)


def test_binary_payload_with_newlines_reads_by_count(rm):
    inst = open_echo(rm)
    inst.write("bin(300)")
    data = inst.read_bytes(2 + 300 + 1)  # termchar enabled, 0x0A inside: read by count
    assert data == b"#0" + bytes(i % 256 for i in range(300)) + b"\n"
    inst.write("print(next)")
    assert inst.read() == "next"  # nothing was left behind


def test_unread_remainder_waits_for_the_next_read(rm):
    inst = open_echo(rm)
    inst.write("print(one)")
    inst.write("print(two)")
    assert rm.visalib.read(inst.session, 2)[0] == b"on"
    assert inst.read() == "e"
    assert inst.read() == "two"


def test_socket_accumulates_partial_writes_until_the_terminator(rm):
    inst = open_echo(rm, ECHO_LAN, write_termination="")
    emu = get_lab(rm.visalib.library_path).emulator(ECHO_LAN)
    inst.write_raw(b"print(spl")
    assert emu.messages == 0
    inst.write_raw(b"it)\r\nprint(second)\n")  # CR-LF clients work too
    assert (emu.messages, inst.read(), inst.read()) == (2, "split", "second")


def test_socket_needs_the_instruments_own_terminator(rm):
    nul = open_echo(rm, NUL_LAN, read_termination="\0", write_termination="\n", timeout=500)
    with pytest.raises(pyvisa.VisaIOError):  # a newline never ends a KXCI-style message
        nul.query("*IDN?")
    nul.write_termination = "\0"
    nul.clear()
    assert nul.query("*IDN?") == "LABQC,ECHO,0,1"


def test_gpib_write_ends_with_eoi_whatever_the_terminator(rm):
    inst = open_echo(rm, write_termination="")
    inst.write_raw(b"print(no terminator)")
    assert inst.read() == "no terminator"


# --- time ------------------------------------------------------------------------------------
def test_timeout_on_the_virtual_clock_and_late_reply_stays_queued(rm):
    lab = get_lab(rm.visalib.library_path)
    inst = open_echo(rm, timeout=1000)
    inst.write("wait(5)")
    inst.write("print(late)")
    t0 = lab.clock.now
    with pytest.raises(pyvisa.VisaIOError) as err:
        inst.read()
    assert err.value.error_code == StatusCode.error_timeout
    assert lab.clock.now == pytest.approx(t0 + 1.0)  # the timeout was spent, virtually
    inst.timeout = 10_000
    assert inst.read() == "late"
    assert 5.0 < lab.clock.now < 5.01


def test_nothing_to_read_times_out_after_exactly_the_timeout(rm):
    lab = get_lab(rm.visalib.library_path)
    inst = open_echo(rm, timeout=250)
    inst.write("wait(1)")  # a command without a reply
    t0 = lab.clock.now
    with pytest.raises(pyvisa.VisaIOError):
        inst.read()
    assert lab.clock.now == pytest.approx(t0 + 0.25)


def test_time_scale_above_zero_follows_the_wall_clock(spec):
    lab = get_lab(sim_library("ohmic", seed=next(_seeds), time_scale=0.01))
    lab.add_instrument([ECHO], lambda lab, faults: EchoEmulator(None, lab.clock, faults))
    inst = open_echo(pyvisa.ResourceManager(sim_library("ohmic", lab.seed, 0.01)), timeout=20_000)
    inst.write("wait(10)")  # 10 simulated s = 0.1 wall s
    assert inst.query("print(done)") == "done"
    assert lab.clock.now >= 10


# --- device clear, serial poll, attributes, sessions ------------------------------------------
def test_clear_empties_the_instrument_and_the_session(rm):
    inst = open_echo(rm)
    inst.write("print(stale)")
    inst.write("print(stale too)")
    rm.visalib.read(inst.session, 2)  # leaves a remainder in the session
    assert inst.read_stb() & 0x10  # MAV: a reply is waiting
    inst.clear()
    assert inst.read_stb() == 0
    assert inst.query("print(fresh)") == "fresh"


def test_attributes_are_per_session(rm):
    a, b = open_echo(rm), open_echo(rm, ECHO_LAN)
    a.timeout = 123
    assert (a.timeout, b.timeout) == (123, 2000)
    assert a.resource_name == ECHO and b.get_visa_attribute(
        pyvisa.constants.ResourceAttribute.tcpip_port) == 7000


def test_closing_one_session_leaves_the_others(rm):
    a, b = open_echo(rm), open_echo(rm, ECHO_LAN)
    a.close()
    assert b.query("print(still here)") == "still here"
    with pytest.raises(pyvisa.errors.InvalidSession):
        a.query("*IDN?")


def test_lab_reset_gives_a_fresh_instrument_and_clock(rm):
    lab = get_lab(rm.visalib.library_path)
    inst = open_echo(rm, timeout=2000)
    inst.write("wait(1)")
    inst.write("print(old)")  # never read
    assert lab.clock.now == 0 and lab.emulator(ECHO).messages == 2
    rm.visalib.read(inst.session, 1)  # the clock moves to the reply; the rest stays unread
    assert lab.clock.now > 1
    old = lab.emulator(ECHO)
    lab.reset()
    assert lab.clock.now == 0 and lab.emulator(ECHO) is not old
    # The open session talks to the fresh instrument; nothing old is left in it.
    assert inst.query("print(new)") == "new"
    reset_all()
    assert lab.clock.now == 0


def test_drop_fault_loses_the_connection_and_a_new_session_works(rm):
    lab = get_lab(rm.visalib.library_path)
    inst = open_echo(rm)
    lab.emulator(ECHO).faults.add("drop", at=2)
    assert inst.query("print(1)") == "1"
    for io in (lambda: inst.write("print(2)"), inst.read, lambda: inst.write("print(3)")):
        with pytest.raises(pyvisa.VisaIOError) as err:
            io()
        assert err.value.error_code == StatusCode.error_connection_lost
    assert lab.emulator(ECHO).messages == 2  # nothing more got through
    assert open_echo(rm).query("print(4)") == "4"


def test_sessions_in_threads_do_not_interfere(spec):
    lab = get_lab(spec)
    names = [f"GPIB0::{20 + k}::INSTR" for k in range(3)]
    for name in names:
        lab.add_instrument([name], lambda lab, faults: EchoEmulator(None, lab.clock, faults))
    rm = pyvisa.ResourceManager(spec)
    errors: list[str] = []

    def worker(name: str) -> None:
        inst = open_echo(rm, name)
        for k in range(200):
            got = inst.query(f"wait(0.001)\nprint({name}-{k})")
            if got != f"{name}-{k}":
                errors.append(got)

    threads = [threading.Thread(target=worker, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert errors == [] and not any(t.is_alive() for t in threads)


def test_pyvisa_library_environment_variable(monkeypatch, spec):
    monkeypatch.setenv("PYVISA_LIBRARY", spec)
    rm = pyvisa.ResourceManager()
    assert type(rm.visalib).__name__ == "LabqcSimLibrary"
    assert open_echo(rm).query("*IDN?") == "LABQC,ECHO,0,1"


# --- the real emulators, opened the way drivers open them ------------------------------------
def test_2614b_answers_at_both_names_and_4200a_per_framing(spec):
    lab = get_lab(spec)
    rm = pyvisa.ResourceManager(spec)
    gpib = rm.open_resource(RES_2614B_GPIB, read_termination="\n", write_termination="\n")
    assert "2614B" in gpib.query("*IDN?")
    assert lab.emulator(RES_2614B_GPIB) is lab.emulator(RES_2614B_LAN)
    lan = rm.open_resource(RES_4200A_LAN, read_termination="\0", write_termination="\0")
    assert "4200" in lan.query("*IDN?")
    assert lan.query("BC") == "ACK"  # Ethernet framing acknowledges commands
    kxci_gpib = rm.open_resource(RES_4200A_GPIB, read_termination="\n", write_termination="\n",
                                 timeout=500)
    kxci_gpib.write("BC")  # GPIB framing: no ACK, so nothing to read
    with pytest.raises(pyvisa.VisaIOError):
        kxci_gpib.read()
    assert "4200" in kxci_gpib.query("*IDN?")
    assert lab.emulator(RES_4200A_GPIB).device is lab.emulator(RES_4200A_LAN).device


@pytest.mark.filterwarnings("ignore:It is not known whether this device support SCPI")
def test_pymeasure_instruments_run_unchanged(spec):
    from pymeasure.instruments.keithley import Keithley2600, Keithley4200

    smu = Keithley2600(RES_2614B_GPIB, visa_library=spec)
    assert "2614B" in smu.id
    smu.adapter.connection.clear()
    scs = Keithley4200(RES_4200A_LAN, visa_library=spec)
    assert "4200" in scs.id
    smu.adapter.close()  # closing one instrument leaves the other working
    assert "4200" in scs.id
    scs.adapter.close()


def test_outputs_visible_to_tests_and_reset_turns_them_off(spec):
    lab = get_lab(spec)
    inst = pyvisa.ResourceManager(spec).open_resource(
        RES_2614B_GPIB, read_termination="\n", write_termination="\n")
    inst.write("smua.source.limiti = 1e-4 smua.source.levelv = 0.1 smua.source.output = smua.OUTPUT_ON")
    assert lab.emulator(RES_2614B_GPIB).outputs_on()["smua"] is True
    lab.reset()
    assert not lab.emulator(RES_2614B_GPIB).any_output_on


def test_backend_by_name_alone_opens_the_default_lab(monkeypatch):
    get_lab(sim_library()).reset()  # other tests may have used the default lab
    rm = pyvisa.ResourceManager("@labqcsim")
    assert rm.visalib.lab is get_lab(sim_library())
    assert "2614B" in rm.open_resource(RES_2614B_GPIB, read_termination="\n").query("*IDN?")
    monkeypatch.setenv("PYVISA_LIBRARY", "@labqcsim")
    assert pyvisa.ResourceManager().visalib.lab is get_lab(sim_library())
