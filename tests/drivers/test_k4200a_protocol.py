"""Byte-exact KXCI exchanges of the 4200A driver (pymeasure.test.expected_protocol).

Each test lists every message the driver must send and the instrument's answers, in
order. The VISA connection underneath is PyMeasure's MagicMock: device clear and serial
poll are checked on it, and :meth:`KXCI.idle`'s read is made to time out as on hardware.
"""
from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np
import pytest
from pymeasure.test import expected_protocol
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from labqc.instruments import kxci_sarb as sarb
from labqc.instruments import kxci_session
from labqc.instruments.errors import CapabilityError, InstrumentReportedError, ProtocolError
from labqc.instruments.keithley4200a import Keithley4200A, sweep_tests
from labqc.instruments.kxci_format import num, parse_do, parse_error, parse_pmu_points, parse_spot, pmu_compliance
from labqc.instruments.smu import KIND_PULSE, KIND_READ, PulseTrain, Sampling, Sweep

A = "ACK"
IDN = "KEITHLEY INSTRUMENTS,KI4200A,4512345,V1.13"
OPT = "SMU1,SMU2,SMUPA3,PMU1RPM1-1,PMU1RPM1-2"  # one entry per PMU channel with its RPM
CONNECT_LAN = [("EM 1,0", A), (":ERROR:LAST:CLEAR", A), ("*IDN?", IDN), ("*OPT?", OPT)]
CONNECT_GPIB = [("EM 1,0", None), (":ERROR:LAST:CLEAR", None), ("*IDN?", IDN), ("*OPT?", OPT)]
OFF_LAN = [("US", A), ("DV1", A)]


@contextmanager
def k4200(pairs, framing="ethernet", stb=0, **kw):
    """The driver on a ProtocolAdapter; yields (driver, list of idle timeouts in ms)."""
    with expected_protocol(Keithley4200A, pairs, framing=framing,
                           connection_methods={"read_stb": stb}, **kw) as inst:
        conn = inst.kxci.adapter.connection
        waits: list[int] = []

        def times_out(*_a, **_k):
            waits.append(conn.timeout)
            raise VisaIOError(StatusCode.error_timeout)

        conn.read_raw.side_effect = times_out
        yield inst, waits


# --- numbers and replies ----------------------------------------------------------------

def test_numeric_fields_fit_twelve_characters_with_two_digit_exponents():
    assert num(1e-7) == "1e-07"  # not 0.000000 (PyMeasure's %f) and not repr's 1e-07 by luck
    assert num(0.00012345678901) == "0.000123457"
    assert num(-1.23456789e-10) == "-1.23457e-10"
    assert num(0) == "0" and num(1e-120) == "0"
    rng = np.random.default_rng(1)
    for x in np.concatenate([10 ** rng.uniform(-30, 30, 500), -(10 ** rng.uniform(-30, 30, 500))]):
        text = num(x)
        assert len(text) <= 12
        assert len(text.partition("e")[2].lstrip("+-")) <= 2
        assert float(text) == pytest.approx(x, rel=1e-5)
    with pytest.raises(ValueError):
        num(1e120)
    with pytest.raises(ValueError):
        num(float("nan"))


def test_replies_are_parsed_with_their_status_letters():
    assert parse_spot("NAI 22.329E-09") == (pytest.approx(22.329e-9), False, "N")
    assert parse_spot("CAI1.0E-4\n") == (pytest.approx(1e-4), True, "C")
    with pytest.raises(ProtocolError):
        parse_spot("ACK")
    values, flags = parse_do("N 4.3555E-15,C1.0E-4,N-2E-3")
    assert values.tolist() == pytest.approx([4.3555e-15, 1e-4, -2e-3])
    assert flags.tolist() == [False, True, False]
    with pytest.raises(ProtocolError):
        parse_do("N1,N2", expected=3)
    assert parse_error("KXCI command error. (-992)") == (-992, "KXCI command error.")
    assert parse_error("No error. (0)")[0] == 0
    assert parse_error("") == (0, "")  # the instrument's answer when there is no error


def test_pmu_status_word_compliance_bits():
    points = parse_pmu_points("0.5,1e-6,1e-3,01020021;0.5,2e-4,2e-3,01011021", status_columns=(3,))
    assert points.shape == (2, 4)
    assert points[1, 3] == 0x01011021
    # bit 12 (source compliance) in the second word only; the first decodes RPM/waveform/10 µA.
    assert pmu_compliance(points[:, 3].astype(np.int64)).tolist() == [False, True]
    assert pmu_compliance(np.array([0x4000])).tolist() == [False]  # V threshold: not a current limit
    assert pmu_compliance(np.array([0x8000, 0x2000])).tolist() == [True, True]


# --- connect ------------------------------------------------------------------------------

def test_connect_over_ethernet_clears_selects_4200_commands_and_reads_identity():
    with k4200(CONNECT_LAN) as (inst, _):
        assert inst.kxci.adapter.connection.clear.called  # device clear before anything else
        assert inst.identity == IDN
        assert inst.kxci.framing == "ethernet"
        assert inst.smus == [1, 2, 3] and inst.rpm and inst.capabilities.pulse_capable


def test_connect_over_gpib_expects_no_ack_and_checks_the_status_byte():
    with k4200(CONNECT_GPIB, framing="gpib") as (inst, _):
        assert inst.kxci.adapter.connection.read_stb.called
        assert inst.identity == IDN


def test_options_without_a_pmu_or_rpm_narrow_the_capabilities():
    fast = PulseTrain.uniform(1.0, 3, width=1e-3, period=2e-3, compliance=1e-3)
    slow = PulseTrain.uniform(1.0, 3, width=5e-3, period=10e-3, compliance=1e-3)
    pairs = CONNECT_LAN[:3] + [("*OPT?", "SMU1,SMU2")]
    with k4200(pairs) as (inst, _):
        assert not inst.capabilities.has_pmu
        with pytest.raises(CapabilityError, match="too fast for an SMU"):
            inst.check(fast)
        inst.check(slow)  # the SMU can run it, compliance and all
    pairs = CONNECT_LAN[:3] + [("*OPT?", "SMU1,PMU1")]
    with k4200(pairs) as (inst, _):
        assert not inst.rpm and inst.capabilities.pmu_ranges == (10e-3, 200e-3)


@pytest.mark.parametrize("options, rpm", [
    ("SMU1,SMU2,PMU1RPM1-1,PMU1RPM1-2", True),
    ("SMU1,SMU2,PMU1RPM1-2", True),  # firmware that drops the first RPM from the list (Py4200A)
    ("SMU1, SMU2, PMU1RPM1-1 ", True),
    ("SMU1,SMU2,PMU1", False),
])
def test_rpm_is_found_however_the_options_spell_it(options, rpm):
    with k4200(CONNECT_LAN[:3] + [("*OPT?", options)]) as (inst, _):
        assert inst.rpm is rpm and inst.capabilities.has_pmu
        assert inst.smus == [1, 2]


def test_a_socket_without_device_clear_is_drained_instead():
    from pymeasure.adapters import ProtocolAdapter

    adapter = ProtocolAdapter(CONNECT_LAN)
    adapter.connection.clear.side_effect = VisaIOError(StatusCode.error_nonsupported_operation)
    adapter.connection.read_raw.side_effect = [b"ACK\0", VisaIOError(StatusCode.error_timeout)]
    inst = Keithley4200A(adapter, framing="ethernet")
    assert inst.identity == IDN
    assert adapter.connection.read_raw.call_count == 2  # the stale ACK, then silence
    assert adapter._index == len(CONNECT_LAN)


def test_framing_follows_the_resource_string():
    assert Keithley4200A.__init__.__kwdefaults__["framing"] is None
    with k4200(CONNECT_GPIB, framing=None) as (inst, _):  # an adapter, not a string: GPIB
        assert inst.kxci.framing == "gpib"


# --- sweeps -----------------------------------------------------------------------------

def sweep_setup(kind="V", comp="0.0001", levels="0,0.5,1", mode=1, dt="0.00973333"):
    return [("DE", A), (f"CH1,'V1','I1',{mode},1", A), ("CH2", A), ("CH3", A), ("SS", A), (f"{kind}L1,1,{comp},{levels}", A),
            ("HT 0", A), (f"DT {dt}", A), ("SM", A), ("DM2", A), ("LI 'I1','V1'", A)]


def test_a_sweep_is_planned_as_tests_of_4096_points_with_the_delay_that_fills_each_step():
    # A point is DT + ~100 us settling + NPLC/line frequency: 10 ms - 0.1 ms - 0.01/60 s.
    delay, tests = sweep_tests(Sweep(np.arange(4098) * 1e-4, 1e-4, step_time=0.01, nplc=0.01), 60.0)
    assert delay == pytest.approx(0.00973333, abs=1e-8)
    assert [(start, len(levels)) for start, levels in tests] == [(0, 4096), (4096, 2)]
    assert tests[1][1].tolist() == pytest.approx([0.4096, 0.4097])
    delay, ((_, levels),) = sweep_tests(Sweep([0.123456789], 1e-4, step_time=0.1, nplc=1), 50.0)
    assert delay == pytest.approx(0.1 - 100e-6 - 0.02)
    assert levels.tolist() == [0.123457]  # as sent: 6 significant digits
    assert sweep_tests(Sweep([0, 1], 1e-4, step_time=8.0), 60.0)[0] == 6.553  # DT's maximum
    assert sweep_tests(Sweep([0, 1], 1e-4, step_time=1e-3, nplc=1), 60.0)[0] == 0.0


def test_voltage_sweep_sets_compliance_in_the_list_before_it_runs_and_reads_letters():
    pairs = CONNECT_LAN + [("EC 0", A), ("ST 1,1", A), ("IT4,1,0,0.01", A), ("RG 1,1e-07", A)] + sweep_setup() + [
        ("MD", A), ("ME1", A), ("SP", "16"), ("SP", "0"),
        ("DO 'I1'", "N1.0E-5,N5.0E-5,C1.0E-4"), ("DO 'V1'", "N0,N0.5,N0.9"),
        ("DO 'CH1T'", "0.01,0.02,0.03")] + OFF_LAN
    with k4200(pairs) as (inst, waits):
        chunks = list(inst.run(Sweep([0, 0.5, 1], 1e-4, step_time=0.01, nplc=0.01)))
    assert len(chunks) == 1
    c = chunks[0]
    assert c["compliance"].tolist() == [False, False, True]
    assert c["i"].tolist() == pytest.approx([1e-5, 5e-5, 1e-4])
    assert c["v"].tolist() == pytest.approx([0, 0.5, 0.9])
    assert np.all(np.diff(c["t"]) == pytest.approx(0.01))
    assert c["index"].tolist() == [0, 1, 2]
    # One wait for the whole sweep (30 ms), then a short wait between the two SP polls.
    assert waits == [30, 5]


def test_gpib_sweep_sends_no_sp_and_polls_the_status_byte_instead():
    lan = [("EC 0", A), ("ST 1,1", A), ("IT4,1,0,0.01", A), ("RG 1,1e-07", A)] + sweep_setup() + [("MD", A), ("ME1", A)]
    no_ack = [(cmd, None) for cmd, _ in lan]
    pairs = CONNECT_GPIB + no_ack + [
        ("DO 'I1'", "N1.0E-5,N5.0E-5,C1.0E-4"), ("DO 'V1'", "N0,N0.5,N0.9"), ("DO 'CH1T'", "0.01,0.02,0.03"),
        ("US", None), ("DV1", None)]
    with k4200(pairs, framing="gpib") as (inst, waits):
        # serial polls: set-up checkpoint, busy, done (B0 data ready), the off checkpoint
        inst.kxci.adapter.connection.read_stb.side_effect = [0, 16, 1, 0]
        (c,) = list(inst.run(Sweep([0, 0.5, 1], 1e-4, step_time=0.01, nplc=0.01)))
        assert inst.kxci.adapter.connection.read_stb.call_count == 1 + 4  # the connect checkpoint too
    assert c["compliance"].tolist() == [False, False, True]
    assert waits == [30, 5]


def test_measure_range_sets_the_autorange_floor_and_a_preamp_lowers_the_default():
    pairs = CONNECT_LAN[:3] + [("*OPT?", "SMUPA1,SMU2")] + [
        ("EC 0", A), ("ST 1,1", A), ("IT4,1,0,0.01", A), ("RG 1,1e-05", A), ("DE", "ERR"),
        (":ERROR:LAST:GET", "Invalid argument. (-993)"), ("ME4", A)] + OFF_LAN + OFF_LAN + [
        ("US", A), ("IT4,1,0,1", A), ("RG 1,1e-09", A), ("DV1,0,0.1,0.001", A),
        ("TV1", "NAV 0.1"), ("DV1,0,0.1,0.001", A), ("TI1", "NAI 1E-5"), ("DV1", A)]
    with k4200(pairs) as (inst, _):
        with pytest.raises(InstrumentReportedError):
            list(inst.run(Sweep([0, 1], 1e-4, step_time=0.01, nplc=0.01, measure_range=10e-6)))
        inst.read(0.1, compliance=1e-3)  # back to the preamplifier's 1 nA floor


def test_current_sweep_takes_compliance_from_the_voltage_letters():
    pairs = CONNECT_LAN + [("EC 0", A), ("ST 1,1", A), ("IT4,1,0,1", A), ("RG 1,1e-07", A)] + sweep_setup("I", "2", "1e-06,2e-06", 2, "0.0832333") + [
        ("MD", A), ("ME1", A), ("SP", "0"),
        ("DO 'I1'", "N1E-6,N2E-6"), ("DO 'V1'", "N1.0,C2.0"), ("DO 'CH1T'", "0.1,0.2")] + OFF_LAN
    with k4200(pairs) as (inst, _):
        (c,) = list(inst.run(Sweep([1e-6, 2e-6], 2.0, source="I", step_time=0.1, nplc=1)))
    assert c["compliance"].tolist() == [False, True]


def test_a_list_longer_than_4096_runs_as_two_tests_each_yielding_its_chunk():
    levels = np.arange(4098) * 1e-4
    first = ",".join("%g" % x for x in levels[:4096])
    second = ",".join("%g" % x for x in levels[4096:])
    reply = lambda n: ",".join(["N1E-6"] * n)  # noqa: E731
    stamps = lambda n: ",".join("%g" % (0.01 * (k + 1)) for k in range(n))  # noqa: E731
    pairs = CONNECT_LAN + [("EC 0", A), ("ST 1,1", A), ("IT4,1,0,0.01", A), ("RG 1,1e-07", A)]
    for text, n in ((first, 4096), (second, 2)):
        pairs += sweep_setup(levels=text) + [("MD", A), ("ME1", A), ("SP", "0"),
                                             ("DO 'I1'", reply(n)), ("DO 'V1'", reply(n)),
                                             ("DO 'CH1T'", stamps(n))]
    pairs += OFF_LAN
    with k4200(pairs) as (inst, _):
        chunks = list(inst.run(Sweep(levels, 1e-4, step_time=0.01, nplc=0.01)))
    assert [len(c) for c in chunks] == [4096, 2]
    assert chunks[1]["index"].tolist() == [4096, 4097]
    assert chunks[1]["t"][0] > chunks[0]["t"][-1]


def test_a_kxci_that_refuses_data_during_a_test_gets_it_at_the_end():
    levels = np.linspace(0, 1, 200)  # 2 s: one read of the running test is due after 1 s
    text = ",".join("%g" % x for x in levels)
    items = ",".join(["N1E-6"] * 200)
    stamps = ",".join("%g" % (0.01 * (k + 1)) for k in range(200))
    pairs = CONNECT_LAN + [("EC 0", A), ("ST 1,1", A), ("IT4,1,0,0.01", A), ("RG 1,1e-07", A)] + sweep_setup(levels=text) + [
        ("MD", A), ("ME1", A), ("SP", "16"),
        ("DO 'I1'", "ERROR"), (":ERROR:LAST:GET", "Command not valid during test execution. (-980)"),
        ("SP", "0"), ("DO 'I1'", items), ("DO 'V1'", items), ("DO 'CH1T'", stamps)] + OFF_LAN
    # The same sweep again in this session: no DO while SP reads busy (16), only at the end.
    pairs += [("EC 0", A), ("ST 1,1", A), ("IT4,1,0,0.01", A), ("RG 1,1e-07", A)] + sweep_setup(levels=text) + [
        ("MD", A), ("ME1", A), ("SP", "16"), ("SP", "0"),
        ("DO 'I1'", items), ("DO 'V1'", items), ("DO 'CH1T'", stamps)] + OFF_LAN
    with k4200(pairs) as (inst, _):
        sweep = Sweep(levels, 1e-4, step_time=0.01, nplc=0.01)
        for _ in range(2):
            chunks = list(inst.run(sweep))
            # An empty chunk after a second of silence lets the caller stop there.
            assert [len(c) for c in chunks] == [0, 200]


# --- PMU ----------------------------------------------------------------------------------

PMU_SETUP = [(":PMU:RPM:CONFIGURE PMU1-1,0", A), (":PMU:SOURCE:RANGE 1,10", A)]


def pmu_range(amps, load="10000", llec=0):
    return [(f":PMU:MEASURE:RANGE 1,2,{amps}", A), (f":PMU:LOAD 1,{load}", A), (f":PMU:LLEC:CONFIGURE 1,{llec}", A)]


TRAIN_DATA = ";".join(f"1.5,{1e-4 if k else 2e-5},{0.004 + 0.01 * k},{'01011021' if k else '01010021'},"
                     f"0,0,{0.009 + 0.01 * k},01010021" for k in range(3))
TRAIN = CONNECT_LAN + [(":PMU:INIT 0", A)] + PMU_SETUP + [
    *pmu_range("0.001"), (":PMU:MEASURE:MODE 1", A),
    (":PMU:PULSE:TRAIN 1,0.2,1.3", A), (":PMU:PULSE:TIMES 1,0.01,0.005,1e-06,1e-06,0", A),
    (":PMU:PULSE:BURST:COUNT 3", A), (":PMU:OUTPUT:STATE 1,1", A), (":PMU:EXECUTE", A),
    (":PMU:TEST:STATUS?", "0"), (":PMU:DATA:COUNT? 1", "3"), (":PMU:DATA:GET 1,0,3", TRAIN_DATA),
    ("US", A), ("DV1", A), (":PMU:OUTPUT:STATE 1,0", A)]
# 1.5 V into the stated 10 kohm can pass 150 uA at most: the 200 uA compliance holds,
# and the 1 mA range cannot overflow.
UNIFORM = PulseTrain.uniform(1.5, 3, width=5e-3, period=10e-3, compliance=2e-4, base=0.2)


def test_uniform_train_uses_standard_pulse_mode_and_fetches_the_status_word():
    with k4200(TRAIN, pmu_load=1e4) as (inst, waits):
        (c,) = list(inst.run(UNIFORM))
    assert c["kind"].tolist() == [KIND_PULSE] * 3
    assert c["index"].tolist() == [0, 1, 2]
    assert c["compliance"].tolist() == [False, True, True]
    assert c["v"].tolist() == [1.5] * 3
    assert waits == [30]


def test_pulses_with_reads_use_segment_arb_with_looped_sequences():
    p = PulseTrain([1.0, 1.0, -1.0], width=1e-3, period=10e-3, compliance=1e-3, read_levels=0.1,
                   read_width=1e-3)
    seq = {a: sarb.period_sequence(a, 0.1, p) for a in (1.0, -1.0)}
    assert sum(seq[1.0].times) == pytest.approx(10e-3)
    pairs = CONNECT_LAN + [(":PMU:INIT 1", A)] + PMU_SETUP + pmu_range("0.001", load="1000")
    for number, a in ((1, 1.0), (2, -1.0)):
        s = seq[a]
        for name, values in (("TIME", s.times), ("STARTV", s.start), ("STOPV", s.stop)):
            pairs.append((f":PMU:SARB:SEQ:{name} 1,{number}," + ",".join("%g" % v for v in values), A))
        # Rise (1 µs), top (999 µs: the width is at half height, measured over 75-90 % of it),
        # fall, the rest at base, then the read the same way.
        pairs.append((f":PMU:SARB:SEQ:MEAS:TYPE 1,{number},0,1,0,0,0,1,0", A))
        pairs.append((f":PMU:SARB:SEQ:MEAS:START 1,{number},0,0.00074925,0,0,0,0.00074925,0", A))
        pairs.append((f":PMU:SARB:SEQ:MEAS:STOP 1,{number},0,0.0008991,0,0,0,0.0008991,0", A))
    data = ";".join(f"{v},{i},{t},{st}" for v, i, t, st in [
        (1, 1e-4, 0.001, "01010021"), (0.1, 1e-5, 0.009, "01010021"),
        (1, 1e-3, 0.011, "01011021"), (0.1, 1e-4, 0.019, "01010021"),
        (-1, -1e-4, 0.021, "01010021"), (0.1, 1e-5, 0.029, "01010021")])
    pairs += [(":PMU:SARB:WFM:SEQ:LIST 1,1,2,2,1", A), (":PMU:OUTPUT:STATE 1,1", A), (":PMU:EXECUTE", A),
              (":PMU:TEST:STATUS?", "1"), (":PMU:TEST:STATUS?", "0"), (":PMU:DATA:COUNT? 1", "6"),
              (":PMU:DATA:GET 1,0,6", data), ("US", A), ("DV1", A), (":PMU:OUTPUT:STATE 1,0", A)]
    with k4200(pairs, pmu_load=1e3) as (inst, _):
        (c,) = list(inst.run(p))
    assert c["kind"].tolist() == [KIND_PULSE, KIND_READ] * 3
    assert c["index"].tolist() == [0, 0, 1, 1, 2, 2]
    assert c["source"].tolist() == [1.0, 0.1, 1.0, 0.1, -1.0, 0.1]
    assert c["compliance"].tolist() == [False, False, True, False, False, False]


def test_segment_arb_plan_segments_and_run_lengths():
    p = PulseTrain([1.0] * 5 + [2.0] * 2, width=1e-6, period=2.5, compliance=1e-3)
    seq = sarb.period_sequence(1.0, None, p)
    assert len(seq.times) >= 3 and sum(seq.times) == pytest.approx(2.5)
    assert max(seq.times) <= 1.0  # the 2.5 s period's rest is cut in segments of <= 1 s
    assert all(seq.start[k + 1] == seq.stop[k] for k in range(len(seq.times) - 1))
    assert seq.points == 1
    assert sarb.runs(p.amplitudes, None) == [(1.0, None, 5), (2.0, None, 2)]
    assert sarb.split_runs(sarb.runs(p.amplitudes, None), 3) == [
        [(1.0, None, 3)], [(1.0, None, 2), (2.0, None, 1)], [(2.0, None, 1)]]


# --- sampling and spot reads --------------------------------------------------------------

def test_sampling_is_a_system_mode_test_that_ends_in_standby(monkeypatch):
    # The driver's clock counts only the idles (the VISA timeouts), so WT is exact here.
    monkeypatch.setattr(kxci_session, "time", SimpleNamespace(monotonic=lambda: 1000.0))
    # 1.0 and 1.5 s: one test of 2 readings 0.5 s apart; its WT ends the first reading
    # (1 PLC at 60 Hz + 100 us = 0.0167667 s) at 1.0 s. Standby at the end (ST 1,1), and
    # the constant source's compliance on the SS page, before ME1.
    pairs = CONNECT_LAN + [
        ("EC 0", A), ("ST 1,1", A), ("IT4,1,0,1", A), ("RG 1,1e-07", A),
        ("DE", A), ("CH1,'V1','I1',1,3", A), ("CH2", A), ("CH3", A), ("SS", A), ("VC1,0.1,0.0001", A),
        ("SM", A), ("DM2", A), ("LI 'I1','V1'", A), ("NR 2", A), ("IN 0.5", A), ("WT 0.983233", A),
        ("MD", A), ("ME1", A), ("SP", "16"), ("SP", "0"),
        ("DO 'I1'", "N1.0E-6,C1.0E-4"), ("DO 'V1'", "N0.1,N0.09"), ("DO 'CH1T'", "1.0,1.5")] + OFF_LAN
    with k4200(pairs) as (inst, waits):
        chunks = list(inst.run(Sampling(0.1, 1e-4, [1.0, 1.5])))
    data = np.concatenate(chunks)
    assert data["index"].tolist() == [0, 1]
    assert data["compliance"].tolist() == [False, True]
    assert data["i"].tolist() == pytest.approx([1e-6, 1e-4])
    assert data["t"][1] - data["t"][0] == pytest.approx(0.5)
    # no DO before the first reading is due: 1 s (the follow interval), then the 0.5 s left
    assert waits == [1000, 500]


def test_spot_read_sources_measures_and_turns_off_on_both_framings():
    # The setting goes again between TV and TI: the 4200A wants it re-applied before the
    # other quantity is measured (pymeasure's test on a real 4200A).
    pairs = CONNECT_LAN + [("US", A), ("IT4,1,0,1", A), ("RG 1,1e-07", A), ("DV1,0,0.2,1e-05", A),
                           ("TV1", "NAV 0.2"), ("DV1,0,0.2,1e-05", A), ("TI1", "CAI 1.0E-5"), ("DV1", A)]
    with k4200(pairs) as (inst, _):
        r = inst.read(0.2, compliance=1e-5)
    assert (r["v"][0], r["i"][0], bool(r["compliance"][0])) == (0.2, 1e-5, True)
    pairs = CONNECT_GPIB + [("US", None), ("IT4,1,0,1", None), ("RG 1,1e-07", None), ("DI1,0,1e-06,2", None),
                            ("TV1", "NAV 0.5"), ("DI1,0,1e-06,2", None), ("TI1", "NAI 1.0E-6"), ("DV1", None)]
    with k4200(pairs, framing="gpib") as (inst, _):
        r = inst.read(1e-6, compliance=2.0, source="I")
    assert (r["v"][0], bool(r["compliance"][0])) == (0.5, False)


# --- abort, off, errors, refusals ------------------------------------------------------------

def test_abort_stops_the_test_and_the_pmu_then_turns_everything_off():
    pairs = CONNECT_LAN + [("ME4", A), ("US", A), ("DV1", A)]
    with k4200(pairs) as (inst, _):
        inst.abort()
    # Once the PMU has run, the abort stops it too and the off switches its output off.
    pairs = TRAIN + [("ME4", A), (":PMU:ABORT", A), ("US", A), ("DV1", A), (":PMU:OUTPUT:STATE 1,0", A)]
    with k4200(pairs, pmu_load=1e4) as (inst, _):
        list(inst.run(UNIFORM))
        inst.abort()


def test_output_off_retries_after_a_device_clear():
    pairs = CONNECT_LAN + [("US", "garbage"), (":ERROR:LAST:GET", "KXCI command error. (-992)"),
                           ("US", A), ("DV1", A)]
    with k4200(pairs) as (inst, _):
        inst.kxci.adapter.connection.clear.reset_mock()
        inst.output_off()
        assert inst.kxci.adapter.connection.clear.called


def test_a_reply_other_than_ack_is_looked_up_and_raised_typed():
    pairs = CONNECT_LAN + [("EC 0", A), ("ST 1,1", A), ("IT4,1,0,0.01", A), ("RG 1,1e-07", A), ("DE", "ERR"),
                           (":ERROR:LAST:GET", "Not valid in user mode. (-974)"),
                           # abort() turns the outputs off, and run() once more whatever happens
                           ("ME4", A)] + OFF_LAN + OFF_LAN
    with k4200(pairs) as (inst, _):
        with pytest.raises(InstrumentReportedError) as info:
            list(inst.run(Sweep([0, 1], 1e-4, step_time=0.01, nplc=0.01)))
    assert info.value.code == -974


def test_gpib_syntax_error_bit_is_raised_at_the_checkpoint():
    pairs = CONNECT_GPIB + [(":ERROR:LAST:GET", "KXCI command error. (-992)")]
    with pytest.raises(InstrumentReportedError) as info:
        with k4200(pairs, framing="gpib", stb=2):
            pass
    assert info.value.code == -992


@pytest.mark.parametrize("request_", [
    PulseTrain.uniform(12.0, 10, width=1e-3, period=2e-3, compliance=1e-3),  # beyond the PMU 10 V range
    PulseTrain.uniform(1.0, 10_001, width=1e-3, period=2e-3, compliance=1e-3),  # beyond one burst
    PulseTrain.uniform(1.0, 10, width=20e-9, period=1e-6, compliance=1e-3),  # below 40 ns
    Sweep([0, 1], 1e-8, step_time=0.01),  # compliance below the 100 nA floor
    Sweep([0, 1], 1e-4, step_time=8.0),  # DT is at most 6.553 s
    Sweep([0, 1], 1e-4, step_time=0.01, nplc=1.0),  # step shorter than 1 PLC
    Sweep([0, 250], 1e-4, step_time=0.01),  # beyond 210 V
    Sampling(0.1, 1e-4, [1.0, 1.05]),  # closer than user-mode sampling allows
])
def test_requests_beyond_capabilities_are_refused_before_anything_is_sent(request_):
    with k4200(CONNECT_LAN) as (inst, _):
        with pytest.raises(CapabilityError) as info:
            list(inst.run(request_))
    assert str(info.value).startswith("The 4200A")
