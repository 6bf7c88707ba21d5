"""What the simulated 2614B prints: ``print``, ``printnumber`` and ``printbuffer``.

``print`` writes its arguments separated by TAB, numbers as ``%.{p-1}e`` (p =
``format.asciiprecision``); ``printnumber`` and ``printbuffer`` follow ``format.data``
(ASCII values separated by ", ", or a ``#0`` block of REAL32/REAL64 in ``format.byteorder``),
``printbuffer`` interleaving its buffers per index (docs/keithley2614b.md, "What the
instrument answers").
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import lupa.lua54 as lupa_lua
import numpy as np

from labqc.instruments.sim.tsp_buffers import (as_column, format_ascii, format_binary, format_number, lua_index,
                                               lua_number, runtime, too_big)
from labqc.instruments.sim.tsp_system import ASCII, LITTLEENDIAN, REAL64

if TYPE_CHECKING:
    from labqc.instruments.sim.tsp2614b import K2614BEmulator

MAX_PRINTBUFFER_VALUES = 1_000_000


def as_text(value, precision: int) -> str:
    """How ``print`` writes one Lua value."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value, precision)
    if isinstance(value, str):
        return value
    kind = lupa_lua.lua_type(value) or "userdata"
    return f"{kind}: 0x{id(value):08x}"


def print_values(emu: "K2614BEmulator", *args) -> None:
    emu.reply("\t".join(as_text(a, emu.fmt_precision) for a in args).encode("latin-1", "replace"))


def encode(emu: "K2614BEmulator", values: np.ndarray) -> bytes:
    """``values`` as format.data and format.byteorder say."""
    if emu.fmt_data == ASCII:
        return format_ascii(values, emu.fmt_precision).encode("ascii")
    return format_binary(values, emu.fmt_data == REAL64, emu.fmt_byteorder == LITTLEENDIAN)


def printnumber(emu: "K2614BEmulator", *args) -> None:
    values = np.array([lua_number(a, "printnumber argument") for a in args], dtype=float)
    emu.reply(encode(emu, values))


def printbuffer(emu: "K2614BEmulator", start=None, end=None, *bufs) -> None:
    """Readings start..end of each buffer column in ``bufs``; waits for readings not yet
    measured (the buffer's waiter advances the instrument's time)."""
    first = lua_index(start, "printbuffer start index")
    last = lua_index(end, "printbuffer end index")
    if not bufs:
        raise runtime("bad argument #3 to 'printbuffer' (reading buffer expected)")
    cols = [as_column(b) for b in bufs]
    count = max(last - first + 1, 0)
    if count * len(cols) > MAX_PRINTBUFFER_VALUES:
        raise too_big(f"printbuffer of {count * len(cols)} values")
    if count == 0:
        emu.reply(encode(emu, np.zeros(0)))
        return
    data = np.stack([c.buffer.values(c.name, first, last) for c in cols], axis=1)
    emu.reply(encode(emu, data))


__all__ = ["MAX_PRINTBUFFER_VALUES", "as_text", "encode", "print_values", "printbuffer", "printnumber"]
