"""The TSP statements labqc sends a 2614B channel, one builder per part of a set-up.

Pure text: each function returns the statements for channel ``smu`` (``"smua"`` or
``"smub"``) and sends nothing. The names are the instrument's own (``smuX.source.*``,
``smuX.measure.*``, ``smuX.nvbufferY.*``, ``smuX.trigger.*``, ``trigger.timer[N].*``,
``printbuffer``, ``format.*``), each checked against a 2614B command tree in
tests/conformance/test_tm_devices_2614b.py. Why each is sent as it is: docs/keithley2614b.md.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from labqc.instruments.tsp_format import MAX_MESSAGE_BYTES, lua_table, num

#: Shortest timer delay we program (the timer's default).
MIN_TIMER_DELAY = 10e-6


def source_setup(smu: str, source: str, level: float, compliance: float, rng: float | None) -> str:
    """Source function, range (``None``: autorange), level and limit of the other quantity.
    Sent while the output is off."""
    if source == "V":
        func, fn, limit = f"{smu}.OUTPUT_DCVOLTS", "v", "i"
    else:
        func, fn, limit = f"{smu}.OUTPUT_DCAMPS", "i", "v"
    rng_text = (f"{smu}.source.autorange{fn} = {smu}.AUTORANGE_ON" if rng is None else
                f"{smu}.source.autorange{fn} = {smu}.AUTORANGE_OFF {smu}.source.range{fn} = {num(rng)}")
    return (f"{smu}.source.func = {func} {smu}.source.limit{limit} = {num(compliance)} {rng_text} "
            f"{smu}.source.level{fn} = {num(level)} {smu}.source.delay = 0")


def measure_setup(smu: str, source: str, nplc: float, rng: float | None, delay: float) -> str:
    """Integration, range of the quantity not sourced (``None``: autorange) and measure
    delay (a negative delay is sent as 0)."""
    fn = "i" if source == "V" else "v"
    rng_text = (f"{smu}.measure.autorange{fn} = {smu}.AUTORANGE_ON" if rng is None else
                f"{smu}.measure.autorange{fn} = {smu}.AUTORANGE_OFF {smu}.measure.range{fn} = {num(rng)}")
    return (f"{smu}.measure.autozero = {smu}.AUTOZERO_ONCE {smu}.measure.nplc = {num(nplc)} {rng_text} "
            f"{smu}.measure.delay = {num(max(delay, 0.0))}")


def buffer_setup(smu: str, append: bool = False) -> str:
    """I with timestamps and source values in nvbuffer1, V in nvbuffer2, both emptied.
    ``append``: each trigger-model run adds to what is there (a Repeat's loop)."""
    mode = int(append)
    return (f"{smu}.nvbuffer1.clear() {smu}.nvbuffer1.appendmode = {mode} {smu}.nvbuffer1.collecttimestamps = 1 "
            f"{smu}.nvbuffer1.collectsourcevalues = 1 {smu}.nvbuffer2.clear() {smu}.nvbuffer2.appendmode = {mode} "
            f"{smu}.nvbuffer2.collecttimestamps = 0 {smu}.nvbuffer2.collectsourcevalues = 0")


def trigger_setup(smu: str, sweep: str, source: str, compliance: float, count: int, endpulse: str) -> str:
    """The trigger model's actions after the sweep statement ``sweep`` (a ``listv``,
    ``linearv`` ... call); its source limit is the request's compliance; ``endpulse`` is
    ``SOURCE_HOLD`` or ``SOURCE_IDLE``."""
    limit = "i" if source == "V" else "v"
    return (f"{sweep} {smu}.trigger.source.limit{limit} = {num(compliance)} "
            f"{smu}.trigger.source.action = {smu}.ENABLE "
            f"{smu}.trigger.measure.iv({smu}.nvbuffer1, {smu}.nvbuffer2) {smu}.trigger.measure.action = {smu}.ENABLE "
            f"{smu}.trigger.endpulse.action = {smu}.{endpulse} {smu}.trigger.endsweep.action = {smu}.SOURCE_IDLE "
            f"{smu}.trigger.arm.count = 1 {smu}.trigger.count = {count}")


def timer_setup(k: int, delay: float | Sequence[float] | np.ndarray, *, count: int, passthrough: bool,
                stimulus: str, tag: str = "") -> list[str]:
    """Messages that configure trigger timer ``k``: one delay, or (uneven delays) a delay
    list built on the instrument as the table ``_D<k><tag>`` and used in turn each time
    the timer fires. Delays below MIN_TIMER_DELAY are raised to it."""
    delays = np.maximum(np.atleast_1d(np.asarray(delay, dtype=float)), MIN_TIMER_DELAY)
    head: list[str] = []
    if np.all(delays == delays[0]):
        when = f"trigger.timer[{k}].delay = {num(delays[0])}"
    else:
        head = lua_table(f"_D{k}{tag}", delays)
        when = f"trigger.timer[{k}].delaylist = _D{k}{tag}"
    return [*head, f"trigger.timer[{k}].reset() {when} trigger.timer[{k}].count = {count} "
                   f"trigger.timer[{k}].passthrough = {'true' if passthrough else 'false'} "
                   f"trigger.timer[{k}].stimulus = {stimulus}"]


def printbuffer(smu: str, a: int | str, b: int | str) -> str:
    """Readings a..b (1-based, inclusive; numbers or Lua expressions) of the COLUMNS in
    REAL64 least significant byte first (``format.SWAPPED``: docs/keithley2614b.md,
    "Binary readings"), then back to ASCII."""
    return (f"format.data = format.REAL64 format.byteorder = format.SWAPPED "
            f"printbuffer({a}, {b}, {smu}.nvbuffer1.timestamps, {smu}.nvbuffer1.sourcevalues, "
            f"{smu}.nvbuffer2.readings, {smu}.nvbuffer1.readings, {smu}.nvbuffer1.statuses) "
            f"format.data = format.ASCII")


#: The columns :func:`printbuffer` prints per reading, in this order.
COLUMNS = ("timestamps", "sourcevalues", "v", "i", "statuses")


def lua_function(name: str, body: list[str], max_bytes: int = MAX_MESSAGE_BYTES) -> list[str]:
    """Messages that define the Lua function ``name`` running ``body`` (statements) in
    order: one message when it fits in ``max_bytes``, else parts ``name_1``, ``name_2`` ...
    and ``name`` calling them in turn."""
    whole = f"function {name}() {' '.join(body)} end"
    if len(whole) <= max_bytes:
        return [whole]
    parts: list[list[str]] = [[]]
    for statement in body:
        if parts[-1] and len(" ".join(parts[-1] + [statement])) + len(name) + 30 > max_bytes:
            parts.append([])
        parts[-1].append(statement)
    names = [f"{name}_{k}" for k in range(1, len(parts) + 1)]
    return ([f"function {n}() {' '.join(p)} end" for n, p in zip(names, parts)]
            + [f"function {name}() {' '.join(n + '()' for n in names)} end"])


def pack(messages: list[str], max_bytes: int = MAX_MESSAGE_BYTES) -> list[str]:
    """Consecutive ``messages`` joined into as few messages of at most ``max_bytes`` as
    they fit in, in order (each is a whole chunk of statements; a message longer than
    ``max_bytes`` on its own stays as it is)."""
    out: list[str] = []
    for m in messages:
        if out and len(out[-1]) + 1 + len(m) <= max_bytes:
            out[-1] = f"{out[-1]} {m}"
        else:
            out.append(m)
    return out


__all__ = ["COLUMNS", "MIN_TIMER_DELAY", "buffer_setup", "lua_function", "measure_setup", "pack", "printbuffer",
           "source_setup", "timer_setup", "trigger_setup"]
