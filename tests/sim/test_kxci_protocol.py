"""The simulated 4200A at the wire: framing, identity, user mode, errors, system mode."""
import random

import numpy as np
import pytest

from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.device import Resistor
from labqc.instruments.sim.kxci4200a import K4200AEmulator


class Bench:
    """An emulator on a 10 kohm resistor (exact V = IR) and a virtual clock."""

    def __init__(self, framing="ethernet", resistance=10e3, **kw):
        self.clock = VirtualClock()
        self.device = Resistor(resistance)
        self.emu = K4200AEmulator(self.device, self.clock, framing=framing, **kw)

    def send(self, msg: str | bytes):
        self.emu.write(msg.encode() if isinstance(msg, str) else msg)

    def replies(self) -> list[bytes]:
        out = []
        while (r := self.emu.pop()) is not None:
            self.clock.advance_to(r.ready_at)
            out.append(r.data)
        return out

    def q(self, msg: str | bytes) -> str:
        """One message, exactly one reply (Ethernet), terminator checked and stripped."""
        self.send(msg)
        got = self.replies()
        assert len(got) == 1, f"{msg!r} gave {got!r}"
        assert got[0].endswith(b"\0")
        return got[0][:-1].decode()

    def error(self) -> str:
        return self.q(":ERROR:LAST:GET")

    def code(self) -> int:
        return int(self.error().rsplit("(", 1)[1].rstrip(")"))


@pytest.fixture
def bench():
    return Bench()


# --- framing -----------------------------------------------------------------------------
def test_ethernet_acks_set_commands_and_nul_terminates(bench):
    bench.send("US")
    assert bench.replies() == [b"ACK\0"]
    bench.send(b"")  # a stray terminator is not a command
    assert bench.replies() == []
    assert bench.emu.write_termination == bench.emu.read_termination == b"\0"


def test_several_commands_in_one_message_are_answered_once(bench):
    assert bench.q("US;DV1,0,0.1,1e-3") == "ACK"
    assert bench.q("IT1 BC DR1") == "ACK"
    assert bench.emu.outputs_on()["SMU1"]
    assert bench.q("US;DV1,0,0.2,1e-3;TI1") == "NAI+2.000000E-05"
    assert bench.q("DV1,0,0.2,1e-3;TV1;DV1,0,0.2,1e-3;TI1") == "NAV+2.000000E-01,NAI+2.000000E-05"
    # arguments may follow after a space and continue after commas with spaces
    assert bench.q("DE CH1, 'V1', 'I1', 1, 1 ; CH2") == "ACK"


def test_gpib_framing_has_no_ack_and_signals_through_the_status_byte():
    b = Bench("gpib")
    assert b.emu.read_termination == b"\n"
    b.send("US;DV1,0,0.1,1e-3")
    assert b.replies() == []
    b.send("TI1")
    assert b.emu.read_stb() & 1  # data waiting
    assert b.replies() == [b"NAI+1.000000E-05\n"]
    b.send("XX1")
    assert b.replies() == []  # an error answers nothing...
    stb = b.emu.read_stb()
    assert stb & 2 and stb & 64  # ...but sets B1 (and RQS)
    assert b.emu.read_stb() & 2 == 0  # the serial poll cleared it
    b.send(":ERROR:LAST:GET")
    assert b.replies() == [b"KXCI command error. unknown command 'XX1'. (-992)\n"]


# --- identity -------------------------------------------------------------------------------
def test_identity_and_configurable_options(bench):
    assert bench.q("*IDN?") == "KEITHLEY INSTRUMENTS,KI4200A,1234567,V1.13"
    assert bench.q("ID") == "KI4200A V1.13"
    assert bench.q("*OPT?") == "SMU1,SMU2,SMU3,SMU4,PMU1RPM1-1,PMU1RPM1-2"
    assert Bench(omit_first_rpm=True).q("*OPT?") == "SMU1,SMU2,SMU3,SMU4,PMU1RPM1-2"
    assert Bench(rpm=False).q("*OPT?") == "SMU1,SMU2,SMU3,SMU4,PMU1"
    small = Bench(serial="42", smus=2, pmu=False)
    assert small.q("*IDN?") == "KEITHLEY INSTRUMENTS,KI4200A,42,V1.13"
    assert small.q("*OPT?") == "SMU1,SMU2"
    assert small.emu.outputs_on() == {"SMU1": False, "SMU2": False}
    assert small.q("US;DV3,0,1,1e-3") == "ERROR" and small.code() == -979
    assert small.q(":PMU:INIT 0") == "ERROR" and small.code() == -969


def test_4145_emulation_refuses_opt_and_it4(bench):
    assert bench.q("EM 0,0") == "ACK"
    assert bench.q("*OPT?") == "ERROR" and bench.code() == -992
    assert bench.q("IT4,1,1,0.01") == "ERROR" and bench.code() == -992
    assert bench.q("EM 1,0;*OPT?").startswith("SMU1")


# --- user mode -----------------------------------------------------------------------------
def test_tv_ti_replies_and_compliance_letter(bench):
    assert bench.q("US;DV1,0,0.1,1e-3") == "ACK"
    assert bench.q("TI1") == "NAI+1.000000E-05"
    assert bench.q("DV1,0,0.1,1e-3;TV1") == "NAV+1.000000E-01"
    assert bench.q("DV1,1,5,1e-4") == "ACK"  # 0.5 mA wanted, 0.1 mA allowed
    assert bench.q("TI1") == "CAI+1.000000E-04"
    assert bench.q("DV1,1,5,1e-4;TV1") == "CAV+1.000000E+00"
    assert bench.q("DI1,0,-2e-5,10") == "ACK"
    assert bench.q("TV1") == "NAV-2.000000E-01"
    assert bench.q("RS 4;DI1,0,-2e-5,10;TI1") == "NAI-2.000E-05"


def test_the_setting_is_sent_again_before_measuring_the_other_quantity(bench):
    """pymeasure's test on a real 4200A: "The voltage setting has to be applied again
    after a measurement if we change the measured quantity"."""
    assert bench.q("US;DV1,0,0.1,1e-3;TV1;TV1") == "NAV+1.000000E-01,NAV+1.000000E-01"  # same quantity: fine
    assert bench.q("TI1") == "ERROR" and bench.code() == -992
    assert "applied again" in bench.error()
    assert bench.q("DV1,0,0.1,1e-3;TI1") == "NAI+1.000000E-05"


def test_data_ready_after_a_user_mode_reading(bench):
    """pymeasure's with-device test: SP reads 0 after BC and after DV, 1 after TV/TI."""
    assert bench.q("BC;SP") == "0"
    assert bench.q("US;DV1,0,1,1e-3;SP") == "0"
    assert bench.q("TV1") == "NAV+1.000000E+00"
    assert bench.q("SP") == "1"
    assert bench.q("DV1,0,1,1e-3;TI1;SP") == "NAI+1.000000E-04,1"


def test_tv_numbers_of_smus_5_to_8_and_voltmeters():
    b = Bench(smus=8)
    assert b.q("US;DV5,0,0.5,1e-3;DV8,0,0.8,1e-3") == "ACK"
    assert b.q("TV7") == "NEV+5.000000E-01"  # TV7 is SMU5
    assert b.q("TV10") == "NHV+8.000000E-01"  # TV10 is SMU8
    assert b.q("TV5") == "ERROR" and b.code() == -979  # VM1, not mapped
    assert b.q("MP 2, VM1;TV5") == "NBV+0.000000E+00"  # SMU2 as VM1, open circuit


def test_voltage_source_mapping(bench):
    assert bench.q("US;DS1, 5") == "ERROR" and bench.code() == -979
    assert bench.q("MP 1, VS1") == "ACK"
    assert bench.q("DS1, 0.5") == "ACK" and bench.emu.outputs_on()["SMU1"]
    assert bench.q("TV1") == "NAV+5.000000E-01"
    assert bench.q("DS1") == "ACK" and not bench.emu.outputs_on()["SMU1"]


def test_other_channel_in_compliance_reads_t(bench):
    assert bench.q("US;DV1,0,0.1,1e-3;DI2,0,1e-6,5") == "ACK"
    assert bench.q("TV2") == "CBV+5.000000E+00"  # open circuit: the I source hits its limit
    assert bench.q("TI1") == "TAI+1.000000E-05"
    assert bench.q("DI2;TI1") == "NAI+1.000000E-05"


def test_small_compliance_is_raised_to_100_na():
    b = Bench(resistance=1e3)
    assert b.q("US;DV1,0,1,1e-9;TI1") == "CAI+1.000000E-07"


def test_dv_alone_turns_the_output_off_and_the_device_rests(bench):
    assert bench.q("US;DV1,0,0.1,1e-3") == "ACK"
    assert bench.emu.outputs_on()["SMU1"]
    assert bench.q("DV1") == "ACK"
    assert not bench.emu.outputs_on()["SMU1"]
    assert bench.q("TI1") == "NAI+0.000000E+00"
    bench.clock.advance(5.0)
    bench.q("SP")
    # every simulated second reached the device, as drive or rest
    assert bench.device.t == pytest.approx(bench.emu.devtime.t)
    assert bench.emu.devtime.t == pytest.approx(bench.clock.now)


def test_reading_costs_integration_and_command_time(bench):
    bench.q("US;DV1,0,0.1,1e-3;IT3")
    t0 = bench.clock.now
    bench.q("TI1")
    assert bench.clock.now - t0 == pytest.approx(1e-3 + 100e-6 + 10 / 60)


def test_page_errors(bench):
    assert bench.q("DV1,0,1,1e-3") == "ERROR" and bench.code() == -974  # still on page DE
    assert bench.q("US;CH1,'V1','I1',1,1") == "ERROR" and bench.code() == -975
    assert bench.q("DE;VR1,0,1,0.1,1e-3") == "ERROR" and bench.code() == -989
    assert bench.q("US;TV5") == "ERROR" and bench.code() == -979
    assert bench.q("DV9,0,1,1e-3") == "ERROR" and bench.code() == -993


# --- errors -----------------------------------------------------------------------------------
def test_error_log_is_non_destructive_and_clears(bench):
    assert bench.error() == ""  # no error: an empty reply
    assert bench.q("QQ") == "ERROR"
    first = bench.error()
    assert first == "KXCI command error. unknown command 'QQ'. (-992)"
    assert bench.error() == first
    assert bench.q("SP") == "66"  # B1 + RQS
    assert bench.q("SP") == "0"
    assert bench.q(":ERROR:LAST:CLEAR") == "ACK"
    assert bench.error() == ""


def test_lowercase_and_malformed_numbers(bench):
    assert bench.q("us") == "ERROR" and bench.code() == -992
    assert bench.q("US;DV1,0,0.100000000001,1e-3") == "ERROR" and bench.code() == -993
    assert "longer than 12 characters" in bench.error()
    assert bench.q("DV1,0,1e-100,1e-3") == "ERROR" and bench.code() == -993
    assert bench.q("DV1,0,abc,1e-3") == "ERROR" and bench.code() == -993
    assert bench.q("DV1,0,300,1e-3") == "ERROR" and bench.code() == -993
    assert bench.q("DV1,0,1") == "ACK"  # compliance may be omitted: the previous one stays


def test_a_failing_command_stops_the_rest_of_its_message(bench):
    assert bench.q("US;DV1,0,0.1,1e-3;QQ;DV2,0,1,1e-3") == "ERROR"
    on = bench.emu.outputs_on()
    assert on["SMU1"] and not on["SMU2"]
    assert bench.q("TI1;QQ") == "ERROR"  # data before the error is dropped


def test_garbage_bytes_never_escape_as_exceptions(bench):
    rng = random.Random(7)
    words = ["US", "DE", "SS", "SM", "MD", "DV1", "TI1", "CH1", "VR1", "VL1", "ME1", "ME4", "DO", "RD",
             "'I1'", ",", ";", " ", "1", "-1e-3", "1e99", ":PMU:INIT", ":PMU:EXECUTE", ":PMU:DATA:GET",
             ":PMU:SARB:SEQ:STARTV", "0", "*RST", "SP", "IT4", "\x00", "\xff", "'", "\"", "9" * 20]
    for _ in range(400):
        if rng.random() < 0.3:
            msg = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30)))
        else:
            msg = "".join(rng.choice(words) for _ in range(rng.randrange(1, 8))).encode("latin-1")
        bench.send(msg)
        got = bench.replies()
        blank = not msg.strip(b" \t\r\n;")
        assert len(got) == (0 if blank else 1) and all(r.endswith(b"\0") for r in got)
        assert bench.emu.last_error is None or bench.emu.last_error[0] != -286, bench.emu.last_error


# --- system mode ---------------------------------------------------------------------------------
SWEEP = [0, 0.1, 0.2, 0.1, 0, -0.1, -0.2, -0.1, 0]


def _list_sweep(b, comp="1E-3", dt="0.002", extra=""):
    values = ",".join(str(v) for v in SWEEP)
    assert b.q("BC;EC 0;IT4,1,1,0.01") == "ACK"
    assert b.q("DE CH1,'V1','I1',1,1;CH2;CH3;CH4") == "ACK"
    assert b.q(f"SS VL1,1,{comp},{values};DT {dt};HT 0") == "ACK"
    assert b.q("SM DM2 LI 'I1','V1'") == "ACK"
    if extra:
        assert b.q(extra) == "ACK"
    assert b.q("MD ME1") == "ACK"


def test_buffered_list_sweep_with_do_readback(bench):
    _list_sweep(bench)
    assert bench.q("SP") == "16"  # busy: the test runs overlapped
    bench.clock.advance(1.0)
    assert bench.q("SP") == "1"  # data ready, no longer busy
    assert bench.q("SP") == "0"
    assert bench.q("DO 'I1'") == ",".join(f"N{v / 1e4:+.6E}" for v in SWEEP)
    assert bench.q("DO 'V1'") == ",".join(f"N{v:+.6E}" for v in SWEEP)
    step = 0.002 + 100e-6 + 0.01 / 60
    times = [float(x[1:]) for x in bench.q("DO 'CH1T'").split(",")]
    assert times == pytest.approx(step * np.arange(1, 10), rel=1e-6)
    assert bench.q("DO 'I1T'") == "ERROR" and bench.code() == -993  # the label is CHnT, fixed
    assert bench.q("DO 'CH2T'") == "ERROR" and bench.code() == -993  # SMU2 took no part
    assert bench.q("RD 'I1',3") == "+2.000000E-05"  # a bare number
    assert bench.q("RD 'CH1T',1") == f"{step:+.6E}"
    assert bench.q("RD 'I1',10") == "0"
    assert bench.emu.outputs_on()["SMU1"]  # held at 0 V after the test
    assert bench.q("DE CH1") == "ACK" and not bench.emu.outputs_on()["SMU1"]


def test_do_while_running_returns_what_is_measured_so_far(bench):
    _list_sweep(bench, dt="0.1")
    assert bench.q("DO 'I1'") == ""
    assert bench.q("RD 'I1',1") == "0"
    bench.clock.advance(0.25)
    items = bench.q("DO 'I1'").split(",")
    assert len(items) == 2 and items[1] == "N+1.000000E-05"
    assert bench.q("DV1") == "ERROR" and bench.code() == -980
    assert bench.q("MD ME1") == "ERROR" and bench.code() == -980


def test_compliance_items_and_exit_on_compliance(bench):
    _list_sweep(bench, comp="1.5E-5")
    bench.clock.advance(1.0)
    items = bench.q("DO 'I1'").split(",")
    assert items[2] == "C+1.500000E-05" and items[6] == "C-1.500000E-05"
    assert [i[0] for i in items] == list("NNCNNNCNN")
    assert bench.q("DO 'V1'").split(",")[2] == "C+1.500000E-01"
    _list_sweep(bench, comp="1.5E-5", extra="EC 1")
    bench.clock.advance(1.0)
    assert bench.q("DO 'I1'").split(",") == ["N+0.000000E+00", "N+1.000000E-05", "C+1.500000E-05"]


def test_me4_aborts_and_keeps_the_data(bench):
    _list_sweep(bench, dt="0.1")
    bench.clock.advance(0.35)
    assert bench.q("ME4") == "ACK"
    assert bench.q("SP") == "1"
    assert len(bench.q("DO 'I1'").split(",")) == 3
    assert bench.code() == -966
    bench.clock.advance(1.0)
    assert len(bench.q("DO 'I1'").split(",")) == 3  # nothing more after the abort


def test_standby_turns_the_output_off_after_the_test(bench):
    _list_sweep(bench, extra="ST 1,1")
    assert bench.emu.outputs_on()["SMU1"]
    bench.clock.advance(1.0)
    assert not bench.emu.outputs_on()["SMU1"]


def test_var1_and_list_limits(bench):
    assert bench.q("DE CH1,'V1','I1',1,1;CH2;CH3;CH4") == "ACK"
    assert bench.q("SS VR1,0,1.023,0.001,1e-3") == "ACK"  # 1024 points
    assert bench.q("VR1,0,1.024,0.001,1e-3") == "ERROR" and bench.code() == -993
    assert "1025 VAR1 points" in bench.error()
    ok = ",".join(["0.1"] * 4096)
    assert bench.q(f"VL1,1,1e-3,{ok}") == "ACK"
    assert bench.q(f"VL1,1,1e-3,{ok},0.1") == "ERROR" and bench.code() == -993
    assert bench.q("DT 7") == "ERROR" and bench.code() == -993
    assert bench.q("SM;NR 4097") == "ERROR" and bench.code() == -993
    assert bench.q("IN 0.001") == "ERROR" and bench.code() == -993


def test_staircase_sweep_with_var2(bench):
    assert bench.q("IT4,1,1,0.01;DE CH1,'V1','I1',1,1;CH2,'V2','I2',1,2;CH3;CH4") == "ACK"
    assert bench.q("SS VR1,0,0.2,0.1,1e-3;VP 0,1,2,1e-3;HT 0.5;DT 0") == "ACK"
    assert bench.q("MD ME1") == "ACK"
    bench.clock.advance(2.0)
    assert bench.q("DO 'V1'") == ",".join(f"N{v:+.6E}" for v in [0, 0.1, 0.2] * 2)
    assert bench.q("DO 'V2'") == ",".join(f"N{v:+.6E}" for v in [0] * 3 + [1] * 3)
    times = [float(x[1:]) for x in bench.q("DO 'CH1T'").split(",")]
    r = 100e-6 + 0.01 / 60
    assert times == pytest.approx(np.cumsum([0.5 + r, r, r, 0.5 + r, r, r]), rel=1e-6)


def test_sampling_for_retention(bench):
    assert bench.q("IT2;DE CH1,'V1','I1',1,3;CH2;CH3;CH4") == "ACK"
    assert bench.q("SS VC1,0.1,1e-4;SM DM2 LI 'I1' NR 5 IN 2.5 WT 1") == "ACK"
    assert bench.q("MD ME1") == "ACK"
    bench.clock.advance(6.1)
    assert len(bench.q("DO 'I1'").split(",")) == 3  # readings end at 1.02, 3.52, 6.02 s
    bench.clock.advance(6.0)
    assert bench.q("DO 'I1'") == ",".join(["N+1.000000E-05"] * 5)
    r = 100e-6 + 1 / 60
    times = [float(x[1:]) for x in bench.q("DO 'CH1T'").split(",")]
    assert times == pytest.approx(1 + r + 2.5 * np.arange(5), rel=1e-6)


def test_me3_appends(bench):
    _list_sweep(bench)
    bench.clock.advance(1.0)
    assert bench.q("ME3") == "ACK"
    bench.clock.advance(1.0)
    assert len(bench.q("DO 'I1'").split(",")) == 18
    assert bench.q("BC;DO 'I1'") == ""


def test_device_clear_aborts_and_restores_defaults(bench):
    _list_sweep(bench, dt="0.1")
    bench.clock.advance(0.2)
    bench.emu.clear()
    assert not any(bench.emu.outputs_on().values())
    assert bench.q("SP") == "0"
    assert bench.emu.smu[1].compliance == pytest.approx(105e-6)


def test_rst_restores_power_on_state(bench):
    assert bench.q("US;DV1,0,0.1,1e-3;RS 3") == "ACK"
    assert bench.q("*RST") == "ACK"
    assert not bench.emu.outputs_on()["SMU1"]
    assert bench.q("DV1,0,0.1,1e-3") == "ERROR"  # back on page DE
    assert bench.q("US;DV1,0,0.1,1e-3;TI1") == "NAI+1.000000E-05"


def test_the_recipes_in_the_protocol_notes_run_as_written():
    """Every command of the recipes in docs/keithley4200a.md is accepted as written."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "keithley4200a.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```kxci\n(.*?)```", text.split("## Recipes")[1], re.S)
    assert len(blocks) == 4
    replies = []
    for block in blocks:
        b = Bench()
        replies.append(last := {})
        for line in block.splitlines():
            cmd = re.split(r"\s{2,}", line.strip())[0]  # a comment follows two spaces
            if not cmd or not re.match(r"^[A-Z:*]", cmd):
                continue
            last[cmd] = reply = b.q(cmd)
            assert reply != "ERROR", (cmd, b.error())
            if cmd in ("MD ME1", ":PMU:EXECUTE"):
                b.clock.advance(10.0)
    sweep, _, train, sarb = replies
    assert sweep["DO 'I1'"].startswith("N+0.000000E+00,N+1.000000E-05,")
    assert float(sweep["RD 'I1',2"]) == pytest.approx(1e-5)
    assert train[":PMU:DATA:COUNT? 1"] == "500"
    assert len(sarb) >= 13  # Segment Arb: set up and started


def test_two_interfaces_on_one_device_do_not_age_it_twice():
    clock = VirtualClock()
    device = Resistor(10e3)
    lan = K4200AEmulator(device, clock, framing="ethernet")
    gpib = K4200AEmulator(device, clock, framing="gpib")
    for _ in range(3):
        clock.advance(2.0)
        lan.write(b"SP")
        gpib.write(b"SP")
        while lan.pop() or gpib.pop():
            pass
    assert device.t == pytest.approx(clock.now + 1e-3)  # the last SP ran 1 ms ahead


def test_an_injected_fault_error_reads_back():
    from labqc.instruments.sim.faults import FaultPlan

    clock = VirtualClock()
    emu = K4200AEmulator(Resistor(), clock, faults=FaultPlan().add("error", 2, code=-950, message="Power limit."))
    for msg in (b"US", b"SP", b":ERROR:LAST:GET"):
        emu.write(msg)
    assert [r.data for r in iter(emu.pop, None)] == [b"ACK\0", b"0\0", b"Power limit. (-950)\0"]
