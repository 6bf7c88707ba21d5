"""Running planned programs on a 2614B and streaming their readings as they arrive.

The driver (:class:`~labqc.instruments.keithley2614b.Keithley2614B`) passes itself: these
functions use its link (``tsp``), channel (``smu``) and two clocks it keeps across
requests: ``t_end``, the session time of the last reading (so t is monotonic from request to
request), and ``program_end``, the ``time.monotonic()`` at which a program still running on
the instrument (one cut short) will have turned its output off.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterator

import numpy as np

from labqc.instruments.errors import ProtocolError
from labqc.instruments.smu import Repeat, empty_chunk
from labqc.instruments.tsp_format import STATUS_COMPLIANCE, parse_number, parse_real64_block, real64_block_size
from labqc.instruments.tsp_link import TSPLink
from labqc.instruments.tsp_loop import plan_repeat, repeat_chunks
from labqc.instruments.tsp_messages import COLUMNS, printbuffer
from labqc.instruments.tsp_planner import Block, program

if TYPE_CHECKING:
    from labqc.instruments.keithley2614b import Keithley2614B


def parse_readings(link: TSPLink, raw: bytes, a: int, b: int) -> np.ndarray:
    """The COLUMNS of readings a..b (1-based, inclusive) from a printbuffer block, as rows of
    the transposed array; a garbled or short block resynchronises ``link`` and raises."""
    try:
        data = parse_real64_block(raw, len(COLUMNS))
    except ProtocolError:
        link.clear()  # the rest of a garbled reply must not poison the next query
        raise
    if len(data) != b - a + 1:
        link.clear()
        raise ProtocolError(f"printbuffer({a}, {b}) returned {len(data)} readings, not {b - a + 1}")
    return data.T


def readings_chunk(columns: np.ndarray, t: np.ndarray, index: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """A stream chunk from parsed COLUMNS, with its session times, indices and kinds."""
    _, src, v, i, status = columns
    chunk = empty_chunk(len(t))
    chunk["t"] = t
    chunk["source"], chunk["v"], chunk["i"] = src, v, i
    chunk["compliance"] = (np.nan_to_num(status).astype(np.int64) & STATUS_COMPLIANCE) != 0
    chunk["index"], chunk["kind"] = index, kind
    return chunk


def checkpoint(link: TSPLink) -> None:
    """End of a request: wait for the trigger model to finish, raise any queued error."""
    pending = int(parse_number(link.query("waitcomplete() print(errorqueue.count)")))
    if pending:
        link.raise_errors(pending)


def run_block(driver: Keithley2614B, block: Block, t0: float) -> Iterator[np.ndarray]:
    """Send ``block`` as one program and yield its readings chunk by chunk as the program
    prints them (an empty chunk for each wait line: the caller may stop there). ``t0``: the
    session time the request started at."""
    link = driver.tsp
    messages, items = program(block, smu=driver.smu)
    for message in messages[:-1]:
        link.send(message)
    # The previous program may still hold its last pulse period's base (its tail).
    lag = max(driver.program_end - time.monotonic(), 0.0)
    wait = link.timeout_ms / 1000 + 2 * lag if lag else None
    pending = int(parse_number(link.query(messages[-1], timeout=wait)))
    if pending:  # the program turned nothing on: ask the queue
        link.raise_errors(pending)
    origin = t0 + block.t_first  # session time of the block's first reading (as planned)
    ts0, done = None, 0
    driver.program_end = time.monotonic() + float(sum(it[-1] for it in items)) + block.tail
    try:
        for done, item in enumerate(items, 1):
            if item[0] == "wait":
                link.read_line("a wait in a program", timeout=2 * item[1] + 5.0)
                yield empty_chunk(0)
                continue
            _, a, b, wait = item
            raw = link.read_block(f"the readings {a + 1}..{b} of a program",
                                  real64_block_size(len(COLUMNS) * (b - a)), timeout=2 * wait + 5.0)
            columns = parse_readings(link, raw, a + 1, b)
            ts0 = columns[0][0] if ts0 is None else ts0
            chunk = readings_chunk(columns, origin + (columns[0] - ts0), block.indices[a:b], block.kinds[a:b])
            driver.t_end = max(driver.t_end, float(chunk["t"][-1]))
            yield chunk
        done = len(items) + 1
    finally:
        # Cut short: the program runs on to its end on the instrument (output off there);
        # what it still prints is skipped by output_off (TSPLink.query_marked).
        driver.program_end = time.monotonic() + block.tail + (
            float(sum(it[-1] for it in items[done:])) if done <= len(items) else 0.0)


def run_loop(driver: Keithley2614B, r: Repeat) -> Iterator[np.ndarray]:
    """Run ``r`` as a Lua loop on the instrument (:func:`labqc.instruments.tsp_loop.plan_repeat`):
    per chunk of repetitions the loop call, then one query whose reply is the error count
    and, if it is 0, the chunk's readings."""
    link, s = driver.tsp, driver.smu
    loop = plan_repeat(r, driver.capabilities, smu=s)
    for message in loop.setup:
        link.send(message)
    per = loop.per_repeat
    origin = driver.t_end + float(loop.instants[0])  # session time of the buffer's first reading
    filled, ts0 = 0, 0.0  # readings in the buffer now; timestamp of its first reading
    buffer_points = int(driver.capabilities.extra.get("buffer_points", 50_000))
    for first, n, fresh in repeat_chunks(r, loop, buffer_points):
        if fresh and first:  # a new buffer fill continues the time line from the last reading
            origin = driver.t_end + float(loop.instants[0] + loop.period - loop.instants[-1])
        filled = 0 if fresh else filled
        a, b = filled + 1, filled + n * per
        # pcall: even a Lua error inside the loop leaves the output off (no host needed).
        link.send(f"if not pcall(_R, {n}, {1 if fresh else 0}) then {s}.abort() end "
                  f"{s}.source.output = {s}.OUTPUT_OFF")
        count, raw = link.query_counted_block(
            f"print(errorqueue.count) if errorqueue.count == 0 then {printbuffer(s, a, b)} end",
            real64_block_size(len(COLUMNS) * (b - a + 1)), timeout=2 * n * loop.period + 5.0)
        if count:
            link.raise_errors(count)
        columns = parse_readings(link, raw, a, b)
        ts0 = columns[0][0] if fresh else ts0
        chunk = readings_chunk(columns, origin + (columns[0] - ts0), np.tile(loop.indices, n), np.tile(loop.kinds, n))
        driver.t_end = max(driver.t_end, float(chunk["t"][-1]))
        filled = b
        yield chunk


__all__ = ["checkpoint", "parse_readings", "readings_chunk", "run_block", "run_loop"]
