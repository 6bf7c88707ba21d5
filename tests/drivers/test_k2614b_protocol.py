"""Byte-exact protocol tests of the Keithley 2614B driver (pymeasure.test.expected_protocol).

Each test lists every message the driver must send and the instrument's reply, so a
reordered command (a limit after output on), a lost digit (1e-7 sent as 0.000000) or an
extra round trip fails here.
"""
from unittest.mock import PropertyMock

import lupa
import numpy as np
import pytest
from pymeasure.adapters import ProtocolAdapter
from pymeasure.test import expected_protocol
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from labqc.instruments.errors import (
    CapabilityError, ConnectionLost, InstrumentReportedError, InstrumentTimeout, ProtocolError,
)
from labqc.instruments.keithley2614b import Keithley2614B
from labqc.instruments.smu import KIND_POINT, KIND_PULSE, KIND_READ, PulseTrain, Sampling, Sweep
from labqc.instruments.tsp_capabilities import CAPABILITIES
from labqc.instruments.tsp_planner import (
    PATIENCE, PROGRAM_SECONDS, chunk_bounds, plan, plan_pulses, plan_sampling, program as program_of, range_for,
)
from labqc.instruments.tsp_format import (
    MAX_MESSAGE_BYTES, is_linear, lua_table, num, parse_error, parse_real64_block, real64_block_size,
)

from k2614b_messages import INIT, OFF

START = ("if errorqueue.count == 0 then smua.source.output = smua.OUTPUT_ON smua.trigger.initiate() end "
         "print(errorqueue.count) if errorqueue.count == 0 then if not pcall(_G) then smua.abort() end end "
         "waitcomplete() smua.source.output = smua.OUTPUT_OFF")
CHECKPOINT = "waitcomplete() print(errorqueue.count)"
BUFFERS = ("smua.nvbuffer1.clear() smua.nvbuffer1.appendmode = 0 smua.nvbuffer1.collecttimestamps = 1 "
           "smua.nvbuffer1.collectsourcevalues = 1 smua.nvbuffer2.clear() smua.nvbuffer2.appendmode = 0 "
           "smua.nvbuffer2.collecttimestamps = 0 smua.nvbuffer2.collectsourcevalues = 0")


def printbuffer(a, b):
    return ("format.data = format.REAL64 format.byteorder = format.SWAPPED "
            f"printbuffer({a}, {b}, smua.nvbuffer1.timestamps, smua.nvbuffer1.sourcevalues, "
            "smua.nvbuffer2.readings, smua.nvbuffer1.readings, smua.nvbuffer1.statuses) "
            "format.data = format.ASCII")


def program(calls, count="0", start=START):
    """The messages that leave one program on the instrument and run it: the chunk printer
    _P, the waiter _W, the body _G (these calls), and the start, whose reply is the error
    count; the program's own replies (blocks, wait lines) follow with no message."""
    helpers = ["function _P(a, b) " + printbuffer("a", "b") + " end",
               "function _W(d) delay(d) print(errorqueue.count) end",
               f"function _G() {' '.join(calls)} end"]
    return [(m, None) for m in helpers] + [(start, count)]


def block(rows):
    """A REAL64 little-endian printbuffer reply: #0, values interleaved per index, newline."""
    return b"#0" + np.asarray(rows, dtype="<f8").tobytes() + b"\n"


# --- number formatting and parsing ------------------------------------------------------
@pytest.mark.parametrize("value, text", [
    (1e-7, "1e-07"), (1.5e-6, "1.5e-06"), (100e-9, "1e-07"), (0.0, "0"), (200, "200"),
    (-1.25, "-1.25"), (0.1 + 0.2, "0.3"), (123456789.0, "123456789"), (1.23456789e-12, "1.23456789e-12"),
])
def test_numbers_keep_nanoamp_resolution(value, text):
    assert num(value) == text
    assert float(num(value)) == pytest.approx(value, rel=1e-9)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_numbers_refuse_non_finite(bad):
    with pytest.raises(ValueError, match="finite"):
        num(bad)


def test_long_lua_table_is_built_in_small_messages_that_lua_reassembles():
    values = np.round(np.sin(np.linspace(0, 20, 3001)) * 1.7, 7)
    messages = lua_table("_L", values)
    assert len(messages) > 5
    assert all(len(m) <= MAX_MESSAGE_BYTES for m in messages)
    lua = lupa.LuaRuntime()
    for m in messages:
        lua.execute(m)
    got = lua.eval("_L")
    assert len(got) == len(values)
    assert [got[k + 1] for k in range(len(values))] == pytest.approx(list(values), abs=0)


def test_short_lua_table_is_one_message():
    assert lua_table("_L", [0, 1e-7, -2]) == ["_L = {0, 1e-07, -2}"]


def test_linear_ramp_detection():
    assert is_linear(np.linspace(-1, 1, 101))
    assert not is_linear(np.r_[np.linspace(0, 1, 11), np.linspace(0.9, 0, 10)])
    assert not is_linear(np.full(10, 0.5))  # zero step: sent as a list


def test_real64_block_with_newline_bytes_in_payload():
    rows = np.array([[0.0, 0.1, 0.1, 1e-5, 0], [0.01, 10.0 ** -303, 0.2, 9.91e37, 64]])
    raw = block(rows)
    data = parse_real64_block(raw, 5)
    assert data[0] == pytest.approx(rows[0])
    assert np.isnan(data[1, 3])  # overflow reads as NaN
    assert len(raw) == real64_block_size(10)


def test_real64_payload_containing_0x0a_parses():
    value = np.frombuffer(b"\n" * 8, "<f8")[0]
    data = parse_real64_block(block([[value] * 5]), 5)
    assert data[0, 0] == value


@pytest.mark.parametrize("raw", [b"1.0e-06\n", b"#0" + b"\0" * 12 + b"\n", b"#0" + b"\0" * 40])
def test_bad_binary_blocks_are_protocol_errors(raw):
    with pytest.raises(ProtocolError):
        parse_real64_block(raw, 5)


def test_error_entry_parsing():
    assert parse_error("-2.85000000e+02\tProgram syntax (line 1)\t2.00000000e+01\t1.00000000e+00") == (
        -285, "Program syntax (line 1)")
    assert parse_error("0.00000e+00\tQueue Is Empty\t0.00000e+00\t1.00000e+00")[0] == 0
    with pytest.raises(ProtocolError):
        parse_error("garbage")


def test_chunks_cover_half_a_second_and_at_least_one_reading():
    fast = chunk_bounds(1e-3 * np.arange(1, 10_001))
    assert fast[0] == (0, 500) and fast[-1][1] == 10_000 and len(fast) == 20
    slow = chunk_bounds(2.0 * np.arange(1, 6))
    assert slow == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    assert len(chunk_bounds(1e-5 * np.arange(1, 20_001))) == 4  # capped at 5000 readings


def test_range_choice():
    assert range_for(1.0, (0.2, 2.0, 20.0, 200.0)) == 2.0
    assert range_for(2.0, (0.2, 2.0, 20.0, 200.0)) == 2.0
    assert range_for(1e-4, (1e-7, 1e-6, 1e-5, 1e-4, 1e-3)) == 1e-4


# --- connect ----------------------------------------------------------------------------
def test_connect_quiets_the_interpreter_and_reads_identity():
    with expected_protocol(Keithley2614B, INIT) as smu:
        assert smu.identity == "Keithley Instruments Inc., Model 2614B, 4390123, 3.2.2"
        assert smu.linefreq == 60.0
        assert smu.tsp.adapter.connection.clear.called  # a stale reply from a past session is dropped


def test_without_visa_device_clear_pending_replies_are_drained_instead():
    """NI-VISA refuses viClear on some raw sockets: connect still works, by reading the
    stale replies away until the line is quiet."""
    adapter = ProtocolAdapter(list(INIT))
    adapter.connection.clear.side_effect = VisaIOError(StatusCode.error_nonsupported_operation)
    adapter.connection.read_raw.side_effect = [b"stale 1\n", b"stale 2\n", VisaIOError(StatusCode.error_timeout)]
    smu = Keithley2614B(adapter)
    assert smu.identity.startswith("Keithley") and adapter.connection.read_raw.call_count == 3
    assert adapter.connection.timeout == 10_000  # the default again after the short drain timeout


def test_connect_refuses_a_nonsense_line_frequency():
    with pytest.raises(ProtocolError, match="line frequency"):
        with expected_protocol(Keithley2614B, [(INIT[0][0], "TSP>")]):
            pass


def test_channel_b():
    with expected_protocol(Keithley2614B, INIT + [("smub.abort() smub.source.output = smub.OUTPUT_OFF", None)],
                           channel="b") as smu:
        smu.abort()


# --- sweep --------------------------------------------------------------------------------
SWEEP_SETUP = [
    ("smua.source.func = smua.OUTPUT_DCVOLTS smua.source.limiti = 1e-07 smua.source.autorangev = "
     "smua.AUTORANGE_OFF smua.source.rangev = 2 smua.source.levelv = 0 smua.source.delay = 0", None),
    ("smua.measure.autozero = smua.AUTOZERO_ONCE smua.measure.nplc = 0.01 smua.measure.autorangei = "
     "smua.AUTORANGE_ON smua.measure.delay = 0.00973333333", None),
    (BUFFERS, None),
    ("_L = {0.1, 1, -0.5}", None),
    ("smua.trigger.source.listv(_L) smua.trigger.source.limiti = 1e-07 smua.trigger.source.action = smua.ENABLE "
     "smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2) smua.trigger.measure.action = smua.ENABLE "
     "smua.trigger.endpulse.action = smua.SOURCE_HOLD smua.trigger.endsweep.action = smua.SOURCE_IDLE "
     "smua.trigger.arm.count = 1 smua.trigger.count = 3", None),
    ("trigger.timer[1].reset() trigger.timer[1].delay = 0.01 trigger.timer[1].count = 2 "
     "trigger.timer[1].passthrough = true trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID", None),
    ("smua.trigger.source.stimulus = trigger.timer[1].EVENT_ID smua.trigger.measure.stimulus = 0 "
     "smua.trigger.endpulse.stimulus = 0", None),
]
SWEEP_ROWS = [[5.0, 0.1, 0.1, 1e-8, 0], [5.01, 1.0, 1.0, 1e-7, 0x40 | 0x04], [5.02, -0.5, -0.5, -5e-8, 0]]


def test_voltage_list_sweep_is_byte_exact_and_streams_readings():
    pairs = INIT + SWEEP_SETUP + program(["_P(1, 3)"]) + [(None, block(SWEEP_ROWS)),
                                                          (CHECKPOINT, "0.00000000e+00"), OFF]
    with expected_protocol(Keithley2614B, pairs) as smu:
        chunks = list(smu.run(Sweep([0.1, 1.0, -0.5], compliance=1e-7, step_time=0.01)))
    assert len(chunks) == 1
    r = chunks[0]
    assert r["source"] == pytest.approx([0.1, 1.0, -0.5])
    assert r["i"] == pytest.approx([1e-8, 1e-7, -5e-8])
    assert list(r["compliance"]) == [False, True, False]  # status bit 0x40
    assert r["t"] == pytest.approx([0.01, 0.02, 0.03])  # session time line, instrument spacing
    assert list(r["index"]) == [0, 1, 2] and set(r["kind"]) == {KIND_POINT}


def test_compliance_is_set_before_the_output_turns_on():
    sent = [m for m, _ in SWEEP_SETUP] + [START]
    on = next(k for k, m in enumerate(sent) if "OUTPUT_ON" in m)
    limits = [k for k, m in enumerate(sent) if "limiti = 1e-07" in m]
    assert len(limits) == 2 and max(limits) < on
    assert "if errorqueue.count == 0 then" in sent[on]  # on only if every setting was accepted


def test_linear_current_sweep_uses_lineari_and_voltage_limit():
    setup = [
        ("smua.source.func = smua.OUTPUT_DCAMPS smua.source.limitv = 2 smua.source.autorangei = "
         "smua.AUTORANGE_OFF smua.source.rangei = 1e-06 smua.source.leveli = 0 smua.source.delay = 0", None),
        ("smua.measure.autozero = smua.AUTOZERO_ONCE smua.measure.nplc = 0.001 smua.measure.autorangev = "
         "smua.AUTORANGE_OFF smua.measure.rangev = 2 smua.measure.delay = 0.000883333333", None),
        (BUFFERS, None),
        ("smua.trigger.source.lineari(0, 1e-06, 5) smua.trigger.source.limitv = 2 smua.trigger.source.action = "
         "smua.ENABLE smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2) smua.trigger.measure.action = "
         "smua.ENABLE smua.trigger.endpulse.action = smua.SOURCE_HOLD smua.trigger.endsweep.action = "
         "smua.SOURCE_IDLE smua.trigger.arm.count = 1 smua.trigger.count = 5", None),
        ("trigger.timer[1].reset() trigger.timer[1].delay = 0.001 trigger.timer[1].count = 4 "
         "trigger.timer[1].passthrough = true trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID", None),
        ("smua.trigger.source.stimulus = trigger.timer[1].EVENT_ID smua.trigger.measure.stimulus = 0 "
         "smua.trigger.endpulse.stimulus = 0", None),
    ]
    rows = [[k * 1e-3, k * 2.5e-7, k * 0.25, k * 2.5e-7, 0] for k in range(5)]
    pairs = INIT + setup + program(["_P(1, 5)"]) + [(None, block(rows)), (CHECKPOINT, "0"), OFF]
    with expected_protocol(Keithley2614B, pairs) as smu:
        (r,) = list(smu.run(Sweep(np.linspace(0, 1e-6, 5), compliance=2.0, source="I", step_time=1e-3,
                                  nplc=0.001, measure_range=2.0)))
    assert r["v"] == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])


def test_long_sweep_streams_in_chunks_with_a_timeout_per_chunk():
    n = 1200
    levels = np.r_[np.linspace(0, 1, n // 2), np.linspace(1, 0, n // 2)]
    # NPLC 0.01 at 60 Hz: 166.7 us + 100 us overhead, so measure.delay = 1 ms - 266.7 us.
    setup = [
        "smua.source.func = smua.OUTPUT_DCVOLTS smua.source.limiti = 0.0001 smua.source.autorangev = "
        "smua.AUTORANGE_OFF smua.source.rangev = 2 smua.source.levelv = 0 smua.source.delay = 0",
        "smua.measure.autozero = smua.AUTOZERO_ONCE smua.measure.nplc = 0.01 smua.measure.autorangei = "
        "smua.AUTORANGE_ON smua.measure.delay = 0.000733333333",
        BUFFERS,
        *lua_table("_L", levels),  # tested above: Lua rebuilds the values from these messages
        "smua.trigger.source.listv(_L) smua.trigger.source.limiti = 0.0001 smua.trigger.source.action = smua.ENABLE "
        "smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2) smua.trigger.measure.action = smua.ENABLE "
        "smua.trigger.endpulse.action = smua.SOURCE_HOLD smua.trigger.endsweep.action = smua.SOURCE_IDLE "
        "smua.trigger.arm.count = 1 smua.trigger.count = 1200",
        "trigger.timer[1].reset() trigger.timer[1].delay = 0.001 trigger.timer[1].count = 1199 "
        "trigger.timer[1].passthrough = true trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID",
        "smua.trigger.source.stimulus = trigger.timer[1].EVENT_ID smua.trigger.measure.stimulus = 0 "
        "smua.trigger.endpulse.stimulus = 0",
    ]
    pairs = INIT + [(m, None) for m in setup] + program(["_P(1, 500)", "_P(501, 1000)", "_P(1001, 1200)"])
    for a, b in ((1, 500), (501, 1000), (1001, 1200)):
        rows = [[k * 1e-3, levels[k - 1], levels[k - 1], 1e-6, 0] for k in range(a, b + 1)]
        pairs.append((None, block(rows)))
    pairs += [(CHECKPOINT, "0"), OFF]
    with expected_protocol(Keithley2614B, pairs) as smu:
        timeout, termination = PropertyMock(return_value=10_000), PropertyMock(return_value="\n")
        connection = type(smu.tsp.adapter.connection)  # MagicMock: a class of its own
        connection.timeout, connection.read_termination = timeout, termination
        sizes = [len(chunk) for chunk in smu.run(Sweep(levels, 1e-4, step_time=1e-3))]
    assert sizes == [500, 500, 200]
    # 2 x the chunk's instrument time + 5 s for each blocking read, then the default again
    assert [c.args[0] for c in timeout.call_args_list if c.args] == [6000, 10_000, 6000, 10_000, 5400, 10_000,
                                                                      3000, 10_000]  # the outputs-off read-back
    # the termination character is off while a binary block is read, on again after
    assert [c.args[0] for c in termination.call_args_list if c.args] == [None, "\n"] * 3
    assert sum("_L" in m for m in setup) >= 3  # 1200 levels went out in several messages


# --- pulses ---------------------------------------------------------------------------------
def test_pulse_train_with_reads_byte_exact():
    train = PulseTrain([1.5, -1.2], width=1e-3, period=5e-3, compliance=1e-4, read_levels=[0.1, 0.2],
                       read_width=2e-3)
    setup = [
        "smua.source.func = smua.OUTPUT_DCVOLTS smua.source.limiti = 0.0001 smua.source.autorangev = "
        "smua.AUTORANGE_OFF smua.source.rangev = 2 smua.source.levelv = 0 smua.source.delay = 0",
        "smua.measure.autozero = smua.AUTOZERO_ONCE smua.measure.nplc = 0.01 smua.measure.autorangei = "
        "smua.AUTORANGE_OFF smua.measure.rangei = 0.0001 smua.measure.delay = 0",
        BUFFERS,
        "_L = {1.5, 0.1, -1.2, 0.2}",
        "smua.trigger.source.listv(_L) smua.trigger.source.limiti = 0.0001 smua.trigger.source.action = "
        "smua.ENABLE smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2) smua.trigger.measure.action = "
        "smua.ENABLE smua.trigger.endpulse.action = smua.SOURCE_IDLE smua.trigger.endsweep.action = "
        "smua.SOURCE_IDLE smua.trigger.arm.count = 1 smua.trigger.count = 4",
        "_D1 = {0.001, 0.004}",
        "trigger.timer[1].reset() trigger.timer[1].delaylist = _D1 trigger.timer[1].count = 3 "
        "trigger.timer[1].passthrough = true trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID",
        "trigger.timer[4].reset() trigger.timer[4].delay = 0.000773333333 trigger.timer[4].count = 1 "
        "trigger.timer[4].passthrough = false trigger.timer[4].stimulus = smua.trigger.ARMED_EVENT_ID",
        "_D2 = {0.002, 0.003}",
        "trigger.timer[2].reset() trigger.timer[2].delaylist = _D2 trigger.timer[2].count = 3 "
        "trigger.timer[2].passthrough = true trigger.timer[2].stimulus = trigger.timer[4].EVENT_ID",
        "trigger.timer[5].reset() trigger.timer[5].delay = 0.001 trigger.timer[5].count = 1 "
        "trigger.timer[5].passthrough = false trigger.timer[5].stimulus = smua.trigger.ARMED_EVENT_ID",
        "_D3 = {0.002, 0.003}",
        "trigger.timer[3].reset() trigger.timer[3].delaylist = _D3 trigger.timer[3].count = 3 "
        "trigger.timer[3].passthrough = true trigger.timer[3].stimulus = trigger.timer[5].EVENT_ID",
        "smua.trigger.source.stimulus = trigger.timer[1].EVENT_ID smua.trigger.measure.stimulus = "
        "trigger.timer[2].EVENT_ID smua.trigger.endpulse.stimulus = trigger.timer[3].EVENT_ID",
    ]
    rows = [[0.0, 1.5, 1.45, 1e-4, 0x40], [0.001, 0.1, 0.1, 1e-5, 0],
            [0.005, -1.2, -1.2, -1e-6, 0], [0.006, 0.2, 0.2, 2e-5, 0]]
    pairs = INIT + [(m, None) for m in setup] + program(["_P(1, 4)"]) + [(None, block(rows)),
                                                                         (CHECKPOINT, "0"), OFF]
    with expected_protocol(Keithley2614B, pairs) as smu:
        (r,) = list(smu.run(train))
    assert list(r["kind"]) == [KIND_PULSE, KIND_READ, KIND_PULSE, KIND_READ]
    assert list(r["index"]) == [0, 0, 1, 1]
    assert list(r["compliance"]) == [True, False, False, False]
    assert r["t"] == pytest.approx([0.001, 0.002, 0.006, 0.007])


def test_uniform_pulses_use_single_delays_and_fixed_ranges():
    setup = plan_pulses(PulseTrain.uniform(1.5, 500, width=5e-3, period=20e-3, compliance=1e-3), CAPABILITIES).setup
    text = " ".join(setup)
    assert "smua.source.autorangev = smua.AUTORANGE_OFF" in text  # else error 5028
    assert "smua.measure.autorangei = smua.AUTORANGE_OFF smua.measure.rangei = 0.001" in text
    assert "trigger.timer[1].delay = 0.02 trigger.timer[1].count = 499" in text
    assert "trigger.timer[2].delay = 0.00477333333" in text  # width - NPLC/linefreq - 60 us
    assert "trigger.timer[3].delay = 0.005" in text
    assert "delaylist" not in text


# --- sampling -----------------------------------------------------------------------------
HOLD = START.replace(" smua.trigger.initiate()", "")  # a program that only holds the bias


SAMPLING_SOURCE = [  # once, before the first program: 0.1 V on the 0.2 V range, NPLC 1
    "smua.source.func = smua.OUTPUT_DCVOLTS smua.source.limiti = 0.0001 smua.source.autorangev = "
    "smua.AUTORANGE_OFF smua.source.rangev = 0.2 smua.source.levelv = 0.1 smua.source.delay = 0",
    "smua.measure.autozero = smua.AUTOZERO_ONCE smua.measure.nplc = 1 smua.measure.autorangei = "
    "smua.AUTORANGE_ON smua.measure.delay = 0",
]


P_AND_W = ["function _P(a, b) " + printbuffer("a", "b") + " end",
           "function _W(d) delay(d) print(errorqueue.count) end"]


def sampling_program(delay, calls, rows, first=False, count=1):
    """One Sampling program of ``count`` readings ``delay`` s apart from its start (timer 1,
    no source action: the bias is held), its body ``calls``, and its replies: the start's
    error count, a line per _W, a block per _P (``rows``: one reading's row each).
    A retention sends one program per 5 s for hours, so its set-up and helpers go out
    joined into messages of at most 1000 bytes, and _P and _W only with the first program."""
    buffers_and_trigger = [
        BUFFERS,
        "smua.trigger.source.action = smua.DISABLE smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2) "
        "smua.trigger.measure.action = smua.ENABLE smua.trigger.endpulse.action = smua.SOURCE_HOLD "
        f"smua.trigger.endsweep.action = smua.SOURCE_HOLD smua.trigger.arm.count = 1 smua.trigger.count = {count}",
    ]
    timer_and_stimuli = [
        f"trigger.timer[1].reset() trigger.timer[1].delay = {delay} trigger.timer[1].count = {count} "
        "trigger.timer[1].passthrough = false trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID",
        "smua.trigger.source.stimulus = 0 smua.trigger.measure.stimulus = trigger.timer[1].EVENT_ID "
        "smua.trigger.endpulse.stimulus = 0",
    ]
    body = f"function _G() {' '.join(calls)} end"
    if first:  # 858 bytes, then 636
        messages = [" ".join(SAMPLING_SOURCE + buffers_and_trigger), " ".join(timer_and_stimuli + P_AND_W + [body])]
    else:  # 886 bytes
        messages = [" ".join(buffers_and_trigger + timer_and_stimuli + [body])]
    rows = iter(rows)
    replies = [(None, "0") if c.startswith("_W") else (None, block([next(rows)])) for c in calls]
    return [(m, None) for m in messages] + [(START, "0")] + replies


def hold_program():
    """A program that only holds the bias for PROGRAM_SECONDS (5 s), a line every second."""
    return [("function _G() _W(1) _W(1) _W(1) _W(1) _W(1) end", None), (HOLD, "0")] + [(None, "0")] * 5


def test_sampling_is_cut_into_programs_of_bounded_length_each_ending_off():
    request = Sampling(0.1, 1e-4, [1.0, 10.0, 100.0])
    blocks = plan(request, CAPABILITIES)
    programs = [program_of(b) for b in blocks]
    # Three readings; the gaps are held by programs of at most PROGRAM_SECONDS each.
    assert [len(b.instants) for b in blocks if not b.hold] == [1, 1, 1]
    assert all(b.hold <= PROGRAM_SECONDS for b in blocks)
    assert sum(b.hold for b in blocks) + sum(b.instants.sum() for b in blocks) == pytest.approx(100.0)
    assert all(b.instants.max(initial=0) <= PROGRAM_SECONDS for b in blocks)
    for messages, _ in programs:  # each program ends with the output off, on the instrument
        assert messages[-1].endswith("waitcomplete() smua.source.output = smua.OUTPUT_OFF")
        assert "pcall(_G)" in messages[-1]
    assert programs[1][0][-1] == HOLD and programs[1][1] == [("wait", PATIENCE)] * round(PROGRAM_SECONDS / PATIENCE)

    # Written out: read at 1 s; hold 1..6 s; read at 10 s (4 s after its start, a line each
    # second before); 17 holds 10..95 s; read at 100 s (5 s after its start).
    row = lambda t: [[t, 0.1, 0.1, 1e-5, 0]]  # noqa: E731  (one reading's row)
    pairs = (INIT + sampling_program(1, ["_P(1, 1)"], row(7.0), first=True) + hold_program()
             + sampling_program(4, ["_W(1)"] * 3 + ["_P(1, 1)"], row(16.0)) + hold_program() * 17
             + sampling_program(5, ["_W(1)"] * 4 + ["_P(1, 1)"], row(106.0)) + [(CHECKPOINT, "0"), OFF])
    with expected_protocol(Keithley2614B, pairs) as smu:
        chunks = list(smu.run(request))
    assert [len(c) for c in chunks if len(c)] == [1, 1, 1]
    assert sum(len(c) == 0 for c in chunks) == 5 + 3 + 17 * 5 + 4  # a line each second: the caller may stop there
    assert np.concatenate(chunks)["t"] == pytest.approx([1.0, 10.0, 100.0])


def test_an_error_in_a_program_is_raised_at_the_end_of_the_request():
    request = Sampling(0.1, 1e-4, [1.0, 2.0])
    # Both readings in one program: timer 1 fires twice, 1 s apart; a chunk each.
    pairs = INIT + sampling_program(1, ["_P(1, 1)", "_P(2, 2)"], [[0.0, 0.1, 0.1, 1e-5, 0], [1.0, 0.1, 0.1, 1e-5, 0]],
                                    first=True, count=2)
    pairs += [(CHECKPOINT, "1.00000000e+00"),
              ("print(errorqueue.next())", "-2.86000000e+02\tTSP Runtime error: injected\t3.0e+01\t1.0e+00"),
              ("smua.abort() smua.source.output = smua.OUTPUT_OFF", None), OFF]
    with expected_protocol(Keithley2614B, pairs) as smu:
        with pytest.raises(InstrumentReportedError, match="-286"):
            list(smu.run(request))


def test_long_sampling_is_chained_in_programs_of_one_buffer_at_most():
    blocks = plan_sampling(Sampling.linear(0.1, 1e-4, interval=0.5, duration=6.0), CAPABILITIES, sample_block=4)
    assert [len(b.instants) for b in blocks] == [4, 4, 4]
    assert "smua.source.func" in blocks[0].setup[0] and not any("smua.source.func" in m for m in blocks[1].setup)
    assert [b.t_first for b in blocks] == [0.5, 2.5, 4.5]
    assert blocks[1].instants == pytest.approx([0.5, 1.0, 1.5, 2.0])


# --- spot read, abort, off ---------------------------------------------------------------------
SPOT_SETUP = ("smua.source.func = smua.OUTPUT_DCVOLTS smua.source.limiti = 1e-05 smua.source.autorangev = "
              "smua.AUTORANGE_ON smua.source.levelv = 0.1 smua.source.delay = 0 smua.measure.autozero = "
              "smua.AUTOZERO_ONCE smua.measure.nplc = 1 smua.measure.autorangei = smua.AUTORANGE_ON "
              "smua.measure.delay = 0")
SPOT = ("if errorqueue.count == 0 then smua.source.output = smua.OUTPUT_ON _i, _v = smua.measure.iv() "
        "_c = smua.source.compliance smua.source.output = smua.OUTPUT_OFF print(_i, _v, _c) "
        "else print(errorqueue.count) end")


@pytest.mark.parametrize("reply, compliance", [("1.00000000e-05\t9.99999000e-02\ttrue", True),
                                               ("2.50000000e-06\t1.00000000e-01\tfalse", False)])
def test_spot_read(reply, compliance):
    with expected_protocol(Keithley2614B, INIT + [(SPOT_SETUP, None), (SPOT, reply)]) as smu:
        r = smu.read(0.1, compliance=1e-5)
    assert r.shape == (1,) and r[0]["compliance"] == compliance
    assert r[0]["source"] == 0.1 and r[0]["i"] == float(reply.split("\t")[0])


def test_spot_read_refused_setting_raises_the_instrument_error_with_output_off():
    pairs = INIT + [(SPOT_SETUP, None), (SPOT, "1.00000000e+00"),
                    ("print(errorqueue.next())", "1.01100000e+03\tParameter too big\t2.00000000e+01\t1.00000000e+00"),
                    OFF]
    with expected_protocol(Keithley2614B, pairs) as smu:
        with pytest.raises(InstrumentReportedError) as err:
            smu.read(0.1, compliance=1e-5)
    assert err.value.code == 1011 and "Parameter too big" in str(err.value)


def test_spot_read_beyond_capabilities_sends_nothing():
    with expected_protocol(Keithley2614B, INIT) as smu:
        with pytest.raises(CapabilityError, match="200 V"):
            smu.read(250.0, compliance=1e-3)
        with pytest.raises(CapabilityError, match="NPLC"):
            smu.read(0.1, compliance=1e-3, nplc=50)


def test_abort_then_output_off():
    with expected_protocol(Keithley2614B, INIT + [("smua.abort() smua.source.output = smua.OUTPUT_OFF", None)]) as smu:
        smu.abort()


def test_output_off_turns_both_channels_off():
    with expected_protocol(Keithley2614B, INIT + [OFF, OFF]) as smu:
        smu.output_off()
        smu.output_off()  # safe twice


def test_output_off_retries_after_device_clear_when_the_reply_is_out_of_step():
    stale = "1.00000000e-05\t1.00000000e-01\tfalse"  # a late spot-read reply, not ours: skipped
    with expected_protocol(Keithley2614B, INIT + [(OFF[0], stale), (None, OFF[1])]) as smu:
        smu.tsp.adapter.connection.clear.reset_mock()
        smu.output_off()
        assert smu.tsp.adapter.connection.clear.call_count == 0


def test_output_off_clears_and_retries_when_the_read_back_is_not_off():
    with expected_protocol(Keithley2614B, INIT + [(OFF[0], "labqc-mark\t1.0\t0.0"), OFF]) as smu:
        smu.tsp.adapter.connection.clear.reset_mock()
        smu.output_off()
        assert smu.tsp.adapter.connection.clear.call_count == 1


def test_output_off_raises_connection_lost_when_it_cannot_confirm():
    with expected_protocol(Keithley2614B, INIT + [(OFF[0], "labqc-mark\t1.0\t0.0")] * 2) as smu:
        with pytest.raises(ConnectionLost, match="by hand"):
            smu.output_off()  # the third attempt needs a VISA resource to reopen: there is none


def test_breaking_out_of_a_sweep_aborts_and_turns_off():
    rows = [[0.0, 0.1, 0.1, 1e-6, 0]] * 500
    levels = np.linspace(0.1, 1, 1000)
    setup = [  # an even ramp: linearv, no table
        "smua.source.func = smua.OUTPUT_DCVOLTS smua.source.limiti = 0.0001 smua.source.autorangev = "
        "smua.AUTORANGE_OFF smua.source.rangev = 2 smua.source.levelv = 0 smua.source.delay = 0",
        "smua.measure.autozero = smua.AUTOZERO_ONCE smua.measure.nplc = 0.01 smua.measure.autorangei = "
        "smua.AUTORANGE_ON smua.measure.delay = 0.000733333333",
        BUFFERS,
        "smua.trigger.source.linearv(0.1, 1, 1000) smua.trigger.source.limiti = 0.0001 smua.trigger.source.action = "
        "smua.ENABLE smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2) smua.trigger.measure.action = "
        "smua.ENABLE smua.trigger.endpulse.action = smua.SOURCE_HOLD smua.trigger.endsweep.action = "
        "smua.SOURCE_IDLE smua.trigger.arm.count = 1 smua.trigger.count = 1000",
        "trigger.timer[1].reset() trigger.timer[1].delay = 0.001 trigger.timer[1].count = 999 "
        "trigger.timer[1].passthrough = true trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID",
        "smua.trigger.source.stimulus = trigger.timer[1].EVENT_ID smua.trigger.measure.stimulus = 0 "
        "smua.trigger.endpulse.stimulus = 0",
    ]
    rest = block([[0.5, 0.5, 0.5, 1e-6, 0]] * 500)  # what the program still prints: skipped
    pairs = INIT + [(m, None) for m in setup] + program(["_P(1, 500)", "_P(501, 1000)"]) + [
        (None, block(rows)),
        ("smua.abort() smua.source.output = smua.OUTPUT_OFF", None), (OFF[0], rest), (None, OFF[1])]
    with expected_protocol(Keithley2614B, pairs) as smu:
        stream = smu.run(Sweep(levels, 1e-4, step_time=1e-3))
        next(stream)
        stream.close()


# --- errors ----------------------------------------------------------------------------------------
def test_setup_error_keeps_output_off_and_raises_typed_error():
    """The start message turns the output on only if the queue is empty; here it is not."""
    pairs = INIT + SWEEP_SETUP + program(["_P(1, 3)"], count="2.00000000e+00") + [
        ("print(errorqueue.next())", "-2.85000000e+02\tProgram syntax (line 1)\t2.00000000e+01\t1.00000000e+00"),
        ("print(errorqueue.next())", "1.01100000e+03\tParameter too big\t2.00000000e+01\t1.00000000e+00"),
        ("smua.abort() smua.source.output = smua.OUTPUT_OFF", None), OFF]
    with expected_protocol(Keithley2614B, pairs) as smu:
        with pytest.raises(InstrumentReportedError) as err:
            list(smu.run(Sweep([0.1, 1.0, -0.5], compliance=1e-7, step_time=0.01)))
    assert err.value.code == -285 and "Parameter too big" in err.value.message


def test_error_at_the_checkpoint_is_raised_after_the_data():
    pairs = INIT + SWEEP_SETUP + [
        *program(["_P(1, 3)"]), (None, block(SWEEP_ROWS)), (CHECKPOINT, "1"),
        ("print(errorqueue.next())", "5.02800000e+03\tCannot perform requested operation while source "
                                     "autorange is enabled\t2.00000000e+01\t1.00000000e+00"),
        ("smua.abort() smua.source.output = smua.OUTPUT_OFF", None), OFF]
    got = []
    with expected_protocol(Keithley2614B, pairs) as smu:
        with pytest.raises(InstrumentReportedError, match="5028"):
            for chunk in smu.run(Sweep([0.1, 1.0, -0.5], compliance=1e-7, step_time=0.01)):
                got.append(chunk)
    assert len(got) == 1 and len(got[0]) == 3


def test_garbled_block_is_a_protocol_error_and_resynchronises():
    pairs = INIT + SWEEP_SETUP + [
        *program(["_P(1, 3)"]), (None, b"#0" + b"\x15#?~" * 30 + b"~"),  # right length, no terminator
        ("smua.abort() smua.source.output = smua.OUTPUT_OFF", None), OFF]
    with expected_protocol(Keithley2614B, pairs) as smu:
        smu.tsp.adapter.connection.clear.reset_mock()
        with pytest.raises(ProtocolError):
            list(smu.run(Sweep([0.1, 1.0, -0.5], compliance=1e-7, step_time=0.01)))
        assert smu.tsp.adapter.connection.clear.called


class TimeoutAdapter(ProtocolAdapter):
    """expected_protocol's adapter, plus a real VISA timeout where the reply is TIMEOUT."""

    def _read_bytes(self, count, break_on_termchar=False, **kwargs):
        if self._read_buffer is None and self.comm_pairs[self._index] == (None, "TIMEOUT"):
            self._index += 1
            raise VisaIOError(StatusCode.error_timeout)
        return super()._read_bytes(count, break_on_termchar, **kwargs)


def test_timeout_mid_stream_clears_drains_and_raises_typed_timeout():
    pairs = INIT + SWEEP_SETUP + [
        *program(["_P(1, 3)"]), (None, "TIMEOUT"),
        ("print(errorqueue.count)", "0.00000000e+00"),
        ("smua.abort() smua.source.output = smua.OUTPUT_OFF", None), OFF]
    adapter = TimeoutAdapter(pairs)
    smu = Keithley2614B(adapter)
    adapter.connection.clear.reset_mock()
    with pytest.raises(InstrumentTimeout, match="did not answer"):
        list(smu.run(Sweep([0.1, 1.0, -0.5], compliance=1e-7, step_time=0.01)))
    assert adapter.connection.clear.call_count == 1
    assert adapter._index == len(pairs)


def test_timeout_caused_by_a_lua_error_reports_that_error():
    pairs = INIT + [(SPOT_SETUP, None), (SPOT, None), (None, "TIMEOUT"),
                    ("print(errorqueue.count)", "1"),
                    ("print(errorqueue.next())", "-2.86000000e+02\tTSP Runtime error at line 1: attempt to "
                                                 "index field 'smub' (a nil value)\t3.0e+01\t1.0e+00"),
                    OFF]
    adapter = TimeoutAdapter(pairs)
    smu = Keithley2614B(adapter)
    with pytest.raises(InstrumentReportedError, match="-286"):
        smu.read(0.1, compliance=1e-5)
    assert adapter._index == len(pairs)


# --- capabilities ----------------------------------------------------------------------------------
@pytest.mark.parametrize("request_, limit", [
    (Sweep([0, 250.0], 1e-3), "200 V"),
    (Sweep(np.zeros(50_001), 1e-3), "maximum of 50000"),
    (Sweep([0, 1], 2.0), "1.5 A"),
    (Sweep([0, 1], 1e-9), "smallest limit"),
    (Sweep([0, 1], 1e-3, step_time=1e-3, nplc=1), "shorter than one reading"),
    (PulseTrain.uniform(1.0, 10, width=50e-6, period=1e-3, compliance=1e-3), "pulse width"),
    (PulseTrain.uniform(1.0, 10, width=200e-6, period=1e-3, compliance=1e-3, nplc=0.1), "too short to measure"),
    (PulseTrain.uniform(1.0, 30_000, width=1e-3, period=2e-3, compliance=1e-3), "30000 pulses"),
    (Sampling(0.1, 1e-4, [0.01, 0.02], nplc=1), "faster than one reading"),
])
def test_requests_beyond_capabilities_are_refused_before_anything_is_sent(request_, limit):
    with expected_protocol(Keithley2614B, INIT) as smu:
        with pytest.raises(CapabilityError, match=limit):
            list(smu.run(request_))


def test_a_dead_instrument_times_out_once_without_recursing():
    """The query times out, so does the error-queue read after the device clear: one
    InstrumentTimeout about the first message, two device clears, nothing else sent."""
    silence = [("print(errorqueue.count)", None), (None, "TIMEOUT")]
    adapter = TimeoutAdapter(INIT + [("print(1)", None), (None, "TIMEOUT"), *silence])
    smu = Keithley2614B(adapter)
    adapter.connection.clear.reset_mock()
    with pytest.raises(InstrumentTimeout, match="did not answer 'print\\(1\\)'"):
        smu.tsp.query("print(1)")
    assert adapter.connection.clear.call_count == 2
    assert adapter._index == len(adapter.comm_pairs)


def test_spot_read_on_a_dead_instrument_says_to_check_the_output_by_hand():
    silence = [("print(errorqueue.count)", None), (None, "TIMEOUT")]
    pairs = INIT + [(SPOT_SETUP, None), (SPOT, None), (None, "TIMEOUT"), *silence,
                    (OFF[0], None), (None, "TIMEOUT"),  # output_off, first try
                    (OFF[0], None), (None, "TIMEOUT")]  # after a device clear
    adapter = TimeoutAdapter(pairs)
    smu = Keithley2614B(adapter)
    with pytest.raises(ConnectionLost, match="check the instrument by hand") as err:
        smu.read(0.1, compliance=1e-5)
    assert isinstance(err.value.__context__, InstrumentTimeout)  # what happened first is kept
    assert adapter._index == len(pairs)
