"""Repeat (K cycles of a few requests) on the 2614B: a Lua loop on the instrument.

Byte-exact messages (pymeasure expected_protocol), then the driver against the simulated
2614B through PyVISA: the same device physics as the request-by-request path, outputs
off after a stop or a fault, buffer refills chained on one time line; and the generic
request-by-request fallback on the simulated 4200A.
"""
import dataclasses

import numpy as np
import pytest
from pymeasure.test import expected_protocol

from labqc.instruments.connect import SIM_4200A, open_smu
from labqc.instruments.errors import CapabilityError, InstrumentReportedError, InstrumentTimeout
from labqc.instruments.keithley2614b import Keithley2614B
from labqc.instruments.sim.lab import RES_2614B_GPIB, get_lab, sim_library
from labqc.instruments.smu import KIND_POINT, KIND_PULSE, PulseTrain, Repeat, Sampling, Sweep
from labqc.instruments.tsp_loop import loops_natively, plan_repeat, repeat_chunks
from labqc.instruments.tsp_messages import lua_function
from labqc.units import G0

from k2614b_messages import INIT, OFF

ABORT = ("smua.abort() smua.source.output = smua.OUTPUT_OFF", None)
CHECKPOINT = ("waitcomplete() print(errorqueue.count)", "0.00000000e+00")

PULSE = PulseTrain.uniform(1.5, 1, width=5e-3, period=10e-3, compliance=5e-3)
READ = Sweep([0.4], compliance=1e-3, step_time=0.01)

# What one (pulse, read) repetition leaves on the instrument: appending buffers, the two
# tables, one function per step (limits first), _H (on only with an empty error queue,
# off after each step) and the loop _R.
SETUP = [
    ("smua.nvbuffer1.clear() smua.nvbuffer1.appendmode = 1 smua.nvbuffer1.collecttimestamps = 1 "
     "smua.nvbuffer1.collectsourcevalues = 1 smua.nvbuffer2.clear() smua.nvbuffer2.appendmode = 1 "
     "smua.nvbuffer2.collecttimestamps = 0 smua.nvbuffer2.collectsourcevalues = 0", None),
    ("_L_1 = {1.5}", None),
    ("_L_2 = {0.4}", None),
    # _S1 is longer than one message may be (tsp_format.MAX_MESSAGE_BYTES): two parts and a caller
    ("function _S1_1() smua.source.func = smua.OUTPUT_DCVOLTS smua.source.limiti = 0.005 "
     "smua.source.autorangev = smua.AUTORANGE_OFF smua.source.rangev = 2 smua.source.levelv = 0 "
     "smua.source.delay = 0 smua.measure.autozero = smua.AUTOZERO_ONCE smua.measure.nplc = 0.01 "
     "smua.measure.autorangei = smua.AUTORANGE_OFF smua.measure.rangei = 0.01 smua.measure.delay = 0 "
     "smua.trigger.source.listv(_L_1) smua.trigger.source.limiti = 0.005 smua.trigger.source.action = smua.ENABLE "
     "smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2) smua.trigger.measure.action = smua.ENABLE "
     "smua.trigger.endpulse.action = smua.SOURCE_IDLE smua.trigger.endsweep.action = smua.SOURCE_IDLE "
     "smua.trigger.arm.count = 1 smua.trigger.count = 1 "
     "trigger.timer[1].reset() trigger.timer[1].delay = 0.01 trigger.timer[1].count = 1 "
     "trigger.timer[1].passthrough = true trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID end", None),
    ("function _S1_2() trigger.timer[2].reset() trigger.timer[2].delay = 0.00477333333 trigger.timer[2].count = 1 "
     "trigger.timer[2].passthrough = false trigger.timer[2].stimulus = trigger.timer[1].EVENT_ID "
     "trigger.timer[3].reset() trigger.timer[3].delay = 0.005 trigger.timer[3].count = 1 "
     "trigger.timer[3].passthrough = false trigger.timer[3].stimulus = trigger.timer[1].EVENT_ID "
     "smua.trigger.source.stimulus = trigger.timer[1].EVENT_ID smua.trigger.measure.stimulus = "
     "trigger.timer[2].EVENT_ID smua.trigger.endpulse.stimulus = trigger.timer[3].EVENT_ID end", None),
    ("function _S1() _S1_1() _S1_2() end", None),
    ("function _S2() smua.source.func = smua.OUTPUT_DCVOLTS smua.source.limiti = 0.001 "
     "smua.source.autorangev = smua.AUTORANGE_OFF smua.source.rangev = 2 smua.source.levelv = 0 "
     "smua.source.delay = 0 smua.measure.autozero = smua.AUTOZERO_ONCE smua.measure.nplc = 0.01 "
     "smua.measure.autorangei = smua.AUTORANGE_ON smua.measure.delay = 0.00973333333 "
     "smua.trigger.source.listv(_L_2) smua.trigger.source.limiti = 0.001 smua.trigger.source.action = smua.ENABLE "
     "smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2) smua.trigger.measure.action = smua.ENABLE "
     "smua.trigger.endpulse.action = smua.SOURCE_HOLD smua.trigger.endsweep.action = smua.SOURCE_IDLE "
     "smua.trigger.arm.count = 1 smua.trigger.count = 1 "
     "trigger.timer[1].reset() trigger.timer[1].delay = 0.01 trigger.timer[1].count = 1 "
     "trigger.timer[1].passthrough = true trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID "
     "smua.trigger.source.stimulus = trigger.timer[1].EVENT_ID smua.trigger.measure.stimulus = 0 "
     "smua.trigger.endpulse.stimulus = 0 end", None),
    ("function _H(f) f() if errorqueue.count > 0 then return false end smua.source.output = smua.OUTPUT_ON "
     "smua.trigger.initiate() waitcomplete() smua.source.output = smua.OUTPUT_OFF return true end", None),
    ("function _R(n, fresh) if fresh == 1 then smua.nvbuffer1.clear() smua.nvbuffer2.clear() end "
     "for k = 1, n do if not (_H(_S1) and _H(_S2)) then return end end end", None),
]


def loop(n, fresh):
    """The loop call: even a Lua error inside it leaves the output off on the instrument."""
    return f"if not pcall(_R, {n}, {fresh}) then smua.abort() end smua.source.output = smua.OUTPUT_OFF"


def fetch(a, b):
    """The chunk's status-then-readings query."""
    return ("print(errorqueue.count) if errorqueue.count == 0 then format.data = format.REAL64 "
            "format.byteorder = format.SWAPPED "
            f"printbuffer({a}, {b}, smua.nvbuffer1.timestamps, smua.nvbuffer1.sourcevalues, "
            "smua.nvbuffer2.readings, smua.nvbuffer1.readings, smua.nvbuffer1.statuses) "
            "format.data = format.ASCII end")


def block(rows):
    return b"#0" + np.asarray(rows, dtype="<f8").tobytes() + b"\n"


def cycle_rows(n, first=0):
    """Buffer rows of n (pulse, read) repetitions: ts, source, v, i, status."""
    rows = []
    for k in range(first, first + n):
        rows += [[0.02 * k, 1.5, 1.5, 5e-3, 0x40], [0.02 * k + 0.01, 0.4, 0.4, 4e-5, 0]]
    return rows


# --- protocol -------------------------------------------------------------------------------
def test_repeat_is_one_loop_on_the_instrument_byte_exact():
    pairs = INIT + SETUP + [(loop(3, 1), None), (fetch(1, 6), "0.00000000e+00"),
                            (None, block(cycle_rows(3))), CHECKPOINT, OFF]
    with expected_protocol(Keithley2614B, pairs) as smu:
        chunks = list(smu.run(Repeat((PULSE, READ), count=3)))
    assert len(chunks) == 1
    r = chunks[0]
    assert list(r["kind"]) == [KIND_PULSE, KIND_POINT] * 3 and list(r["index"]) == [0, 0] * 3
    assert list(r["compliance"]) == [True, False] * 3  # status bit 0x40 per reading
    assert r["source"] == pytest.approx([1.5, 0.4] * 3)
    assert r["t"] == pytest.approx(0.005 + 0.01 * np.arange(6))  # instrument spacing from the first pulse


def test_long_repeat_streams_chunks_of_half_a_second_from_one_buffer():
    # 0.02 s per repetition: 25 repetitions (50 readings) per chunk, the buffer kept between chunks
    pairs = INIT + SETUP + [
        (loop(25, 1), None), (fetch(1, 50), "0"), (None, block(cycle_rows(25))),
        (loop(5, 0), None), (fetch(51, 60), "0"), (None, block(cycle_rows(5, first=25))),
        CHECKPOINT, OFF]
    with expected_protocol(Keithley2614B, pairs) as smu:
        chunks = list(smu.run(Repeat((PULSE, READ), count=30)))
    assert [len(c) for c in chunks] == [50, 10]
    t = np.concatenate([c["t"] for c in chunks])
    assert np.diff(t) == pytest.approx(np.full(59, 0.01))  # one time line across chunks


def test_buffer_refills_are_chunk_boundaries_that_empty_the_buffer():
    with expected_protocol(Keithley2614B, INIT) as smu:
        request = Repeat((PULSE, READ), count=45)
        chunks = repeat_chunks(request, plan_repeat(request, smu.capabilities), buffer_points=40)
    assert chunks == [(0, 20, True), (20, 20, True), (40, 5, True)]


def test_an_error_in_the_loop_stops_it_and_raises_the_instrument_error():
    pairs = INIT + SETUP + [
        (loop(3, 1), None), (fetch(1, 6), "1.00000000e+00"),
        ("print(errorqueue.next())", "5.04200000e+03\tReading buffer full\t2.00000000e+01\t1.00000000e+00"),
        ABORT, OFF]
    with expected_protocol(Keithley2614B, pairs) as smu:
        with pytest.raises(InstrumentReportedError, match="buffer full"):
            list(smu.run(Repeat((PULSE, READ), count=3)))


def test_stopping_after_a_chunk_aborts_and_turns_off():
    pairs = INIT + SETUP + [(loop(25, 1), None), (fetch(1, 50), "0"), (None, block(cycle_rows(25))), ABORT, OFF]
    with expected_protocol(Keithley2614B, pairs) as smu:
        stream = smu.run(Repeat((PULSE, READ), count=1000))
        assert len(next(stream)) == 50
        stream.close()


@pytest.mark.parametrize("request_, limit", [
    (Repeat((PULSE, Sweep([0.4], compliance=5.0)), count=2), "compliance 5 A exceeds"),
    (Repeat((PulseTrain.uniform(1.0, 1, width=2e-4, period=1e-3, compliance=1e-3, nplc=1.0),), 2), "too short"),
    (Repeat((PULSE, READ), count=0), "count of 0"),
    (Repeat((), count=3), "at least one step"),
    (Repeat((Repeat((READ,), 2),), 2), "must be a Sweep, PulseTrain or Sampling"),
])
def test_repeats_beyond_capabilities_are_refused_before_anything_is_sent(request_, limit):
    with expected_protocol(Keithley2614B, INIT) as smu:  # no message beyond the connect
        with pytest.raises(CapabilityError, match=limit):
            list(smu.run(request_))


def test_long_step_bodies_are_split_into_functions_that_fit_a_message():
    body = [f"x{k} = {k}" + " " * 90 for k in range(100)]
    messages = lua_function("_S1", body, max_bytes=1000)
    assert all(len(m) <= 1000 for m in messages) and len(messages) > 2
    assert messages[-1].startswith("function _S1() _S1_1() _S1_2()")


# --- on the simulated 2614B -----------------------------------------------------------------
SET = PulseTrain.uniform(2.5, 1, width=20e-3, period=40e-3, compliance=5e-3)
RESET = PulseTrain.uniform(-2.5, 1, width=20e-3, period=40e-3, compliance=10e-3)
LRS_READ = Sweep([0.4], compliance=1e-3, nplc=1.0, step_time=0.04)


def open_2614b(preset="bfo", seed=1, faults=""):
    spec = sim_library(preset, seed, faults=faults)
    lab = get_lab(spec)
    lab.reset()
    return open_smu(RES_2614B_GPIB, visa_library=spec, timeout=5.0), lab


def outputs_on(lab, resource=RES_2614B_GPIB):
    return any(lab.emulator(resource).outputs_on().values())


def test_loop_has_the_same_physics_as_request_by_request(request):
    cycles = 8
    smu, lab = open_2614b()
    with smu:
        looped = np.concatenate(list(smu.run(Repeat((SET, LRS_READ, RESET, LRS_READ), cycles))))
        messages = smu.tsp.messages
    assert not outputs_on(lab)
    smu, lab = open_2614b()  # the same device, fresh
    with smu:
        single = []
        for _ in range(cycles):
            for step in (SET, LRS_READ, RESET, LRS_READ):
                single += list(smu.run(step))
        single = np.concatenate(single)
        assert smu.tsp.messages > 4 * messages  # the loop needs a fraction of the messages
    assert len(looped) == len(single) == 4 * cycles
    assert list(looped["kind"]) == list(single["kind"]) == [KIND_PULSE, KIND_POINT] * 2 * cycles
    g_loop, g_single = looped["i"] / looped["v"] / G0, single["i"] / single["v"] / G0
    reads = np.asarray(looped["kind"]) == KIND_POINT
    assert g_loop[reads] == pytest.approx(g_single[reads], rel=0.05)  # the same device, within its noise
    # pulse tops: within the bfo's pulse-to-pulse spread (4.5 % rms per pulse, independent draws)
    assert g_loop[~reads] == pytest.approx(g_single[~reads], rel=0.25)
    lrs, hrs = g_loop[1::4], g_loop[3::4]
    assert np.all(lrs / hrs > 10)  # every cycle switches
    set_i = looped["i"][0::4]
    assert np.all(set_i <= 5e-3 * 1.001)  # the SET limit holds on the pulse
    assert np.all(np.diff(looped["t"]) > 0)
    period = np.diff(looped["t"][0::4])  # instrument-timed: steady within the read's autorange
    assert np.ptp(period) < 1e-3 and 0.1 < period.mean() < SET.duration + RESET.duration + 2 * LRS_READ.duration


def test_each_step_keeps_its_own_limit_on_an_ohmic_device():
    # 10 kOhm: +2 V would be 200 uA; the first step's 50 uA limit clamps it, the second (1 mA) does not.
    smu, lab = open_2614b("ohmic", 26)
    low = PulseTrain.uniform(2.0, 1, width=5e-3, period=10e-3, compliance=50e-6)
    high = PulseTrain.uniform(2.0, 1, width=5e-3, period=10e-3, compliance=1e-3)
    with smu:
        r = np.concatenate(list(smu.run(Repeat((low, high), 6))))
    assert list(r["compliance"]) == [True, False] * 6
    assert r["i"][0::2] == pytest.approx(50e-6, rel=1e-3)
    assert r["i"][1::2] == pytest.approx(2.0 / 10e3, rel=1e-3)
    assert not outputs_on(lab)


def test_stopping_mid_batch_leaves_the_output_off_and_the_instrument_usable():
    smu, lab = open_2614b()
    with smu:
        stream = smu.run(Repeat((SET, LRS_READ, RESET, LRS_READ), 500))
        first = next(stream)
        stream.close()
        assert 0 < len(first) < 2000 and not outputs_on(lab)
        after = np.concatenate(list(smu.run(LRS_READ)))  # the next request runs normally
        assert len(after) == 1 and after["v"][0] == pytest.approx(0.4, abs=1e-3)
    assert not outputs_on(lab)


def test_buffer_refills_keep_every_reading_on_one_time_line():
    smu, lab = open_2614b("ohmic", 26)
    with smu:
        smu.capabilities = dataclasses.replace(smu.capabilities, extra={"buffer_points": 12})
        r = np.concatenate(list(smu.run(Repeat((PULSE, READ), 20))))
    assert len(r) == 40 and np.all(np.diff(r["t"]) > 0)
    assert r["v"] == pytest.approx([1.5, 0.4] * 20, abs=1e-6)


def test_a_fault_mid_batch_is_a_typed_error_with_the_output_off():
    request = Repeat((PULSE, READ), 60)  # chunks of 25 repetitions
    setup = len(SETUP)  # the (PULSE, READ) set-up written out above
    # Messages: connect (device clear is not one), 2; the set-up; then _R and its fetch per chunk.
    second_fetch = 2 + setup + 4
    smu, lab = open_2614b("ohmic", 26, faults={RES_2614B_GPIB: f"delay@{second_fetch}:30"})
    with smu:
        got = []
        with pytest.raises(InstrumentTimeout):
            for chunk in smu.run(request):
                got.append(chunk)
        assert len(got) == 1 and len(got[0]) == 50  # the first chunk arrived before the fault
    assert not outputs_on(lab)


def test_a_sampling_step_runs_request_by_request():
    smu, lab = open_2614b("ohmic", 26)
    with smu:
        assert not loops_natively(Repeat((READ, Sampling(0.2, 1e-3, [0.01, 0.02], nplc=0.01)), 2))
        r = np.concatenate(list(smu.run(Repeat((READ, Sampling(0.2, 1e-3, [0.01, 0.02], nplc=0.01)), 2))))
    assert r["v"] == pytest.approx([0.4, 0.2, 0.2] * 2, abs=1e-6)
    assert not outputs_on(lab)


# --- the generic fallback on the simulated 4200A --------------------------------------------
def test_4200a_runs_a_repeat_step_by_step_with_the_same_rows():
    spec = sim_library("bfo", 1)
    lab = get_lab(spec)
    lab.reset()
    with open_smu(SIM_4200A, visa_library=spec) as smu:
        r = np.concatenate(list(smu.run(Repeat((SET, LRS_READ, RESET, LRS_READ), 3))))
    assert len(r) == 12
    assert list(r["kind"]) == [KIND_PULSE, KIND_POINT] * 6 and list(r["index"]) == [0] * 12
    assert r["source"] == pytest.approx([2.5, 0.4, -2.5, 0.4] * 3)
    assert np.all(r["i"][0::4] <= 5e-3 * 1.001)
    assert np.all(np.diff(r["t"]) >= 0)
    assert not lab.emulator(SIM_4200A).any_output_on


def test_repeat_says_where_each_reading_belongs():
    with_reads = PulseTrain.uniform(1.0, 2, width=5e-3, period=20e-3, compliance=1e-3, read_level=0.1)
    r = Repeat([with_reads, READ], 3)  # 2 pulses + 2 reads, then 1 point: 5 per repetition
    assert r.per_repeat == 5 and r.points == 15
    assert r.duration == pytest.approx(3 * (0.04 + 0.01))
    repetition, step = r.locate(3, 6)
    assert repetition.tolist() == [0, 0, 1, 1, 1, 1] and step.tolist() == [0, 1, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="whole number"):
        Repeat([READ], 2.5)
