"""The 4200A driver against facts from sources we did not write (docs/keithley4200a.md):
the empty no-error reply, TV numbers of SMU5-8, and a PMU whose range does not limit the
current, so a train's compliance holds only through a stated series load, else on an SMU.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from labqc.instruments import kxci_route as route
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from labqc.instruments.errors import CapabilityError, InstrumentTimeout, ProtocolError
from labqc.instruments.keithley4200a import tv_number
from labqc.instruments.smu import KIND_PULSE, KIND_READ, PulseTrain

from test_k4200a_protocol import A, CONNECT_LAN, OFF_LAN, PMU_SETUP, k4200, pmu_range


def test_an_empty_reply_where_data_was_expected_asks_for_the_error_once():
    """hephy-dd and Py4200A: :ERROR:LAST:GET answers "" when there is no error. The driver
    must read that as "no error" and not ask again (which would never end)."""
    pairs = CONNECT_LAN + [("*IDN?", ""), (":ERROR:LAST:GET", "")]
    with k4200(pairs) as (inst, _):
        with pytest.raises(ProtocolError, match="reports no error"):
            inst.kxci.query("*IDN?")


def test_last_error_reads_the_empty_reply_as_no_error():
    with k4200(CONNECT_LAN + [(":ERROR:LAST:GET", "")]) as (inst, _):
        assert inst.kxci.last_error() == (0, "")
    with k4200(CONNECT_LAN + [(":ERROR:LAST:GET", "KXCI command error. (-992)")]) as (inst, _):
        assert inst.kxci.last_error() == (-992, "KXCI command error.")


def test_a_timeout_whose_error_read_times_out_too_ends_at_once():
    """After a timeout the driver asks :ERROR:LAST:GET; if that times out as well it must
    not ask again (and again): one typed error, two reads."""
    with k4200(CONNECT_LAN) as (inst, _):
        reads = []

        def silent(*_a, **_k):
            reads.append(1)
            raise VisaIOError(StatusCode.error_timeout)

        inst.kxci.write = lambda cmd, **kw: None  # the wire swallows everything
        inst.kxci.read = silent
        with pytest.raises(InstrumentTimeout, match="nor to :ERROR:LAST:GET"):
            inst.kxci.query("*IDN?")
    assert len(reads) == 2


def test_tv_numbers_of_smus_5_to_8_skip_the_voltmeters():
    assert [tv_number(n) for n in range(1, 9)] == [1, 2, 3, 4, 7, 8, 9, 10]
    opt = "SMU1,SMU2,SMU3,SMU4,SMU5,SMU6"
    pairs = CONNECT_LAN[:3] + [("*OPT?", opt), ("US", A), ("IT4,1,0,1", A), ("RG 6,1e-07", A),
                               ("DV6,0,0.2,1e-05", A), ("TV8", "NFV 0.2"), ("DV6,0,0.2,1e-05", A),
                               ("TI6", "NFI 1.0E-6"), ("DV6", A)]
    with k4200(pairs, smu=6) as (inst, _):
        r = inst.read(0.2, compliance=1e-5)
    assert (r["v"][0], r["i"][0]) == (0.2, 1e-6)


# --- where a pulse train runs ---------------------------------------------------------------

TRAIN = dict(width=5e-3, period=10e-3)


def test_the_pmu_current_bound_follows_the_load_line():
    p = PulseTrain.uniform(1.5, 3, compliance=1e-3, **TRAIN)
    assert route.pmu_current_bound(p, 1e4) == pytest.approx(1.5e-4)  # V/R with LOAD = R
    assert route.pmu_current_bound(p, None) == pytest.approx(1.5 * (1e6 + 50) / 1e6 / 50)  # into a short
    assert route.pmu_current_bound(p, 1e4, llec=True) == pytest.approx(10 / (1e4 + 50))


@pytest.mark.parametrize("load, where", [(1e4, "pmu"), (1e3, "smu"), (None, "smu")])
def test_a_train_runs_where_its_compliance_holds(load, where):
    p = PulseTrain.uniform(1.5, 3, compliance=2e-4, **TRAIN)  # 1.5 V / 10 kohm = 150 uA <= 200 uA
    pairs = CONNECT_LAN[:3] + [("*OPT?", "SMU1,PMU1RPM1-1,PMU1RPM1-2")]
    with k4200(pairs, pmu_load=load) as (inst, _):
        assert inst.capabilities.route(p) == where
    with k4200(pairs) as (inst, _):  # the same load stated on the request instead
        assert inst.capabilities.route(replace(p, series_load=load)) == where


def test_a_train_the_pmu_cannot_hold_and_an_smu_cannot_run_is_refused_in_one_sentence():
    p = PulseTrain.uniform(1.5, 100, width=5e-3, period=10e-3, compliance=5e-3, read_level=0.1, read_width=1e-3)
    with k4200(CONNECT_LAN) as (inst, _):
        with pytest.raises(CapabilityError) as info:
            list(inst.run(p))
    text = str(info.value)
    assert "no current limit" in text and "0.03 A" in text and "--pmu-load" in text
    assert text.count(". ") == 0 and text.endswith(".")  # one sentence
    with k4200(CONNECT_LAN[:3] + [("*OPT?", "SMU1,PMU1RPM1-1,PMU1RPM1-2")], pmu_load=1e3) as (inst, _):
        inst.check(p)  # 1.5 V over a stated 1 kohm: 1.5 mA at most, within 5 mA


def test_a_compliance_limited_pulse_runs_on_the_smu_as_a_list_sweep():
    """Endurance's SET pulse: 1.5 V for 5 ms, then 5 ms at base, 400 uA compliance."""
    p = PulseTrain.uniform(1.5, 2, compliance=4e-4, read_level=0.1, read_width=5e-3, width=5e-3, period=15e-3)
    levels = "1.5,0,0.1,1.5,0,0.1"
    sweep = [("EC 0", A), ("ST 1,1", A), ("IT4,1,0,0.01", A), ("RG 1,1e-07", A), ("DE", A), ("CH1,'V1','I1',1,1", A),
             ("CH2", A), ("CH3", A), ("SS", A), (f"VL1,1,0.0004,{levels}", A), ("HT 0", A),
             ("DT 0.00473333", A), ("SM", A), ("DM2", A), ("LI 'I1','V1'", A), ("MD", A), ("ME1", A),
             ("SP", "0"), ("DO 'I1'", "C4E-4,N0,N1E-5,C4E-4,N0,N1E-5"),
             ("DO 'V1'", "C0.9,N0,N0.1,C0.8,N0,N0.1"), ("DO 'CH1T'", "0.005,0.01,0.015,0.02,0.025,0.03")]
    with k4200(CONNECT_LAN + sweep + OFF_LAN) as (inst, _):
        chunks = list(inst.run(p))
    c = np.concatenate(chunks)
    assert c["kind"].tolist() == [KIND_PULSE, KIND_READ] * 2
    assert c["index"].tolist() == [0, 0, 1, 1]
    assert c["compliance"].tolist() == [True, False, True, False]
    assert c["source"].tolist() == [1.5, 0.1, 1.5, 0.1]


def test_the_pmu_gets_the_stated_load_a_range_that_cannot_overflow_and_no_llec():
    p = PulseTrain.uniform(1.0, 2, compliance=5e-3, **TRAIN)
    data = "1.0,8e-4,0.004,01040021,0,0,0.009,01040021;1.0,1e-3,0.014,01040421,0,0,0.019,01040021"
    pairs = CONNECT_LAN + [(":PMU:INIT 0", A)] + PMU_SETUP + pmu_range("0.001", load="1000") + [
        (":PMU:MEASURE:MODE 1", A), (":PMU:PULSE:TRAIN 1,0,1", A),
        (":PMU:PULSE:TIMES 1,0.01,0.005,1e-06,1e-06,0", A), (":PMU:PULSE:BURST:COUNT 2", A),
        (":PMU:OUTPUT:STATE 1,1", A), (":PMU:EXECUTE", A), (":PMU:TEST:STATUS?", "0"),
        (":PMU:DATA:COUNT? 1", "2"), (":PMU:DATA:GET 1,0,2", data), ("US", A), ("DV1", A),
        (":PMU:OUTPUT:STATE 1,0", A)]
    with k4200(pairs, pmu_load=1e3) as (inst, _):
        (c,) = list(inst.run(p))
    assert c["i"][0] == pytest.approx(8e-4)
    assert math.isnan(c["i"][1])  # bit 10: the current overflowed its range; not a reading


def test_llec_only_where_the_instrument_does_it():
    uniform = PulseTrain.uniform(1.0, 2, compliance=1e-1, **TRAIN)
    with_reads = PulseTrain.uniform(1.0, 2, compliance=1e-1, read_level=0.1, read_width=1e-3, **TRAIN)
    opt = CONNECT_LAN[:3] + [("*OPT?", "SMU1,PMU1RPM1-1,PMU1RPM1-2")]
    with k4200(opt, llec=True, pmu_load=1e3) as (inst, _):
        inst.check(uniform)  # standard pulse mode; 10 V/(50 + 1000) ohm needs the PMU's 10 mA range
        with pytest.raises(CapabilityError, match="load-line effect compensation works only"):
            inst.check(with_reads)  # Segment Arb
        with pytest.raises(CapabilityError, match="load-line effect compensation works only"):
            inst.check(PulseTrain.uniform(1.0, 2, compliance=1e-1, measure_range=1e-4, **TRAIN))  # an RPM range
    with k4200(opt) as (inst, _):
        assert not inst.llec  # off unless asked for


def test_a_pmu_load_outside_what_the_pmu_accepts_is_refused():
    with pytest.raises(ValueError, match="PMU load"):
        with k4200(CONNECT_LAN, pmu_load=0.5):
            pass
