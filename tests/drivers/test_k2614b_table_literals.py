"""Lua tables go to the 2614B in literals of at most 50 values (libraries used on hardware
send no more per line: ivtools send_list, OE-FET CHUNK_SIZE = 50), whatever their text
length, and the pieces rebuild the whole table in the instrument's Lua 5.0 subset."""
import numpy as np
import pytest

from labqc.instruments.sim.tsp_dialect import newer_lua
from labqc.instruments.tsp_format import MAX_MESSAGE_BYTES, MAX_TABLE_VALUES, lua_table

from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.device import Resistor
from labqc.instruments.sim.tsp2614b import K2614BEmulator


def make():
    return K2614BEmulator(Resistor(1e3), VirtualClock()), None


def send(emu, *messages: str) -> None:
    for m in messages:
        emu.write(m.encode("latin-1"))
        assert emu.pop() is None, m


def text(emu, message: str) -> str:
    emu.write(message.encode("latin-1"))
    reply = emu.pop()
    assert reply is not None, message
    return reply.data.decode("latin-1").rstrip("\n")


def literal_sizes(messages: list[str]) -> list[int]:
    return [len(m[m.index("{") + 1:m.index("}")].split(",")) for m in messages]


def test_short_values_are_still_cut_at_50_per_literal():
    values = np.arange(1, 121)  # 1..120: short text, 3 literals by count, not by bytes
    messages = lua_table("_L", values)
    assert literal_sizes(messages) == [50, 50, 20]
    assert all(len(m) <= MAX_MESSAGE_BYTES and newer_lua(m) is None for m in messages)


def test_the_pieces_rebuild_the_table_on_the_simulated_2614b():
    rng = np.random.default_rng(4)
    values = np.round(rng.uniform(-2, 2, 237), 6)
    emu = make()[0]
    send(emu, *lua_table("_L", values))
    assert float(text(emu, "print(table.getn(_L))")) == len(values)
    got = [float(text(emu, f"format.asciiprecision = 9 print(_L[{k}])")) for k in (1, 50, 51, 100, 101, 237)]
    assert got == pytest.approx(values[[0, 49, 50, 99, 100, 236]], rel=1e-8)
    assert max(literal_sizes(lua_table("_L", values))) == MAX_TABLE_VALUES
