"""The simulated 4200A's command table (instruments/sim/kxci_commands.py) at the wire:
which check answers first, argument counts, ranges, pages and PMU modes.

Expected replies are written out: ``ERROR`` for a failing command on Ethernet, and the
error numbers of the manual's list as docs/keithley4200a.md quotes them (-992 unknown
command, -993 bad argument, -989 wrong page, -975 page command in user mode, -974
user-mode command on a system page, -980 a test runs, -979 not installed, -969 invalid
PMU argument). The ranges are the manual's: DT 0 to 6.553 s, HT 0 to 655.3 s, IN 0.01 to
10 s, WT 0 to 100 s, RS 3 to 7 digits, :PMU:LOAD 1 ohm to 10 Mohm, :PMU:SAMPLE:RATE up to
200 MS/s, :PMU:PULSE:BURST:COUNT up to 10000 (docs/keithley4200a.md).
"""
from __future__ import annotations

import pytest

from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.device import Resistor
from labqc.instruments.sim.kxci4200a import K4200AEmulator
from labqc.instruments.sim.kxci_commands import TABLE


class Bench:
    def __init__(self, **kw):
        self.clock = VirtualClock()
        self.emu = K4200AEmulator(Resistor(10e3), self.clock, **kw)

    def q(self, msg: str) -> str:
        self.emu.write(msg.encode())
        r = self.emu.pop()
        assert r is not None and self.emu.pop() is None
        self.clock.advance_to(r.ready_at)
        return r.data[:-1].decode()

    def code(self) -> int:
        return int(self.q(":ERROR:LAST:GET").rsplit("(", 1)[1].rstrip(")"))

    def refused(self, msg: str) -> int:
        assert self.q(msg) == "ERROR", msg
        return self.code()


@pytest.fixture
def b():
    return Bench()


def test_every_row_has_its_handler():
    emu = Bench().emu
    for row in TABLE:
        target = emu if row.target == "emu" else getattr(emu, row.target)
        assert callable(getattr(target, row.handler, None)), row.word


def test_an_unknown_word_answers_before_anything_else(b):
    assert b.q("US;DV1,0,0.1,1e-3") == "ACK"
    assert b.refused("XY1") == -992
    assert b.refused("dv1") == -992  # mnemonics are upper case
    assert b.refused(":PMU:SARB:SEQ:VOLTS 1,1,0,1,0") == -992
    assert b.q(":ERROR:LAST:GET") == "KXCI command error. unknown Segment Arb command :PMU:SARB:SEQ:VOLTS. (-992)"


def test_a_running_test_refuses_before_the_page_and_the_arguments_are_looked_at(b):
    assert b.q("DE CH1,'V1','I1',1,3;SS VC1,0.1,1e-3;SM NR 100 IN 0.1;MD ME1") == "ACK"
    assert b.refused("DT 99") == -980  # not -989 (page) nor -993 (range)
    assert b.q("US") == "ACK"  # pages may change while it runs
    assert int(b.q("SP")) & 16  # busy (B4), and the status answers
    assert b.q("ME4") == "ACK"


def test_the_place_is_checked_before_the_argument_count(b):
    assert b.refused("DV1,0") == -974  # page DE at power on: user mode first
    assert b.q("US") == "ACK"
    assert b.refused("DV1,0") == -993  # DV takes 1, 3 or 4 arguments
    assert b.q(":ERROR:LAST:GET") == "Invalid argument. DV takes 1, 3, 4 arguments, got 2. (-993)"
    assert b.refused("DT") == -975
    assert b.q("SM") == "ACK"
    assert b.refused("DT 1") == -989
    assert b.q("SS") == "ACK"
    assert b.refused("DT") == -993


@pytest.mark.parametrize("page, ok, bad", [
    ("SS", "DT 6.553", "DT 6.554"),
    ("SS", "HT 655.3", "HT 655.4"),
    ("SM", "IN 0.01", "IN 0.009"),
    ("SM", "WT 100", "WT 100.1"),
    ("SM", "NR 4096", "NR 4097"),
    ("SM", "DM1", "DM3"),
    ("US", "RS 3", "RS 8"),
])
def test_ranges_at_their_edges(b, page, ok, bad):
    assert b.q(page) == "ACK"
    assert b.q(ok) == "ACK"
    assert b.refused(bad) == -993


def test_an_smu_that_is_not_installed_and_a_channel_beyond_eight():
    b = Bench(smus=2)
    assert b.q("US") == "ACK"
    assert b.refused("DV3,0,1,1e-3") == -979
    assert b.refused("DV9,0,1,1e-3") == -993
    assert b.q("DE") == "ACK"
    assert b.refused("CH3") == -979


def test_pmu_commands_need_a_pmu_then_init_then_their_mode():
    assert Bench(pmu=False).refused(":PMU:INIT 0") == -969
    b = Bench()
    assert b.refused(":PMU:SOURCE:RANGE 1,10") == -969  # before INIT
    assert b.q(":PMU:INIT 1") == "ACK"
    assert b.refused(":PMU:PULSE:TRAIN 1,0,1") == -969  # standard pulse only
    assert b.q(":PMU:SARB:SEQ:TIME 1,1,1e-6,1e-6,1e-6") == "ACK"
    assert b.q(":PMU:INIT 0") == "ACK"
    assert b.refused(":PMU:SARB:SEQ:TIME 1,1,1e-6,1e-6,1e-6") == -969  # Segment Arb only
    assert b.q(":PMU:PULSE:TRAIN 1,0,1") == "ACK"
    assert b.refused(":PMU:PULSE:TRAIN 3,0,1") == -969  # channels 1 and 2
    assert b.refused(":PMU:PULSE:TRAIN 1,0,x") == -993  # not a number


def test_pmu_ranges_and_lists(b):
    assert b.q(":PMU:INIT 0") == "ACK"
    assert b.q(":PMU:LOAD 1,1e7") == "ACK"
    assert b.refused(":PMU:LOAD 1,1.1e7") == -969
    assert b.refused(":PMU:LOAD 1,0.5") == -969
    assert b.q(":PMU:SAMPLE:RATE 200e6") == "ACK"
    assert b.refused(":PMU:SAMPLE:RATE 201e6") == -969
    assert b.q(":PMU:PULSE:BURST:COUNT 10000") == "ACK"
    assert b.refused(":PMU:PULSE:BURST:COUNT 10001") == -969
    assert b.q(":PMU:INIT 1") == "ACK"
    assert b.refused(":PMU:SARB:SEQ:STARTV 1,1") == -969  # no values
    assert b.q(":PMU:SARB:WFM:SEQ:LIST 1,1,5,2,3") == "ACK"  # (sequence, loops) pairs
    assert b.refused(":PMU:SARB:WFM:SEQ:LIST 1,1,5,2") == -969  # a pair cut short
    assert b.refused(":PMU:SARB:WFM:SEQ:LIST 1,1,5,513,1") == -969  # sequences 1-512
    assert b.refused(":PMU:SARB:WFM:SEQ:LIST 1,1,0") == -969  # at least one loop


def test_rst_restores_the_declared_defaults(b):
    assert b.q("US;RS 4;DV1,0,0.1,1e-3;TI1") == "NAI+1.000E-05"
    assert b.q("*RST") == "ACK"
    assert b.q("US;DV1,0,0.1,1e-3;TI1") == "NAI+1.000000E-05"  # 7 digits again
    assert b.q("DE") == "ACK" and b.refused("DV1") == -974  # page DE after *RST
