"""A :class:`~labqc.instruments.search.Search` on the 2614B, decided by the instrument.

The set-up (output off) leaves one Lua function ``_SX(k0, n)`` on the instrument. One
call steps through levels k0 .. k0+n-1: sets the level, waits, reads with
``smua.measure.iv`` into nvbuffer1/nvbuffer2 (a pulse-and-read also reads on the pulse top,
then drops to the read level), and tests the condition on the reading in Lua. When it is
met the output goes off at once, and the instrument's own timer brackets that moment:
``timer.measure.t()`` right after the reading and right after the output change give the
stop latency in instrument time. Every call ends with the output off (as every program
labqc sends does) and prints one line ``met  t_reading  t_off  readings`` followed by
those readings as a REAL64 block: one message and its replies per chunk of about
CHUNK_SECONDS, so the host is never in the loop between levels.

Only Lua 5.0 (the 2600B firmware): no ``#``, ``%``, ``//``, ``goto`` or bit operators;
levels are computed (start + k*step), so no table literal is needed.
"""
from __future__ import annotations

import time
from typing import Iterator

import numpy as np

from labqc.instruments.errors import ProtocolError
from labqc.instruments.search import Search, SearchOutcome
from labqc.instruments.smu import KIND_POINT, KIND_PULSE, KIND_READ, empty_chunk
from labqc.instruments.tsp_format import num, parse_number, parse_print, real64_block_size
from labqc.instruments.tsp_messages import COLUMNS, measure_setup, printbuffer, source_setup
from labqc.instruments.tsp_planner import range_for
from labqc.instruments.tsp_runner import parse_readings, readings_chunk

#: Instrument seconds one call covers (at least one level), so a live view keeps moving and
#: no program runs long: every call ends with the output off.
CHUNK_SECONDS = 0.5
#: Most levels one call steps through (readings stay well inside one streamed block).
MAX_LEVELS_PER_CALL = 2000
#: Longest a single call may run, instrument seconds (the house rule for bounded programs).
MAX_CALL_SECONDS = 30.0
#: Instrument seconds a reading takes beyond its integration (settling, conversion).
OVERHEAD = 100e-6


def condition(r: Search) -> tuple[list[str], str]:
    """Lua that keeps the condition's state (globals, reset per search) and the test on
    the reading ``_i``, ``_v``."""
    s = r.until
    if s.kind == "g_above":
        return [], f"math.abs(_i) >= {num(s.value)} * math.abs(_v)"
    if s.kind == "g_below":
        return [], f"math.abs(_i) <= {num(s.value)} * math.abs(_v)"
    if s.kind == "i_drop":
        return (["_IMAX = 0",
                 f"function _XC(i) local a = math.abs(i) local hit = _IMAX >= {num(s.floor)} and "
                 f"a < {num(s.value)} * _IMAX if a > _IMAX then _IMAX = a end return hit end"],
                "_XC(_i)")
    return (["_GPREV = -1",
             f"function _XC(i, v) local a = math.abs(i) local g = 0 if math.abs(v) > 0 then "
             f"g = a / math.abs(v) end local hit = _GPREV >= 0 and a >= {num(s.floor)} and "
             f"g >= {num(1 + s.value)} * _GPREV _GPREV = g return hit end"],
            "_XC(_i, _v)")


def program(driver, r: Search) -> list[str]:
    """The set-up messages (nothing is sourced while they are sent)."""
    s = driver.smu
    caps = driver.capabilities
    peak = max(abs(r.start), abs(r.stop), abs(r.read_level) if r.pulsed else 0.0)
    v_range = range_for(peak, caps.voltage_ranges)
    aperture = driver.aperture(r.nplc) + OVERHEAD
    state, test = condition(r)
    sign = 1.0 if r.stop >= r.start else -1.0
    level = f"{s}.source.levelv = {num(r.start)} + {num(sign * abs(r.step))} * k"
    read_limit = r.read_compliance or r.compliance
    if r.pulsed:
        top = max(r.width - aperture, 0.0)
        read = max(r.read_width - aperture, 0.0)
        rest = max(r.step_time - r.width - r.read_width, 0.0)
        swap_in = f"{s}.source.limiti = {num(read_limit)} " if read_limit != r.compliance else ""
        swap_out = f"{s}.source.limiti = {num(r.compliance)} " if read_limit != r.compliance else ""
        step = (f"{level} delay({num(top)}) {s}.measure.iv({s}.nvbuffer1, {s}.nvbuffer2) "
                f"{swap_in}{s}.source.levelv = {num(r.read_level)} delay({num(read)}) "
                f"_i, _v = {s}.measure.iv({s}.nvbuffer1, {s}.nvbuffer2) ")
        after = f"{s}.source.levelv = 0 {swap_out}delay({num(rest)})"
    else:
        hold = max(r.step_time - aperture, 0.0)
        step = f"{level} delay({num(hold)}) _i, _v = {s}.measure.iv({s}.nvbuffer1, {s}.nvbuffer2) "
        after = ""
    # three functions, each message under the instrument's input limit: one level (set,
    # wait, read; returns the reading the condition is tested on), the readings out, the loop
    level_fn = f"function _SXS(k) {step}{after} return _i, _v end"
    if after:  # the rest after a pulse's read comes only when the search goes on
        level_fn = f"function _SXS(k) {step}return _i, _v end function _SXR() {after} end"
    out_fn = (f"function _SXP() print(_SXM, _SXT, _SXO, {s}.nvbuffer1.n) if {s}.nvbuffer1.n > 0 then "
              f"{printbuffer(s, 1, f'{s}.nvbuffer1.n')} end end")
    loop = (f"function _SX(k0, n) _SXM = -1 _SXT = 0 _SXO = 0 {s}.nvbuffer1.clear() {s}.nvbuffer2.clear() "
            f"if errorqueue.count > 0 then print(-2, errorqueue.count, 0, 0) return end "
            f"{s}.source.output = {s}.OUTPUT_ON "
            f"for k = k0, k0 + n - 1 do _i, _v = _SXS(k) "
            f"if {test} then _SXT = timer.measure.t() {s}.source.output = {s}.OUTPUT_OFF "
            f"_SXO = timer.measure.t() _SXM = k break end {'_SXR() ' if after else ''}end "
            f"{s}.source.output = {s}.OUTPUT_OFF _SXP() end")
    return [source_setup(s, "V", 0.0, r.compliance, rng=v_range) + " "
            + measure_setup(s, "V", r.nplc, r.measure_range, delay=0.0),
            f"{s}.nvbuffer1.clear() {s}.nvbuffer1.appendmode = 1 {s}.nvbuffer1.collecttimestamps = 1 "
            f"{s}.nvbuffer1.collectsourcevalues = 1 {s}.nvbuffer2.clear() {s}.nvbuffer2.appendmode = 1",
            *state, level_fn, out_fn, loop]


def levels_per_call(r: Search) -> int:
    per = max(int(CHUNK_SECONDS / max(r.step_time, 1e-9)), 1)
    longest = max(int(MAX_CALL_SECONDS / max(r.step_time, 1e-9)), 1)
    return min(per, longest, MAX_LEVELS_PER_CALL)


def run_search(driver, r: Search) -> Iterator[np.ndarray]:
    """Stream a Search decided on the 2614B (see the module); driver.last_search at the end."""
    outcome = SearchOutcome(met=False)
    driver.last_search = outcome
    s = driver.smu
    for message in program(driver, r):
        driver.tsp.send(message)
    per_level = 2 if r.pulsed else 1
    kinds = np.array([KIND_PULSE, KIND_READ] if r.pulsed else [KIND_POINT], dtype=np.int8)
    step = levels_per_call(r)
    for k0 in range(0, r.count, step):
        n = min(step, r.count - k0)
        driver.program_end = time.monotonic() + n * r.step_time
        # pcall, as every other program: a Lua error mid-search leaves the output off on the
        # instrument itself (no host needed) and answers -3 instead of nothing.
        reply = driver.tsp.query(f"if not pcall(_SX, {k0}, {n}) then {s}.abort() "
                                 f"{s}.source.output = {s}.OUTPUT_OFF print(-3, errorqueue.count, 0, 0) end",
                                 timeout=2 * n * r.step_time + 5.0)
        met, tm, toff, m = (parse_number(x) for x in parse_print(reply, 4))
        if met <= -2:
            driver.program_end = 0.0
            driver.tsp.raise_errors(int(tm))
        if met == -3:
            raise ProtocolError(f"the search program stopped with a Lua error at levels {k0}..{k0 + n - 1}; "
                                "the output is off")
        m = int(m)
        chunk = empty_chunk(m)
        if m:
            raw = driver.tsp.read_block(f"the readings of search levels {k0}..{k0 + n - 1}",
                                        real64_block_size(len(COLUMNS) * m), timeout=5.0)
            columns = parse_readings(driver.tsp, raw, 1, m)
            ts = columns[0]
            # each call empties the buffers; its first reading comes one step after the last
            # one of the call before (the host's round trip between calls is not timed)
            first = r.width if r.pulsed else r.step_time
            chunk = readings_chunk(columns, driver.t_end + first + (ts - ts[0]),
                                   k0 + np.arange(m) // per_level, np.tile(kinds, m // per_level + 1)[:m])
            driver.t_end = max(driver.t_end, float(chunk["t"][-1]))
        driver.program_end = 0.0
        outcome.levels_done = k0 + (m // per_level)
        if met >= 0:
            outcome.met, outcome.index = True, int(met)
            outcome.level = float(r.levels[int(met)])
            outcome.latency = max(float(toff) - float(tm), 0.0)
            yield chunk
            return
        yield chunk


__all__ = ["run_search", "program", "condition", "levels_per_call"]
