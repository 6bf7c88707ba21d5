"""The simulated 2614B at the message level: reply formats, errors, scripts, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from tsp_helpers import ask, drain_errors, floats, make, next_error, send, text


@pytest.fixture
def emu():
    return make()[0]


# --- common commands and print ---------------------------------------------------------------
def test_idn_and_common_commands(emu):
    assert ask(emu, "*IDN?").data == b"Keithley Instruments Inc., Model 2614B, 4567890, 3.2.2\n"
    assert ask(emu, "*OPC?").data == b"1\n"
    assert ask(emu, "*ESR?").data == b"0\n"
    send(emu, "x = = 1")  # a command error
    assert ask(emu, "*STB?").data == b"4\n"  # error available
    assert ask(emu, "*ESR?").data == b"32\n"  # command error bit, cleared by reading
    assert ask(emu, "*ESR?").data == b"0\n"
    send(emu, "*CLS")
    assert text(emu, "print(errorqueue.count)") == "0.00000e+00"


def test_serial_and_linefreq_are_configurable():
    emu = make(serial="1234", linefreq=50)[0]
    assert text(emu, "*IDN?").endswith("Model 2614B, 1234, 3.2.2")
    assert text(emu, "print(localnode.model, localnode.linefreq, localnode.serialno)") == "2614B\t5.00000e+01\t1234"


def test_print_formats_numbers_booleans_nil_strings(emu):
    assert ask(emu, "print(1, 'a b', true, false, nil, -2.5e-7)").data == \
        b"1.00000e+00\ta b\ttrue\tfalse\tnil\t-2.50000e-07\n"
    assert text(emu, "print(smua.OUTPUT_DCVOLTS, smua.OUTPUT_DCAMPS, smua.OUTPUT_ON)") == \
        "1.00000e+00\t0.00000e+00\t1.00000e+00"
    send(emu, "format.asciiprecision = 3")
    assert text(emu, "print(1234.5678)") == "1.23e+03"
    send(emu, "format.asciiprecision = 10")
    assert text(emu, "print(1/3)") == "3.333333333e-01"
    assert ask(emu, "print()").data == b"\n"
    assert ask(emu, "print([[1]])").data == b"1\n"


def test_several_prints_give_several_replies(emu):
    emu.write(b"print(1) print(2)")
    assert emu.pop().data == b"1.00000e+00\n"
    assert emu.pop().data == b"2.00000e+00\n"
    assert emu.pop() is None


def test_multi_statement_lines_any_spacing_either_channel(emu):
    send(emu, "smua.source.levelv=0.2;smua.source.output=smua.OUTPUT_ON   smub.source.levelv =  1")
    assert text(emu, "print( smua.measure.i( ) )") == "2.00000e-04"
    assert text(emu, "local i, v = smua.measure.iv() print(i, v)") == "2.00000e-04\t2.00000e-01"
    assert emu.outputs_on() == {"smua": True, "smub": False}


def test_spot_measurements_on_a_resistor(emu):
    send(emu, "smua.source.levelv = 0.5 smua.source.output = 1")
    assert text(emu, "print(smua.measure.iv())") == "5.00000e-04\t5.00000e-01"  # i first
    assert text(emu, "print(smua.measure.r())") == "1.00000e+03"
    assert text(emu, "print(smua.measure.p())") == "2.50000e-04"
    send(emu, "smua.source.func = smua.OUTPUT_DCAMPS smua.source.leveli = 1e-4")
    assert text(emu, "print(smua.measure.v())") == "1.00000e-01"


def test_smub_is_open_circuit(emu):
    send(emu, "smub.source.levelv = 1 smub.source.output = smub.OUTPUT_ON")
    assert float(text(emu, "print(smub.measure.i())")) == pytest.approx(1e-15)
    send(emu, "smub.source.func = smub.OUTPUT_DCAMPS smub.source.limitv = 5 smub.source.leveli = 1e-6")
    assert text(emu, "print(smub.measure.v(), smub.source.compliance)") == "5.00000e+00\ttrue"
    assert emu.outputs_on() == {"smua": False, "smub": True}


def test_localnode_errorqueue_and_empty_queue_message(emu):
    assert ask(emu, "print(errorqueue.next())").data == b"0.00000e+00\tQueue Is Empty\t0.00000e+00\t1.00000e+00\n"
    send(emu, "bogus(")
    send(emu, "undefined_function()")
    assert text(emu, "print(errorqueue.count)") == "2.00000e+00"
    send(emu, "errorqueue.clear()")
    assert text(emu, "print(errorqueue.count)") == "0.00000e+00"


# --- errors -----------------------------------------------------------------------------------------
def test_syntax_error_prints_nothing_and_queues_285(emu):
    send(emu, "print(1")  # unterminated call: not executed at all
    code, msg = next_error(emu)
    assert code == -285 and msg.startswith("TSP Syntax error at line 1:")


def test_runtime_error_prints_nothing_and_queues_286(emu):
    send(emu, "print(smub.nosuch.x)")
    code, msg = next_error(emu)
    assert code == -286 and "TSP Runtime error" in msg
    send(emu, "print(nothing.here)")
    code, msg = next_error(emu)
    assert code == -286 and msg.startswith("TSP Runtime error at line 1: attempt to index a nil value")


def test_absurd_values_raise_1011_and_keep_the_old_setting(emu):
    for cmd in ("smua.source.levelv = 1e6", "smua.source.limiti = 50", "smua.measure.nplc = 100",
                "smua.measure.interval = 5", "smua.source.rangev = 1000", "smua.source.levelv = 1/0",
                "format.asciiprecision = 40"):
        send(emu, cmd)
        code, msg = next_error(emu)
        assert code == 1011 and "Parameter too big" in msg, cmd
    assert text(emu, "print(smua.source.levelv, smua.source.limiti, smua.measure.nplc)") == \
        "0.00000e+00\t1.00000e-01\t1.00000e+00"
    send(emu, "smua.measure.nplc = 0.0001")
    assert next_error(emu)[0] == 1012


def test_level_beyond_a_fixed_source_range_is_refused(emu):
    send(emu, "smua.source.rangev = 2 smua.source.levelv = 1.5")
    send(emu, "smua.source.levelv = 5")
    assert next_error(emu)[0] == 1011
    assert text(emu, "print(smua.source.levelv, smua.source.autorangev)") == "1.50000e+00\t0.00000e+00"


def test_pulsed_sweep_with_source_autorange_raises_5028(emu):
    send(emu, "smua.trigger.source.linearv(0, 1, 5) smua.trigger.source.action = smua.ENABLE",
         "smua.trigger.endpulse.action = smua.SOURCE_IDLE smua.trigger.count = 5",
         "smua.source.output = 1 smua.trigger.initiate()")
    code, msg = next_error(emu)
    assert code == 5028 and "autorange" in msg
    assert text(emu, "print(status.operation.sweeping.condition)") == "0.00000e+00"


def test_error_queue_overflows_at_100(emu):
    for _ in range(105):
        emu.write(b"x = = 1")
    errs = drain_errors(emu)
    assert len(errs) == 100 and errs[-1] == (-350, "Queue overflow")


# --- compliance and overflow ---------------------------------------------------------------------------
def test_compliance_clamps_the_reading_and_flags_it(emu):
    send(emu, "smua.source.limiti = 1e-4 smua.source.levelv = 2 smua.source.output = 1",
         "smua.nvbuffer1.clear() smua.nvbuffer2.clear()")
    assert text(emu, "print(smua.measure.iv(smua.nvbuffer1, smua.nvbuffer2))") == "1.00000e-04\t1.00000e-01"
    assert text(emu, "print(smua.source.compliance)") == "true"
    assert text(emu, "print(status.measurement.instrument.smua.condition)") == "2.00000e+00"
    status = int(float(text(emu, "printbuffer(1, 1, smua.nvbuffer1.statuses)")))
    assert status & 0x40
    send(emu, "smua.source.levelv = 0.05")
    assert text(emu, "print(smua.measure.i(), smua.source.compliance)") == "5.00000e-05\tfalse"


def test_overflow_on_a_fixed_range_reads_9_91e37(emu):
    send(emu, "smua.measure.autorangei = smua.AUTORANGE_OFF smua.measure.rangei = 1e-6",
         "smua.source.levelv = 1 smua.source.output = 1")
    assert text(emu, "print(smua.measure.i())") == "9.91000e+37"
    assert text(emu, "printbuffer(1, 2, smua.nvbuffer1)") == "9.91000e+37, 9.91000e+37"  # empty buffer


# --- printbuffer formats ---------------------------------------------------------------------------------
def _fill(emu, n=4):
    send(emu, "smua.nvbuffer1.collectsourcevalues = 1 smua.nvbuffer2.collectsourcevalues = 1",
         "smua.source.output = 1 smua.measure.count = 1")
    for k in range(1, n + 1):
        send(emu, f"smua.source.levelv = {0.1 * k} smua.nvbuffer1.appendmode = 1 smua.nvbuffer2.appendmode = 1 "
                  "smua.measure.iv(smua.nvbuffer1, smua.nvbuffer2)")


def test_printbuffer_ascii_is_interleaved_per_index(emu):
    _fill(emu)
    line = text(emu, "printbuffer(1, 4, smua.nvbuffer1.sourcevalues, smua.nvbuffer1.readings, smua.nvbuffer2)")
    assert line.count(", ") == 11 and "\t" not in line
    values = floats(line).reshape(4, 3)
    np.testing.assert_allclose(values[:, 0], [0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(values[:, 1], values[:, 0] / 1e3)
    np.testing.assert_allclose(values[:, 2], values[:, 0])
    assert text(emu, "print(smua.nvbuffer1.n, smua.nvbuffer1.readings[2], smua.nvbuffer1[3])") == \
        "4.00000e+00\t2.00000e-04\t3.00000e-04"


@pytest.mark.parametrize("data,order,dtype", [("REAL32", "LITTLEENDIAN", "<f4"), ("REAL32", "BIGENDIAN", ">f4"),
                                               ("REAL64", "LITTLEENDIAN", "<f8"), ("REAL64", "BIGENDIAN", ">f8"),
                                               ("REAL64", "SWAPPED", "<f8"), ("REAL32", "NORMAL", ">f4")])
def test_printbuffer_binary_decodes_to_the_ascii_numbers(emu, data, order, dtype):
    _fill(emu)
    send(emu, "format.asciiprecision = 16")
    ascii_values = floats(text(emu, "printbuffer(1, 4, smua.nvbuffer1.timestamps, smua.nvbuffer1.readings)"))
    send(emu, f"format.data = format.{data} format.byteorder = format.{order}")
    raw = ask(emu, "printbuffer(1, 4, smua.nvbuffer1.timestamps, smua.nvbuffer1.readings)").data
    size = np.dtype(dtype).itemsize
    assert raw[:2] == b"#0" and raw[-1:] == b"\n" and len(raw) == 2 + 8 * size + 1
    decoded = np.frombuffer(raw[2:-1], dtype=dtype)
    np.testing.assert_allclose(decoded, ascii_values, rtol=1e-7 if size == 4 else 1e-15)
    # print is not affected by format.data
    assert text(emu, "print(2)") == "2.000000000000000e+00"


def test_printnumber_follows_format_data(emu):
    assert text(emu, "printnumber(1, 2.5)") == "1.00000e+00, 2.50000e+00"
    send(emu, "format.data = format.REAL32")
    assert ask(emu, "printnumber(1, 2.5)").data == b"#0" + np.array([1, 2.5], "<f4").tobytes() + b"\n"


# --- scripts ----------------------------------------------------------------------------------------------
def test_named_script_across_messages(emu):
    send(emu, "loadscript Ramp", "count = (count or 0) + 1", "function Twice(x) return 2 * x end",
         "print('ran')", "endscript")
    assert text(emu, "Ramp()") == "ran"
    assert text(emu, "Ramp.run()") == "ran"
    assert text(emu, "print(count, Twice(21))") == "2.00000e+00\t4.20000e+01"


def test_loadandrunscript_in_one_message_with_crlf(emu):
    assert text(emu, "loadandrunscript Once\r\nlocal a = 3\r\nprint(a * a)\r\nendscript") == "9.00000e+00"
    assert text(emu, "Once()") == "9.00000e+00"


def test_anonymous_loadandrunscript_runs_at_endscript(emu):
    send(emu, "loadandrunscript", "x = 7", "endscript")
    assert text(emu, "print(x)") == "7.00000e+00"


def test_script_with_a_syntax_error_is_not_defined(emu):
    send(emu, "loadscript Broken", "if then", "endscript", "Broken()")
    errs = drain_errors(emu)
    assert errs[0][0] == -285 and errs[1][0] == -286


def test_exit_ends_a_chunk_quietly(emu):
    assert text(emu, "print(1) exit() print(2)") == "1.00000e+00"
    assert emu.pop() is None and drain_errors(emu) == []


# --- reset, output off, status byte, prompts -----------------------------------------------------------------
def test_reset_and_rst_turn_outputs_off_and_restore_defaults(emu):
    send(emu, "smua.source.levelv = 1 smua.source.output = 1 smub.source.output = 1 smua.measure.nplc = 0.1")
    send(emu, "reset()")
    assert emu.outputs_on() == {"smua": False, "smub": False}
    assert text(emu, "print(smua.source.levelv, smua.measure.nplc)") == "0.00000e+00\t1.00000e+00"
    send(emu, "smua.source.output = 1")
    send(emu, "*RST")
    assert emu.outputs_on()["smua"] is False


def test_status_byte_mav_and_error_bits(emu):
    assert emu.read_stb() == 0
    emu.write(b"print(1)")
    assert emu.read_stb() & 0x10
    emu.pop()
    send(emu, "nope nope")
    assert emu.read_stb() == 0x04


def test_prompts_add_tsp_prompt_after_each_message(emu):
    emu.write(b"localnode.prompts = 1")
    assert emu.pop().data == b"TSP>\n"
    emu.write(b"print(5)")
    assert [emu.pop().data, emu.pop().data] == [b"5.00000e+00\n", b"TSP>\n"]
    emu.write(b"localnode.prompts = 0")
    assert emu.pop() is None


def test_device_clear_drops_queued_replies_and_a_half_received_script(emu):
    for m in (b"print(1) print(2)", b"smua.source.levelv = 0.3", b"loadscript Half", b"print('never')"):
        emu.write(m)
    emu.clear()
    assert emu.pop() is None
    assert text(emu, "print(smua.source.levelv)") == "3.00000e-01"  # settings kept, script mode left
    send(emu, "Half()")
    assert next_error(emu)[0] == -286


# --- garbage --------------------------------------------------------------------------------------------------
GARBAGE = [
    b"\xff\xfe\x00\x01garbage\x80", b"print('unterminated", b"print([[never closed", b"))))((((",
    b"while true do end", b"repeat until false", b"local function f() return f() + 1 end f()",
    b"x = string.rep('x', 2^40)", b"while true do pcall(function() while true do end end) end",
    b"coroutine.wrap(function() while true do end end)()", b"os.execute('echo hi')", b"io.open('/etc/passwd')",
    b"require('os')", b"python.eval('1')", b"load(string.dump(print))()", b"smua.source.levelv = 1e400",
    b"smua.source.levelv = 0/0", b"smua.source.levelv = 'a lot'", b"printbuffer(1, 1e12, smua.nvbuffer1)",
    b"smua.makebuffer(1e12)", b"delay(-1)", b"delay(1e300)", b"trigger.timer[99].delay = 1",
    b"smua.trigger.source.listv(5)", b"smua.trigger.count = -3", b"*IDN", b"*FOO?", b"\x00" * 100,
    b"=" * 5000, b"smua.nvbuffer1.readings = 5", b"smua.source = 5", b"smua.source.output = 7",
]


@pytest.mark.parametrize("junk", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_gives_silence_and_an_error_never_an_exception(junk):
    emu, _ = make()
    emu.write(junk)
    assert emu.pop() is None
    errs = drain_errors(emu)
    assert errs and all(code != 0 for code, _ in errs)
    assert not any("internal simulator error" in m for _, m in errs), errs
    assert text(emu, "*IDN?").startswith("Keithley Instruments Inc.")


def test_random_bytes_never_escape(emu):
    rng = np.random.default_rng(3)
    for _ in range(200):
        emu.write(rng.integers(0, 256, rng.integers(1, 60)).astype(np.uint8).tobytes())
        while emu.pop() is not None:
            pass
    emu.clear()
    send(emu, "errorqueue.clear() reset()")
    assert text(emu, "print(localnode.model)") == "2614B"


def test_a_lua_loop_calling_the_instrument_is_stopped_by_the_wall_clock_guard(emu):
    emu.wall_limit = 0.2
    send(emu, "smua.source.output = 1 smua.measure.nplc = 0.001")
    send(emu, "for k = 1, 1e9 do smua.measure.i() end")
    code, msg = next_error(emu)
    assert code == -286 and "limit" in msg
    assert text(emu, "print(smua.measure.i())") == "0.00000e+00"


def test_buffers_and_options_tables(emu):
    send(emu, "smua.measure.filter.enable = smua.FILTER_OFF smua.measure.rel.enable = 0",
         "smua.source.output = 1 smua.measure.count = 3 smua.measure.i(smua.nvbuffer1)",
         "smua.nvbuffer1.collecttimestamps = 1")  # unchanged value: allowed with readings
    assert text(emu, "print(smua.nvbuffer1.n, smua.nvbuffer1.readings.n)") == "3.00000e+00\t3.00000e+00"
    send(emu, "smua.nvbuffer1.collectsourcevalues = 1")
    assert next_error(emu)[0] == 5043
    send(emu, "smua.nvbuffer1.clear() smua.nvbuffer1.collectsourcevalues = 1")
    assert text(emu, "print(smua.nvbuffer1.n)") == "0.00000e+00"
    assert drain_errors(emu) == []


def test_strings_are_printed_byte_for_byte(emu):
    assert ask(emu, b"print('caf\xe9', string.char(1, 255))").data == b"caf\xe9\t\x01\xff\n"


def test_ordinary_string_functions_still_work(emu):
    # (Lua keeps only the first value of every call but the last in an argument list)
    assert text(emu, "print(string.find('abc', 'b'), ('x=1'):match('(%w)=(%d)'), string.gsub('aaa', 'a', 'b'))") == \
        "2.00000e+00\tx\tbbb\t3.00000e+00"
    assert text(emu, "print(string.find('a.b', '.', 1, true))") == "2.00000e+00\t2.00000e+00"
