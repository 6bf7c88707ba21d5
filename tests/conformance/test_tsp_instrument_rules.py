"""The simulated 2614B refuses what the instrument refuses and answers as its manual says.

Facts, each from a source we did not write:
- format.data: ASCII 1, SREAL/REAL32 2, REAL/REAL64/DREAL 3; byteorder NORMAL/BIGENDIAN/
  NETWORK 0, SWAPPED/LITTLEENDIAN 1 (Series 2600B Reference Manual 2600BS-901-01,
  format.data and format.byteorder).
- status.standard.event is read-and-clear, .condition and .enable are registers; bit B5 is
  a command error, B4 an execution error (tm-devices, tm_devices/commands/gen_dbqd7k_smu/
  status.py, generated from the manual; its CommonTSPErrorCheckMixin reads the event).
- script.delete(name) before a script is loaded again (tm-devices TSPControl.load_script).
- The firmware's Lua is 5.0 (the manual's examples use table.getn): no #, %, //, goto,
  bit operators.
- Libraries used on hardware send at most 50 values per table literal, one line per
  write, because the input buffer is small (ivtools send_list, OE-FET CHUNK_SIZE = 50).
"""
from __future__ import annotations

import numpy as np
import pytest

from labqc.instruments.keithley2614b import Keithley2614B
from labqc.instruments.sim.lab import RES_2614B_GPIB, get_lab, sim_library
from labqc.instruments.sim.tsp2614b import K2614BEmulator
from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.device import Resistor
from labqc.instruments.smu import PulseTrain, Repeat, Sampling, Sweep
from labqc.instruments.tsp_format import MAX_MESSAGE_BYTES, MAX_TABLE_VALUES


def emulator(**kw) -> K2614BEmulator:
    return K2614BEmulator(Resistor(1e3), VirtualClock(), **kw)


def say(emu: K2614BEmulator, message: str) -> list[bytes]:
    """Send one message; every reply it produced."""
    emu.write(message.encode("latin-1"))
    out = []
    while (reply := emu.pop()) is not None:
        emu.clock.advance_to(reply.ready_at)
        out.append(reply.data)
    return out


def ask(emu: K2614BEmulator, message: str) -> str:
    replies = say(emu, message)
    assert len(replies) == 1, f"{message!r} gave {replies!r}"
    return replies[0].decode("latin-1").rstrip("\n")


def errors(emu: K2614BEmulator) -> list[tuple[int, str]]:
    out = []
    while True:
        code, message, *_ = ask(emu, "print(errorqueue.next())").split("\t")
        if float(code) == 0:
            return out
        out.append((int(float(code)), message))


# --- format.data and format.byteorder (2600B manual) -----------------------------------------
def test_format_constants_are_the_manuals_numbers():
    emu = emulator()
    assert [float(x) for x in ask(emu, "print(format.ASCII, format.SREAL, format.REAL32, format.REAL, "
                                       "format.REAL64, format.DREAL)").split("\t")] == [1, 2, 2, 3, 3, 3]
    assert [float(x) for x in ask(emu, "print(format.NORMAL, format.BIGENDIAN, format.NETWORK, "
                                       "format.SWAPPED, format.LITTLEENDIAN)").split("\t")] == [0, 0, 0, 1, 1]


@pytest.mark.parametrize("value,dtype", [(2, ">f4"), (3, ">f8")])
def test_format_data_set_by_number_selects_binary(value, dtype):
    emu = emulator()
    say(emu, f"format.data = {value} format.byteorder = 0")
    assert float(ask(emu, "format.data = 1 print(format.data)")) == 1  # print is ASCII again
    say(emu, f"format.data = {value} format.byteorder = 0")
    raw = say(emu, "printnumber(1.5, -2)")[0]
    assert raw[:2] == b"#0" and raw[-1:] == b"\n"
    assert np.frombuffer(raw[2:-1], dtype=dtype).tolist() == [1.5, -2.0]
    say(emu, "format.data = 4")
    assert [code for code, _ in errors(emu)] == [1011]  # beyond the last format


# --- status.standard and script.delete (tm-devices' error and clean-up helpers) ---------------
def test_standard_event_register_reads_and_clears():
    emu = emulator()
    assert float(ask(emu, "print(status.standard.event)")) == 0
    say(emu, "x = = 1")  # a syntax error: command error, B5
    assert int(float(ask(emu, "print(status.standard.condition)"))) & 0x20
    assert int(float(ask(emu, "print(status.standard.event)"))) == 0x20
    assert float(ask(emu, "print(status.standard.event)")) == 0  # reading cleared it
    say(emu, "smua.source.levelv = 1e9")  # refused by the instrument: not a command error
    assert int(float(ask(emu, "print(status.standard.event)"))) & 0x20 == 0
    say(emu, "status.standard.enable = status.standard.CME")
    assert float(ask(emu, "print(status.standard.enable)")) == 32
    say(emu, "status.reset()")
    assert float(ask(emu, "print(status.standard.enable)")) == 0


def test_script_delete_then_reload_as_tm_devices_does():
    emu = emulator()
    say(emu, "loadscript Hello\nprint('one')\nendscript")
    assert ask(emu, "Hello()") == "one"
    say(emu, "if Hello ~= nil then script.delete('Hello') end")
    assert ask(emu, "print(Hello)") == "nil"
    say(emu, "loadscript Hello\nprint('two')\nendscript")
    assert ask(emu, "Hello.run()") == "two"
    assert errors(emu) == []
    say(emu, "script.delete('Nothing')")
    assert len(errors(emu)) == 1


# --- the firmware's Lua 5.0 ---------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [
    "t = {1, 2} n = #t",
    "x = 7 % 2",
    "x = 7 // 2",
    "x = 6 & 3", "x = 6 | 3", "x = ~6", "x = 1 << 2", "x = 8 >> 1",
    "for k = 1, 3 do if k == 2 then goto done end end ::done::",
    "function f(t)\n  return #t\nend",
])
def test_newer_lua_is_a_syntax_error_and_does_not_run(chunk):
    emu = emulator()
    assert say(emu, f"{chunk} print('ran')") == []
    found = errors(emu)
    assert [code for code, _ in found] == [-285]
    assert "not in the instrument's Lua" in found[0][1]


def test_newer_lua_inside_a_script_is_refused_when_loaded():
    emu = emulator()
    say(emu, "loadscript Bad\nlocal t = {1}\nprint(#t)\nendscript")
    assert [code for code, _ in errors(emu)] == [-285]
    assert ask(emu, "print(Bad)") == "nil"


def test_lua_50_text_with_those_characters_in_strings_and_comments_runs():
    emu = emulator()
    assert ask(emu, "print('50 % of #3 // a&b|c ~x') -- #1, 100 %") == "50 % of #3 // a&b|c ~x"
    assert ask(emu, "--[[ t[#t + 1] = x ]] print(table.getn({4, 5, 6}), math.mod(7, 2), 1 ~= 2)") == \
        "3.00000e+00\t1.00000e+00\ttrue"


def test_the_check_can_be_switched_off():
    emu = emulator(lua50=False)
    assert float(ask(emu, "print(#{1, 2, 3})")) == 3


# --- the input buffer -----------------------------------------------------------------------------
def test_a_line_longer_than_the_input_buffer_is_refused_whole():
    emu = emulator(max_line=200)
    assert say(emu, "x = 1 print(x) -- " + "." * 200) == []
    assert [code for code, _ in errors(emu)] == [-363]
    assert ask(emu, "print(x)") == "nil"  # nothing of it ran
    assert say(emu, "print(2)\n" + "y = 3 " * 30) == [b"2.00000e+00\n"]  # lines, not messages, count


class Recorder(K2614BEmulator):
    """The simulated 2614B, keeping every message it received."""

    def execute(self, message: bytes) -> None:
        self.received.append(message.decode("latin-1"))
        super().execute(message)


@pytest.fixture
def recorded():
    spec = sim_library("ohmic", seed=9191, time_scale=0)  # a lab of its own
    lab = get_lab(spec)
    lab.reset()

    def build(lab_, plan):
        emu = Recorder(lab_.device_for("2614B"), lab_.clock, faults=plan, max_line=MAX_MESSAGE_BYTES)
        emu.received = []
        return emu

    lab.add_instrument((RES_2614B_GPIB,), build)
    smu = Keithley2614B(RES_2614B_GPIB, visa_library=spec, timeout=5.0)
    yield smu, lab.emulator(RES_2614B_GPIB)
    smu.close()
    lab.reset()


def test_driver_messages_fit_the_input_buffer_and_hold_at_most_50_values(recorded):
    smu, emu = recorded
    rng = np.random.default_rng(1)
    levels = np.round(rng.uniform(-1, 1, 700), 6)  # an irregular list: sent as a table
    requests = [
        Sweep(levels, compliance=1e-3, step_time=2e-3),
        PulseTrain(rng.uniform(0.5, 1.5, 120), base=0.0, width=1e-3, period=3e-3, compliance=1e-3,
                   read_levels=np.full(120, 0.1), read_width=1e-3),
        Sampling(0.1, 1e-3, np.cumsum(rng.uniform(1e-3, 3e-3, 300)), nplc=0.01),
        Repeat((PulseTrain.uniform(1.2, 1, width=1e-3, period=2e-3, compliance=1e-3),
                Sweep(np.linspace(0.1, 0.2, 80) ** 2, compliance=1e-3, step_time=1e-3)), count=4),
    ]
    for request in requests:
        for _ in smu.run(request):
            pass
    smu.read(0.1, compliance=1e-3)
    assert errors(emu) == []
    longest = max(len(m) for m in emu.received)
    assert longest <= MAX_MESSAGE_BYTES
    literals = [m[m.index("{") + 1:m.index("}")] for m in emu.received if " = {" in m]
    assert len(literals) > 20  # the lists above did need many pieces
    assert max(len(body.split(",")) for body in literals) <= MAX_TABLE_VALUES
